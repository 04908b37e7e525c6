/* admin_auth.c — see admin_auth.h. */
#include "admin/admin_auth.h"

#include <string.h>
#include <strings.h>

#include "admin/admin_cache.h"
#include "http/h1.h"

/* Constant time in the token's length: no early exit on the first difference. */
static bool token_equal(const char *token, size_t token_len, const char *p, size_t n)
{
    unsigned char d = n != token_len;
    for (size_t i = 0; i < token_len; i++)
        d |= (unsigned char)(token[i] ^ (i < n ? p[i] : 0));
    return d == 0;
}

bool admin_auth_ok(const char *token, size_t token_len, const struct h1_request *req,
                   struct str query)
{
    if (!token)
        return true;
    int h = h1_find_header(req->headers, req->nheaders, str_cstr("authorization"));
    if (h >= 0) {
        struct str v = req->headers[h].value;
        if (v.len > 7 && strncasecmp(v.ptr, "bearer ", 7) == 0) {
            struct str t = str_trim_ows(str_from(v.ptr + 7, v.len - 7));
            if (token_equal(token, token_len, t.ptr, t.len))
                return true;
        }
    }
    char buf[512];
    size_t n;
    return admin_query_value(query, "token", buf, sizeof(buf), &n) &&
           token_equal(token, token_len, buf, n);
}

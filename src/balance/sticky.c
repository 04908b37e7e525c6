/* sticky.c — sticky-session tokens and Cookie header lookup. See sticky.h for the contracts. */
#include "balance/sticky.h"

#include <stdbool.h>
#include <string.h>

#include "balance/hash.h"

#define STICKY_SEED UINT64_C(0x737469636b79) /* "sticky": changing it logs every client out */

static uint64_t token_hash(struct str id)
{
    return lb_hash64(id.ptr ? id.ptr : "", id.len, STICKY_SEED);
}

void lb_sticky_token(struct str id, char out[LB_STICKY_TOKEN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = token_hash(id);
    for (int i = LB_STICKY_TOKEN_LEN - 1; i >= 0; i--) {
        out[i] = hex[h & 0xf];
        h >>= 4;
    }
    out[LB_STICKY_TOKEN_LEN] = '\0';
}

/* Decodes a token back to its hash; false unless it is exactly 16 lowercase hex digits (the
 * only spelling lb_sticky_token produces, so equal hashes mean equal tokens). */
static bool token_decode(struct str token, uint64_t *h)
{
    if (token.len != LB_STICKY_TOKEN_LEN)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < LB_STICKY_TOKEN_LEN; i++) {
        char c = token.ptr[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *h = v;
    return true;
}

/* Compares hashes rather than formatted tokens: one hash per server, no hex per server. */
int lb_sticky_find(struct lb_server *const *s, uint32_t n, struct str token)
{
    uint64_t want;
    if (!token_decode(token, &want))
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (token_hash(s[i]->id) == want)
            return (int)i;
    return -1;
}

struct str lb_cookie_value(struct str h, struct str name)
{
    if (!h.ptr || name.len == 0)
        return STR_NULL;
    const char *p = h.ptr, *end = h.ptr + h.len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *pair_end = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        if (eq) {
            struct str k = str_trim_ows(str_from(p, (size_t)(eq - p)));
            if (str_eq(k, name)) {
                struct str v = str_trim_ows(str_from(eq + 1, (size_t)(pair_end - eq - 1)));
                if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
                    v = str_from(v.ptr + 1, v.len - 2);
                return v;
            }
        }
        p = semi ? semi + 1 : end;
    }
    return STR_NULL;
}

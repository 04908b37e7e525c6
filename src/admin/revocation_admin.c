/* revocation_admin.c — see revocation_admin.h. */
#include "admin/revocation_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "security/revocation.h"
#include "security/revocation_sync.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The percent-decoded value of `name` in the query, into out (cap); its length or -1. */
static long query_param(struct str q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = q.ptr, *end = q.ptr + q.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            size_t o = 0;
            for (const char *s = p + nl + 1; s < e; s++) {
                int c = (unsigned char)*s;
                if (c == '%' && e - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    c = hexval(s[1]) * 16 + hexval(s[2]);
                    s += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (o + 1 >= cap)
                    return -1;
                out[o++] = (char)c;
            }
            out[o] = '\0';
            return (long)o;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

struct list_state {
    struct abuf *b;
    bool first;
};

static void list_one(void *arg, enum revocation_kind kind, struct str value, int64_t until_s)
{
    struct list_state *ls = arg;
    char v[REVOCATION_VALUE_MAX + 1];
    snprintf(v, sizeof(v), "%.*s", (int)value.len, value.ptr);
    abuf_str(ls->b, ls->first ? "\n  {\"kind\": " : ",\n  {\"kind\": ");
    abuf_json_str(ls->b, kind == REVOKE_JTI ? "jti" : "sub");
    abuf_str(ls->b, ", \"value\": ");
    abuf_json_str(ls->b, v);
    abuf_printf(ls->b, ", \"until\": %lld}", (long long)until_s);
    ls->first = false;
}

int revocation_admin(bool post, struct str query, struct abuf *b)
{
    int64_t now = (int64_t)time(NULL);
    if (!post) {
        struct revocation *r = revocation_default();
        struct list_state ls = {.b = b, .first = true};
        abuf_str(b, "[");
        if (r)
            r->ops->list(r->st, now, list_one, &ls);
        abuf_str(b, ls.first ? "]\n" : "\n]\n");
        return 200;
    }
    char value[REVOCATION_VALUE_MAX + 1], ttl[24];
    enum revocation_kind kind = REVOKE_JTI;
    long n = query_param(query, "jti", value, sizeof(value));
    if (n < 0) {
        kind = REVOKE_SUB;
        n = query_param(query, "sub", value, sizeof(value));
    }
    for (long i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            n = 0;
    if (n <= 0) {
        abuf_str(b, "400 Bad Request: POST /revoke?jti=<id> or ?sub=<subject> [&ttl=<s>]\n");
        return 400;
    }
    long long secs = 86400;
    if (query_param(query, "ttl", ttl, sizeof(ttl)) >= 0) {
        char *end;
        secs = strtoll(ttl, &end, 10);
        if (*end || secs <= 0 || secs > 366LL * 86400) {
            abuf_str(b, "400 Bad Request: ttl is seconds, 1..31622400\n");
            return 400;
        }
    }
    if (revocation_add(kind, str_from(value, (size_t)n), now + secs, now) != 0) {
        abuf_str(b, "503 Service Unavailable: the revocation list is full\n");
        return 503;
    }
    revocation_sync_publish(kind, str_from(value, (size_t)n), now + secs); /* to the others */
    log_info("admin: revoked %s '%s' for %lld s", kind == REVOKE_JTI ? "jti" : "sub", value,
             secs);
    abuf_printf(b, "{\"revoked\": \"%s\", \"until\": %lld}\n", kind == REVOKE_JTI ? "jti" : "sub",
                (long long)(now + secs));
    return 200;
}

/* auth_common.c — see auth_common.h. */
#include "security/auth_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"
#include "security/audit.h"


void auth_audit(const struct exchange *x, uint16_t status, const char *detail)
{
    audit_emit_exchange(x, status == 403 ? "auth_forbidden" : "auth_failure",
                        x->link ? x->link->m->name : NULL, detail);
}

enum pipeline_verdict auth_allow(const struct exchange *x)
{
    if (__builtin_expect(audit_successes(), 0))
        audit_emit_exchange(x, "auth_success", x->link ? x->link->m->name : NULL, NULL);
    return PIPELINE_NEXT;
}

enum pipeline_verdict auth_deny(struct exchange *x, uint16_t status, const char *challenge,
                                const char *detail)
{
    auth_audit(x, status, detail);
    enum pipeline_verdict v = pipeline_reply(x, status, detail);
    if (v != PIPELINE_RESPOND)
        return v;
    if ((challenge && response_add(&x->reply, &x->arena, STR_LIT("WWW-Authenticate"),
                                   str_cstr(challenge)) != 0) ||
        response_add(&x->reply, &x->arena, STR_LIT("Cache-Control"), STR_LIT("no-store")) != 0)
        return PIPELINE_FAIL;
    return PIPELINE_RESPOND;
}

struct str auth_header(const struct exchange *x, struct str name)
{
    int i = h1_find_header(x->req->headers, x->req->nheaders, name);
    return i >= 0 ? x->req->headers[i].value : STR_NULL;
}

struct str auth_query_param(const struct exchange *x, const char *name)
{
    struct str t = x->req->target;
    const char *q = memchr(t.ptr, '?', t.len);
    size_t nl = strlen(name);
    if (!q)
        return STR_NULL;
    const char *end = t.ptr + t.len, *p = q + 1;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=')
            return str_from(p + nl + 1, (size_t)(e - p) - nl - 1);
        p = e + 1;
    }
    return STR_NULL;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int auth_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
    if (hexlen != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexv(hex[2 * i]), lo = hexv(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void auth_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

char *auth_arena_cstr(struct exchange *x, struct str s)
{
    char *p = arena_alloc(&x->arena, s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

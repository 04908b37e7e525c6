/* cache_key.c — see cache_key.h. */
#include "cache/cache_key.h"

#include <ctype.h>
#include <string.h>

#include "balance/hash.h"
#include "balance/sticky.h"
#include "http/h1.h"

struct out {
    char *p;
    size_t len, cap;
    bool ok;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n > o->cap) {
        o->ok = false;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_lower(struct out *o, struct str s)
{
    if (o->len + s.len > o->cap) {
        o->ok = false;
        return;
    }
    for (size_t i = 0; i < s.len; i++)
        o->p[o->len + i] = (char)tolower((unsigned char)s.ptr[i]);
    o->len += s.len;
}

static bool listed(char **names, uint32_t n, struct str name)
{
    for (uint32_t i = 0; i < n; i++)
        if (str_eq(str_cstr(names[i]), name))
            return true;
    return false;
}

/* path, then the query without the ignored parameters (their order kept). */
static void put_path(struct out *o, struct str target, const struct cache_key_conf *kc)
{
    const char *q = memchr(target.ptr, '?', target.len);
    if (!q || !kc || !kc->nignore) {
        put(o, target.ptr, target.len);
        return;
    }
    put(o, target.ptr, (size_t)(q - target.ptr));
    const char *p = q + 1, *end = target.ptr + target.len;
    bool first = true;
    while (p <= end) {
        const char *a = p;
        while (p < end && *p != '&')
            p++;
        struct str param = str_from(a, (size_t)(p - a));
        const char *eq = memchr(param.ptr, '=', param.len);
        struct str name = eq ? str_from(param.ptr, (size_t)(eq - param.ptr)) : param;
        if (param.len && !listed(kc->ignore_params, kc->nignore, name)) {
            put(o, first ? "?" : "&", 1);
            put(o, param.ptr, param.len);
            first = false;
        }
        p++;
    }
}

struct str cache_key_path(const struct h1_request *req)
{
    struct str t = req->target;
    if (!(req->flags & H1F_ABSOLUTE_FORM))
        return t;
    const char *s = memmem(t.ptr, t.len, "://", 3);
    if (!s)
        return t;
    s += 3;
    const char *end = t.ptr + t.len;
    while (s < end && *s != '/' && *s != '?')
        s++;
    return s < end ? str_from(s, (size_t)(end - s)) : STR_LIT("/");
}

struct str cache_key_cookie(const struct h1_request *req, struct str name)
{
    for (uint32_t i = 0; i < req->nheaders; i++)
        if (str_eq_nocase(req->headers[i].name, STR_LIT("cookie"))) {
            struct str v = lb_cookie_value(req->headers[i].value, name);
            if (v.len)
                return v;
        }
    return STR_NULL;
}

int cache_key_build(const struct h1_request *req, bool tls, const struct cache_key_conf *kc,
                    char *buf, size_t cap)
{
    struct out o = {.p = buf, .cap = cap, .ok = true};
    put(&o, tls ? "https://" : "http://", tls ? 8 : 7);
    put_lower(&o, req->host);
    struct str path = cache_key_path(req);
    if (!path.len || path.ptr[0] != '/')
        put(&o, "/", 1);
    put_path(&o, path, kc);
    for (uint32_t i = 0; kc && i < kc->nheaders; i++) {
        int h = h1_find_header(req->headers, req->nheaders, str_cstr(kc->headers[i]));
        put(&o, "\nh:", 3);
        put(&o, kc->headers[i], strlen(kc->headers[i]));
        put(&o, "=", 1);
        if (h >= 0)
            put(&o, req->headers[h].value.ptr, req->headers[h].value.len);
    }
    for (uint32_t i = 0; kc && i < kc->ncookies; i++) {
        struct str v = cache_key_cookie(req, str_cstr(kc->cookies[i]));
        put(&o, "\nc:", 3);
        put(&o, kc->cookies[i], strlen(kc->cookies[i]));
        put(&o, "=", 1);
        put(&o, v.ptr, v.len);
    }
    return o.ok ? (int)o.len : -1;
}

int cache_key_from_url(struct str url, char *buf, size_t cap)
{
    struct out o = {.p = buf, .cap = cap, .ok = true};
    const char *s = memmem(url.ptr, url.len, "://", 3);
    if (!s)
        return -1;
    const char *end = url.ptr + url.len, *h = s + 3, *p = h;
    while (p < end && *p != '/' && *p != '?')
        p++;
    put_lower(&o, str_from(url.ptr, (size_t)(p - url.ptr)));
    if (p == end || *p != '/')
        put(&o, "/", 1);
    put(&o, p, (size_t)(end - p));
    return o.ok ? (int)o.len : -1;
}

uint64_t cache_key_hash(struct str key)
{
    return lb_hash64(key.ptr, key.len, 0xcac4e);
}

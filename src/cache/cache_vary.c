/* cache_vary.c — see cache_vary.h. */
#include "cache/cache_vary.h"

#include <ctype.h>
#include <string.h>

#define VARY_KEY_MAX 4096

int cache_vary_names(const struct str *values, size_t nvalues, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t v = 0; v < nvalues; v++) {
        const char *p = values[v].ptr, *end = p + values[v].len;
        while (p < end) {
            const char *a = p;
            while (p < end && *p != ',')
                p++;
            struct str name = str_trim_ows(str_from(a, (size_t)(p - a)));
            if (p < end)
                p++;
            if (!name.len)
                continue;
            if (name.len == 1 && name.ptr[0] == '*')
                return -2;
            if (len + name.len + 1 > cap)
                return -1;
            if (len)
                out[len++] = ',';
            for (size_t i = 0; i < name.len; i++)
                out[len++] = (char)tolower((unsigned char)name.ptr[i]);
        }
    }
    return (int)len;
}

/* Appends the normalised value of field `name` (all its lines). */
static bool put_value(const struct h1_request *req, struct str name, char *out, size_t cap,
                      size_t *len)
{
    bool lower = name.len >= 6 && strncasecmp(name.ptr, "accept", 6) == 0;
    bool any = false, first = true;
    for (uint32_t i = 0; i < req->nheaders; i++) {
        if (!str_eq_nocase(req->headers[i].name, name))
            continue;
        if (!any) {
            if (*len + 1 > cap)
                return false;
            out[(*len)++] = ':';
            any = true;
        }
        const char *p = req->headers[i].value.ptr, *end = p + req->headers[i].value.len;
        while (p < end) {
            const char *a = p;
            while (p < end && *p != ',')
                p++;
            struct str el = str_trim_ows(str_from(a, (size_t)(p - a)));
            if (p < end)
                p++;
            if (!el.len)
                continue;
            if (*len + el.len + 1 > cap)
                return false;
            if (!first)
                out[(*len)++] = ',';
            first = false;
            for (size_t k = 0; k < el.len; k++)
                out[(*len)++] = lower ? (char)tolower((unsigned char)el.ptr[k]) : el.ptr[k];
        }
    }
    if (!any) {
        if (*len + 1 > cap)
            return false;
        out[(*len)++] = '!';
    }
    return true;
}

int cache_vary_key(struct str names, const struct h1_request *req, char *out, size_t cap)
{
    size_t len = 0;
    const char *p = names.ptr, *end = names.ptr + names.len;
    while (p < end) {
        const char *a = p;
        while (p < end && *p != ',')
            p++;
        struct str name = str_from(a, (size_t)(p - a));
        if (p < end)
            p++;
        if (len + name.len > cap)
            return -1;
        memcpy(out + len, name.ptr, name.len);
        len += name.len;
        if (!put_value(req, name, out, cap, &len) || len + 1 > cap)
            return -1;
        out[len++] = '\n';
    }
    return (int)len;
}

bool cache_vary_match(struct str names, struct str key, const struct h1_request *req)
{
    if (!names.len)
        return true;
    char buf[VARY_KEY_MAX];
    int n = cache_vary_key(names, req, buf, sizeof(buf));
    return n >= 0 && str_eq(str_from(buf, (size_t)n), key);
}

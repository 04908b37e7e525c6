/* cache_refresh.c — see cache_refresh.h. */
#include "cache/cache_refresh.h"

#include <stdio.h>
#include <stdlib.h>

#include "pipeline/arena.h"

/* Request fields a refresh does not copy: framing, hop-by-hop, and those that would make the
 * answer conditional or partial (the refresh adds the stored validators itself). */
static bool skipped(struct str name)
{
    static const struct str skip[] = {
        STR_LIT("Host"), STR_LIT("Connection"), STR_LIT("Keep-Alive"), STR_LIT("TE"),
        STR_LIT("Transfer-Encoding"), STR_LIT("Content-Length"), STR_LIT("Upgrade"),
        STR_LIT("Expect"), STR_LIT("Range"), STR_LIT("If-Range"), STR_LIT("If-Match"),
        STR_LIT("If-None-Match"), STR_LIT("If-Modified-Since"), STR_LIT("If-Unmodified-Since"),
        STR_LIT("Cache-Control"), STR_LIT("Pragma"), STR_LIT("Proxy-Connection"),
        STR_LIT(REFRESH_HEADER),
    };
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (str_eq_nocase(name, skip[i]))
            return true;
    return false;
}

char *cache_refresh_request(struct str host, struct str path, const struct h1_request *req,
                             size_t *len)
{
    size_t cap = host.len + path.len + 128;
    for (uint32_t i = 0; req && i < req->nheaders; i++)
        cap += req->headers[i].name.len + req->headers[i].value.len + 4;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t n = (size_t)snprintf(b, cap, "GET %.*s HTTP/1.1\r\nHost: %.*s\r\n", (int)path.len,
                                path.ptr, (int)host.len, host.ptr);
    for (uint32_t i = 0; req && i < req->nheaders; i++) {
        const struct h1_header *h = &req->headers[i];
        if (skipped(h->name))
            continue;
        n += (size_t)snprintf(b + n, cap - n, "%.*s: %.*s\r\n", (int)h->name.len, h->name.ptr,
                              (int)h->value.len, h->value.ptr);
    }
    n += (size_t)snprintf(b + n, cap - n, REFRESH_HEADER ": 1\r\nConnection: close\r\n\r\n");
    *len = n;
    return b;
}

struct str cache_refresh_validators(struct arena *a, const struct cache_obj *o)
{
    size_t cap = o->etag.len + o->last_modified.len + 64;
    char *add = arena_alloc(a, cap);
    if (!add)
        return STR_NULL;
    size_t n = 0;
    if (o->etag.ptr)
        n += (size_t)snprintf(add + n, cap - n, "If-None-Match: %.*s\r\n", (int)o->etag.len,
                              o->etag.ptr);
    if (o->last_modified.ptr)
        n += (size_t)snprintf(add + n, cap - n, "If-Modified-Since: %.*s\r\n",
                              (int)o->last_modified.len, o->last_modified.ptr);
    return str_from(add, n);
}

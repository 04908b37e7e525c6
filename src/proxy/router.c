/* router.c — see router.h. */
#include "proxy/router.h"

#include <string.h>
#include <strings.h>

/* Host specificity: 0 no match; 1 any host; 2 + suffix length for a wildcard; huge for exact. */
static size_t host_rank(const char *pattern, struct str host)
{
    if (!pattern)
        return 1;
    size_t plen = strlen(pattern);
    if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        const char *suffix = pattern + 1; /* ".example.com" */
        size_t slen = plen - 1;
        if (host.len > slen && strncasecmp(host.ptr + host.len - slen, suffix, slen) == 0)
            return 2 + slen;
        return 0;
    }
    return host.len == plen && strncasecmp(host.ptr, pattern, plen) == 0 ? (size_t)1 << 30 : 0;
}

static bool method_ok(const struct cfg_route *r, struct str method)
{
    if (!r->nmethods)
        return true;
    for (uint32_t i = 0; i < r->nmethods; i++)
        if (strlen(r->methods[i]) == method.len && memcmp(r->methods[i], method.ptr, method.len) == 0)
            return true;
    return false;
}

const struct cfg_route *router_match(const struct config *cfg, struct str host, struct str path,
                                     struct str method)
{
    const char *q = path.len ? memchr(path.ptr, '?', path.len) : NULL;
    if (q)
        path.len = (size_t)(q - path.ptr);
    const struct cfg_route *best = NULL;
    size_t best_host = 0, best_path = 0;
    bool best_methods = false;
    for (uint32_t i = 0; i < cfg->nroutes; i++) {
        const struct cfg_route *r = &cfg->routes[i];
        size_t hr = host_rank(r->host, host);
        if (!hr)
            continue;
        size_t plen = strlen(r->path);
        if (plen > path.len || memcmp(r->path, path.ptr, plen) != 0)
            continue;
        if (!method_ok(r, method))
            continue;
        bool has_methods = r->nmethods > 0;
        if (!best || hr > best_host || (hr == best_host && plen > best_path) ||
            (hr == best_host && plen == best_path && has_methods && !best_methods)) {
            best = r;
            best_host = hr;
            best_path = plen;
            best_methods = has_methods;
        }
    }
    return best;
}

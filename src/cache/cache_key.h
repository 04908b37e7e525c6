/* cache_key.h — the primary cache key of a request (RFC 9111 §2): by default the effective
 * URI, "<scheme>://<host><path>[?<query>]" with the scheme and host lowercased; the route may
 * drop query parameters by name and add request headers or cookies ("\nh:<name>=<value>",
 * "\nc:<name>=<value>"). GET and HEAD share keys (HEAD is answered from a stored GET), so the
 * method is not part of it. The first line is always the URL: purges match on it. Pure; any
 * thread. */
#ifndef WEIR_CACHE_KEY_H
#define WEIR_CACHE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "http/h1_types.h"

struct cache_key_conf {
    char **ignore_params;      /* query parameter names left out of the key */
    uint32_t nignore;
    char **headers;            /* request headers added to the key */
    uint32_t nheaders;
    char **cookies;            /* cookies added to the key */
    uint32_t ncookies;
};

/* Writes the key of req into out (at most cap bytes). Returns its length, or -1 when it does
 * not fit. */
int cache_key_build(const struct h1_request *req, bool tls, const struct cache_key_conf *kc,
                    char *out, size_t cap);

/* The key's URL part written for an absolute URL given to the admin API ("http://Host/p?q"):
 * scheme and host lowercased, so that it compares with keys. Returns the length or -1. */
int cache_key_from_url(struct str url, char *out, size_t cap);

/* The request's path (and query) from its target, origin-form or absolute-form. */
struct str cache_key_path(const struct h1_request *req);

/* 64-bit hash of a key's bytes. */
uint64_t cache_key_hash(struct str key);

/* The value of cookie `name` in the request's Cookie fields, or STR_NULL. */
struct str cache_key_cookie(const struct h1_request *req, struct str name);

#endif

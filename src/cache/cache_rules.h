/* cache_rules.h — may a response be stored (RFC 9111 §3, §3.5), and may a stored one be used
 * for a request (§4, §4.2.4, RFC 5861)? Pure decisions on parsed facts; any thread. */
#ifndef WEIR_CACHE_RULES_H
#define WEIR_CACHE_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_control.h"

struct cache_store_facts {
    uint16_t status;
    const struct cache_control *req, *resp;
    bool authorization;     /* the request carried Authorization */
    bool has_expires;
    bool has_validator;     /* ETag or Last-Modified */
    bool vary_star;
    int64_t default_ttl;    /* the route's, 0 when none */
};

enum cache_store_verdict {
    CACHE_STORE_OK = 0,
    CACHE_STORE_STATUS,     /* 206, 304, 1xx, or a status not understood */
    CACHE_STORE_NO_STORE,   /* no-store in the request or the response */
    CACHE_STORE_PRIVATE,
    CACHE_STORE_AUTH,       /* Authorization without public / s-maxage / must-revalidate */
    CACHE_STORE_VARY_STAR,
    CACHE_STORE_NO_FRESHNESS, /* no explicit freshness, no validator, no default TTL */
};

/* A status whose meaning weir understands (RFC 9110 §15), for must-understand. */
bool cache_rules_status_understood(uint16_t status);
enum cache_store_verdict cache_rules_storable(const struct cache_store_facts *f);
const char *cache_rules_store_reason(enum cache_store_verdict v);

/* A shared cache serves a request with Authorization from a stored response only when that
 * response said so (§3.5). */
bool cache_rules_auth_ok(const struct cache_control *resp);

enum cache_use {
    CACHE_USE_FRESH,        /* serve it */
    CACHE_USE_STALE,        /* stale, but the request's max-stale accepts it */
    CACHE_USE_SWR,          /* stale within stale-while-revalidate: serve and refresh */
    CACHE_USE_REVALIDATE,   /* ask the origin first */
};

/* req_no_cache: the request's no-cache (or Pragma: no-cache without Cache-Control). */
enum cache_use cache_rules_use(const struct cache_control *req, bool req_no_cache,
                               const struct cache_control *resp, int64_t age, int64_t lifetime);

/* May the stale response be served because the origin failed (stale-if-error)? */
bool cache_rules_stale_on_error(const struct cache_control *req, const struct cache_control *resp,
                                int64_t age, int64_t lifetime);

#endif

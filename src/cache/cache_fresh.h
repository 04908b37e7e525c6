/* cache_fresh.h — freshness arithmetic (RFC 9111 §4.2): how long a stored response is fresh
 * and how old it is. Pure functions on seconds since the epoch; any thread.
 *
 * - lifetime (§4.2.1): s-maxage, else max-age, else Expires − Date, else a heuristic for
 *   heuristically cacheable statuses with Last-Modified (10 % of Date − Last-Modified, §4.2.2,
 *   at most `heuristic_max`), else the route's default TTL, else 0. A malformed max-age or
 *   s-maxage, or an Expires that does not parse (e.g. "0"), means already expired.
 * - age (§4.2.3): apparent_age = max(0, response_time − date); corrected_age = Age +
 *   (response_time − request_time); initial = max(apparent, corrected); current = initial +
 *   (now − response_time). */
#ifndef WEIR_CACHE_FRESH_H
#define WEIR_CACHE_FRESH_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_control.h"

struct cache_times {
    int64_t request_time;   /* when the request went upstream */
    int64_t response_time;  /* when its response head arrived */
    int64_t date;           /* Date, or response_time when absent or invalid */
    int64_t age_value;      /* Age, 0 when absent or invalid */
    bool has_expires;
    int64_t expires;        /* Expires; an invalid one is 0 (in the past) */
    int64_t last_modified;  /* CACHE_ABSENT when absent or invalid */
};

/* RFC 9110 §15.1: statuses a cache may give a heuristic lifetime. */
bool cache_fresh_heuristic_status(uint16_t status);

/* Freshness lifetime in seconds (see above). */
int64_t cache_fresh_lifetime(const struct cache_control *cc, const struct cache_times *t,
                             uint16_t status, int64_t default_ttl, int64_t heuristic_max);

/* Current age at `now` in seconds (never negative). */
int64_t cache_fresh_age(const struct cache_times *t, int64_t now);

/* An Age value: digits, saturating at 2^31 (of a list, the first member); false when
 * malformed (the field is then ignored). */
bool cache_fresh_parse_age(struct str v, int64_t *out);

#endif

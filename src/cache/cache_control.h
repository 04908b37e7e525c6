/* cache_control.h — Cache-Control directives (RFC 9111 §5.2) of a request or a response, as a
 * pure parser: header values in, flags and numbers out. No I/O, no allocation, any thread.
 *
 * Rules the parser applies (each has a unit test):
 * - directive names are case-insensitive; unknown directives are ignored (§5.2.3);
 * - an argument may be a token or a quoted-string (recipients accept both, §5.2);
 * - delta-seconds larger than 2^31 are 2^31 (§1.2.2);
 * - a duplicate directive keeps its first value (§4.2.1);
 * - max-age or s-maxage with a malformed value makes the response stale (`invalid`, §4.2.1:
 *   "caches are encouraged to consider responses that have invalid freshness information
 *   to be stale");
 * - `no-cache` and `private` with a field-name list (the qualified forms) are kept apart from
 *   their unqualified forms: a shared cache may store such a response without those fields.
 * Several Cache-Control field lines are one list: feed each line to cache_control_parse. */
#ifndef WEIR_CACHE_CONTROL_H
#define WEIR_CACHE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

#define CACHE_DELTA_MAX 2147483648LL /* 2^31 */
#define CACHE_ABSENT (-1LL)

enum cache_cc_flag {
    CC_NO_STORE = 1u << 0,
    CC_NO_CACHE = 1u << 1,          /* unqualified: revalidate every use */
    CC_PRIVATE = 1u << 2,           /* unqualified: a shared cache must not store */
    CC_PUBLIC = 1u << 3,
    CC_MUST_REVALIDATE = 1u << 4,
    CC_PROXY_REVALIDATE = 1u << 5,
    CC_NO_TRANSFORM = 1u << 6,
    CC_ONLY_IF_CACHED = 1u << 7,
    CC_MUST_UNDERSTAND = 1u << 8,
    CC_IMMUTABLE = 1u << 9,
    CC_INVALID = 1u << 10,          /* a malformed max-age / s-maxage: treat as stale */
    CC_MAX_STALE_ANY = 1u << 11,    /* max-stale without a value: any staleness */
};

struct cache_control {
    uint32_t flags;
    int64_t max_age, s_maxage;      /* seconds, or CACHE_ABSENT */
    int64_t max_stale, min_fresh;   /* request directives */
    int64_t stale_while_revalidate, stale_if_error; /* RFC 5861 */
    struct str no_cache_fields;     /* no-cache="a, b" (unquoted list inside) */
    struct str private_fields;      /* private="a, b" */
};

/* All absent. */
void cache_control_init(struct cache_control *cc);
/* Adds the directives of one field line. */
void cache_control_parse(struct cache_control *cc, struct str value);

/* Is `name` one of the fields of a qualified list ("a, b")? Case-insensitive. */
bool cache_control_list_has(struct str list, struct str name);

#endif

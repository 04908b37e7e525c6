/* ratelimit.h — per-key rate limiting with GCRA (the generic cell rate algorithm).
 *
 * One limiter per route, shared by every worker: a hash table of keys (client IP, a header's
 * value, or the route itself) split into lock stripes, each entry holding only its theoretical
 * arrival time (TAT). Memory is bounded: at most max_keys entries; expired entries (TAT in the
 * past: they carry no state a fresh entry would not) are reclaimed first, then the least
 * recently seen. A flood of distinct keys costs at most max_keys entries.
 * Thread-safe. */
#ifndef WEIR_RESILIENCE_RATELIMIT_H
#define WEIR_RESILIENCE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_types.h"
#include "core/str.h"

struct ratelimit_result {
    bool allowed;
    uint32_t limit;          /* requests per window (rate + burst) */
    uint32_t remaining;      /* requests still allowed right now */
    uint32_t reset_s;        /* seconds until the quota is full again (ceil) */
    uint32_t retry_after_s;  /* when refused: seconds until one request is allowed (ceil, >=1) */
    uint32_t window_s;       /* the policy window in seconds (ceil of period) */
};

struct ratelimiter;

struct ratelimiter *ratelimit_new(const struct cfg_ratelimit *cfg);
void ratelimit_free(struct ratelimiter *rl);

/* Counts one request for `key` at now_us and fills *out. */
void ratelimit_check(struct ratelimiter *rl, struct str key, uint64_t now_us,
                     struct ratelimit_result *out);

/* The result fields for a decision taken elsewhere (the Redis script, state/redis_script.c,
 * runs the same GCRA): allowed or not, and the key's TAT minus now, in us (>= 0). */
void ratelimit_result_of(const struct ratelimiter *rl, bool allowed, uint64_t ahead_us,
                         struct ratelimit_result *out);
/* The emission interval T and the tolerance tau, in us. */
void ratelimit_params(const struct ratelimiter *rl, uint64_t *t_us, uint64_t *tau_us);

/* Entries currently held (for tests and metrics). */
size_t ratelimit_size(struct ratelimiter *rl);

/* Writes the IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers,
 * structured-field form), each ending in CRLF, e.g.
 *   RateLimit-Policy: "default";q=10;w=1\r\n
 *   RateLimit: "default";r=0;t=1\r\n
 * Returns the bytes written (0 when it does not fit). */
size_t ratelimit_format_headers(const struct ratelimit_result *r, char *out, size_t cap);

#endif

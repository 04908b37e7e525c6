/* shared_state.h — resilience state shared by every worker, per upstream group and per route.
 *
 * Like server health (health.h), these live in registries keyed by name, so a reload keeps a
 * group's retry budget, breaker and concurrency count, and a route's rate-limit counters and
 * stored idempotent responses. When a reload changes a breaker's, limiter's or rate limit's
 * settings, a new one is made; the old one stays allocated until exit, because a request of
 * the previous generation may still hold it (bounded by the number of such reloads).
 *
 * get/put take the registry mutex: call them when a config generation is built or freed,
 * never per request. The objects themselves are thread-safe. */
#ifndef WEIR_RESILIENCE_SHARED_STATE_H
#define WEIR_RESILIENCE_SHARED_STATE_H

#include <stdatomic.h>

#include "core/config_types.h"
#include "resilience/breaker.h"
#include "resilience/health.h"
#include "resilience/limiter.h"
#include "resilience/ratelimit.h"
#include "resilience/retry.h"
#include "state/store.h"

struct group_state {
    char *name;
    uint32_t refs;
    struct retry_budget budget;
    struct breaker *breaker;        /* NULL when the group has none */
    struct cfg_breaker breaker_cfg;
    struct limiter *limiter;        /* NULL when concurrency.max == 0 and not adaptive */
    struct cfg_concurrency limiter_cfg;
    atomic_uint queued;             /* requests waiting for a concurrency slot, all workers */
    atomic_uint_fast64_t limit_rejected, queue_timeouts, breaker_rejected;
    struct group_shard *m;          /* [metrics_workers()] per-worker figures */
};

struct route_state {
    char *key;                      /* host|path|methods */
    uint32_t refs;
    struct ratelimiter *ratelimit;  /* NULL when off */
    struct cfg_ratelimit ratelimit_cfg;
    const struct store_ops *store_ops;
    void *store;                    /* idempotency records; NULL when off */
    atomic_uint_fast64_t rate_limited;
    char *label;                    /* for metrics: "host/path" ("*" for any host) + " [METHODS]" */
    struct route_shard *m;          /* [metrics_workers()] per-worker figures */
};

/* NULL on out of memory. A reference is taken. */
struct group_state *group_state_get(const struct cfg_upstream *g);
void group_state_put(struct group_state *gs);
/* Another reference to gs (which the caller holds one of). */
void group_state_ref(struct group_state *gs);

/* The per-server breaker of `st` for group g (made or refreshed); NULL when not configured. */
struct breaker *server_breaker_get(struct server_state *st, const struct cfg_upstream *g);

struct route_state *route_state_get(const struct cfg_route *r);
void route_state_put(struct route_state *rs);
/* Another reference to rs (which the caller holds one of). */
void route_state_ref(struct route_state *rs);

/* Call fn for every group / route state under the registry lock (admin thread; keep fn short:
 * it blocks reloads meanwhile, never traffic). */
void group_state_foreach(void (*fn)(struct group_state *gs, void *arg), void *arg);
void route_state_foreach(void (*fn)(struct route_state *rs, void *arg), void *arg);

/* Frees every retired object (at exit, after all workers stopped). */
void shared_state_shutdown(void);

#endif

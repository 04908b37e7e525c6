/* concurrency.c — see concurrency.h. The limiter is lock-free (resilience/limiter.c); the queue
 * counts (gs->queued, the waitq's) are atomics; each worker's list of waiters is its own. */
#include "modules/concurrency/concurrency.h"

#include <stdatomic.h>

#include "core/config_types.h"
#include "metrics/metrics.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "pipeline/waitq.h"
#include "resilience/limiter.h"
#include "resilience/shared_state.h"

struct conc_shared {
    struct group_state *gs;
    struct waitq *q;
};

struct conc_ctx {
    struct waitq_entry wait;
    bool limited;              /* holds a slot */
    bool queued;               /* counted in gs->queued and in the waitq */
    uint64_t deadline_ms;
};

static int shared_init(void *obj, const void *key)
{
    struct conc_shared *s = obj;
    s->q = waitq_new(metrics_workers());
    if (!s->q)
        return -1;
    s->gs = (struct group_state *)key;
    group_state_ref(s->gs); /* the caller's reference is its own */
    return 0;
}

static void shared_fini(void *obj)
{
    struct conc_shared *s = obj;
    waitq_unref(s->q);
    group_state_put(s->gs);
}

static const struct pipeline_shared_type conc_type = {
    .name = "concurrency", .size = sizeof(struct conc_shared),
    .init = shared_init, .fini = shared_fini};

static bool conc_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)cfg;
    if (!route->upstream)
        return false; /* answered by a terminal module: no group to protect */
    const struct cfg_concurrency *cc = &route->upstream->concurrency;
    return cc->max || cc->adaptive;
}

static void *conc_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)conf;
    struct group_state *gs = group_state_get(route->upstream);
    if (!gs)
        return NULL;
    if (!gs->limiter) {
        group_state_put(gs);
        return NULL;
    }
    struct conc_shared *s = pipeline_shared_get(&conc_type, gs);
    group_state_put(gs);
    return s;
}

static void conc_shared_put(void *shared)
{
    pipeline_shared_put(shared);
}

static void dequeue(struct conc_shared *s, struct conc_ctx *c)
{
    if (!c->queued)
        return;
    waitq_remove(&c->wait);
    atomic_fetch_sub(&s->gs->queued, 1);
    c->queued = false;
}

static enum pipeline_verdict conc_request(struct exchange *x, void *ctx)
{
    struct conc_ctx *c = ctx;
    struct conc_shared *s = x->link->shared;
    struct group_state *gs = s->gs;
    uint64_t now = x->worker->loop->now_ms;
    if (c->limited)
        return PIPELINE_NEXT;
    if (limiter_try_acquire(gs->limiter)) {
        dequeue(s, c);
        c->limited = true;
        return PIPELINE_NEXT;
    }
    if (!c->queued) {
        const struct cfg_concurrency *cc = &x->route->upstream->concurrency;
        if (atomic_fetch_add(&gs->queued, 1) >= cc->queue) {
            atomic_fetch_sub(&gs->queued, 1);
            atomic_fetch_add_explicit(&gs->limit_rejected, 1, memory_order_relaxed);
            return pipeline_reply(x, 503, "the upstream group is at its concurrency limit");
        }
        c->queued = true;
        c->deadline_ms = now + cc->queue_timeout_ms;
        waitq_add(s->q, &c->wait, x);
        mc_add(&gs->m[x->worker->id].limit_queued, 1);
        /* Counted as a waiter before this second try: a release that missed us sees us. */
        if (limiter_try_acquire(gs->limiter)) {
            dequeue(s, c);
            c->limited = true;
            return PIPELINE_NEXT;
        }
        return pipeline_wait_until(x, c->deadline_ms);
    }
    if (now >= c->deadline_ms) {
        dequeue(s, c);
        atomic_fetch_add_explicit(&gs->queue_timeouts, 1, memory_order_relaxed);
        return pipeline_reply(x, 503,
                              "no concurrency slot of the upstream group became free in time");
    }
    return pipeline_wait_until(x, c->deadline_ms); /* woken, but the slot went elsewhere */
}

static void conc_end(struct exchange *x, void *ctx)
{
    struct conc_ctx *c = ctx;
    struct conc_shared *s = x->link->shared;
    dequeue(s, c);
    if (!c->limited)
        return;
    uint64_t now = ev_clock_us();
    limiter_release(s->gs->limiter, now - x->start_us, x->status == 503 || x->status == 504, now);
    c->limited = false;
    waitq_wake_one(s->q, x->worker);
}

const struct pipeline_module concurrency_module = {
    .name = "concurrency",
    .phase = PIPELINE_PHASE_LIMIT,
    .ctx_size = sizeof(struct conc_ctx),
    .enabled = conc_enabled,
    .shared_get = conc_shared_get,
    .shared_put = conc_shared_put,
    .on_request = conc_request,
    .on_end = conc_end,
};

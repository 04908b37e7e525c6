/* limiter.c — see limiter.h.
 *
 * Shared state: `inflight` and `limit` are atomics, so limiter_try_acquire is lock-free (one
 * CAS loop) and a fixed limiter never locks. The adaptive estimate lives under `lock`, taken
 * once per release for a few dozen instructions (plus a sqrt once per interval).
 *
 * The adaptive algorithm (a gradient limiter, after Netflix's concurrency-limits):
 * - Samples are grouped into intervals of at least 100 ms and 10 samples. The interval's mean
 *   RTT is the short-term RTT; averaging over the interval is what smooths per-sample jitter.
 * - The no-load RTT is the lowest interval mean seen (means rather than single samples, so a
 *   lucky fast response does not make every ordinary one look like queueing).
 * - At the end of each interval: gradient = clamp(no_load / rtt, 0.5, 1), target = limit *
 *   gradient + sqrt(limit), limit = 0.8 limit + 0.2 target, bounded to [min_limit, max_limit].
 *   At equilibrium the backend holds about sqrt(limit) requests queued, which is the probe
 *   that lets the limit find more capacity when it appears.
 * - While the load does not reach half the limit (app-limited) the limit may fall but not
 *   grow, or an idle period would ratchet it to max_limit.
 * - A minimum only ever falls, yet under sustained load every request queues a little, so the
 *   true no-load RTT is never observed again and a backend that got slower would never be
 *   believed. Every PROBE_EVERY intervals under load the limiter therefore probes: it halves
 *   the limit, waits two RTTs for the queue to drain (those samples are discarded), measures
 *   one interval, takes that mean as the new no-load RTT (up or down), and restores the limit.
 *   Cost: about 1 % of the time at half the limit.
 * - A dropped sample (timeout, 503) multiplies the limit by 0.9, at most once per RTT — one
 *   overload episode makes many requests fail at once, and it should count once (TCP's rule
 *   of one window reduction per round trip). Its RTT is not a latency sample. */
#include "resilience/limiter.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define INTERVAL_US 100000u
#define MIN_SAMPLES 10u
#define SMOOTHING 0.2
#define MIN_GRADIENT 0.5
#define BACKOFF 0.9
#define PROBE_EVERY 100u
#define MAX_DRAIN_US 1000000u
#define DEFAULT_INITIAL 20u

enum phase { PHASE_NORMAL = 0, PHASE_DRAIN, PHASE_PROBE };

struct limiter {
    _Atomic uint32_t inflight;
    _Atomic uint32_t limit; /* what try_acquire enforces */
    bool adaptive;
    uint32_t min_limit, max_limit;

    /* adaptive state, under lock */
    pthread_mutex_t lock;
    double est;        /* the limit before rounding */
    double no_load_us; /* 0 until the first interval ends */
    double rtt_us;     /* mean of the last normal interval */
    uint64_t start_us; /* of the current interval or phase */
    bool started;
    uint64_t sum_us;
    uint32_t nsamples, max_inflight;
    uint32_t until_probe; /* intervals */
    enum phase phase;
    double saved_est;  /* the limit to restore after a probe */
    uint64_t drain_us; /* how long the drain phase lasts */
    uint64_t last_backoff_us;
    bool backed_off;
};

static void publish(struct limiter *l)
{
    if (l->est < l->min_limit)
        l->est = l->min_limit;
    if (l->est > l->max_limit)
        l->est = l->max_limit;
    atomic_store_explicit(&l->limit, (uint32_t)l->est, memory_order_relaxed);
}

struct limiter *limiter_new(const struct cfg_concurrency *cfg)
{
    struct limiter *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        return NULL;
    }
    atomic_init(&l->inflight, 0);
    l->adaptive = cfg->adaptive;
    if (!l->adaptive) {
        /* max 0 means no limit: the limiter then only counts. */
        atomic_init(&l->limit, cfg->max ? cfg->max : UINT32_MAX);
        return l;
    }
    l->min_limit = cfg->min_limit ? cfg->min_limit : 1;
    l->max_limit = cfg->max_limit >= l->min_limit ? cfg->max_limit : l->min_limit;
    l->est = cfg->max ? cfg->max : DEFAULT_INITIAL;
    l->until_probe = PROBE_EVERY;
    atomic_init(&l->limit, 0);
    publish(l);
    return l;
}

void limiter_free(struct limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
}

bool limiter_try_acquire(struct limiter *l)
{
    uint32_t cur = atomic_load_explicit(&l->inflight, memory_order_relaxed);
    do {
        if (cur >= atomic_load_explicit(&l->limit, memory_order_relaxed))
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&l->inflight, &cur, cur + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void interval_reset(struct limiter *l, uint64_t now_us)
{
    l->start_us = now_us;
    l->sum_us = 0;
    l->nsamples = 0;
    l->max_inflight = 0;
}

static bool interval_done(const struct limiter *l, uint64_t now_us)
{
    return l->nsamples >= MIN_SAMPLES && now_us - l->start_us >= INTERVAL_US;
}

/* The end of a normal interval: the gradient step, then maybe the start of a probe. */
static void update(struct limiter *l, uint64_t now_us)
{
    double rtt = (double)l->sum_us / l->nsamples;
    l->rtt_us = rtt;
    if (l->no_load_us == 0 || rtt < l->no_load_us)
        l->no_load_us = rtt;
    bool app_limited = (double)l->max_inflight * 2 < l->est;

    double gradient = l->no_load_us / rtt;
    if (gradient < MIN_GRADIENT)
        gradient = MIN_GRADIENT;
    if (gradient > 1.0)
        gradient = 1.0;
    double target = l->est * gradient + sqrt(l->est);
    if (app_limited && target > l->est)
        target = l->est;
    l->est = (1 - SMOOTHING) * l->est + SMOOTHING * target;
    publish(l);
    interval_reset(l, now_us);

    if (--l->until_probe > 0)
        return;
    l->until_probe = PROBE_EVERY;
    if (app_limited)
        return; /* the RTTs already are no-load ones */
    l->saved_est = l->est;
    l->est /= 2;
    publish(l);
    l->phase = PHASE_DRAIN;
    l->drain_us = (uint64_t)(2 * rtt);
    if (l->drain_us > MAX_DRAIN_US)
        l->drain_us = MAX_DRAIN_US;
}

static void backoff(struct limiter *l, uint64_t now_us)
{
    uint64_t gap = l->rtt_us > 1000 ? (uint64_t)l->rtt_us : 1000;
    if (l->backed_off && now_us >= l->last_backoff_us && now_us - l->last_backoff_us < gap)
        return;
    l->backed_off = true;
    l->last_backoff_us = now_us;
    l->est *= BACKOFF;
    if (l->phase != PHASE_NORMAL)
        l->saved_est *= BACKOFF;
    publish(l);
}

static void sample(struct limiter *l, uint64_t rtt_us, uint32_t inflight, uint64_t now_us)
{
    if (!l->started) {
        l->started = true;
        interval_reset(l, now_us);
    }
    if (now_us < l->start_us)
        now_us = l->start_us; /* a worker's cached clock may lag another's */
    if (l->phase == PHASE_DRAIN) {
        if (now_us - l->start_us < l->drain_us)
            return; /* still answering requests admitted under the full limit */
        l->phase = PHASE_PROBE;
        interval_reset(l, now_us);
    }
    l->sum_us += rtt_us ? rtt_us : 1;
    l->nsamples++;
    if (inflight > l->max_inflight)
        l->max_inflight = inflight;
    if (!interval_done(l, now_us))
        return;
    if (l->phase == PHASE_NORMAL) {
        update(l, now_us);
        return;
    }
    /* the end of a probe: a fresh no-load RTT, and the limit back where it was */
    l->no_load_us = (double)l->sum_us / l->nsamples;
    l->est = l->saved_est;
    publish(l);
    l->phase = PHASE_NORMAL;
    interval_reset(l, now_us);
}

void limiter_release(struct limiter *l, uint64_t rtt_us, bool dropped, uint64_t now_us)
{
    uint32_t was = atomic_fetch_sub_explicit(&l->inflight, 1, memory_order_relaxed);
    assert(was > 0 && "limiter_release without a matching acquire");
    if (!l->adaptive)
        return;
    pthread_mutex_lock(&l->lock);
    if (dropped)
        backoff(l, now_us);
    else
        sample(l, rtt_us, was, now_us);
    pthread_mutex_unlock(&l->lock);
}

uint32_t limiter_limit(struct limiter *l)
{
    return atomic_load_explicit(&l->limit, memory_order_relaxed);
}

uint32_t limiter_inflight(struct limiter *l)
{
    return atomic_load_explicit(&l->inflight, memory_order_relaxed);
}

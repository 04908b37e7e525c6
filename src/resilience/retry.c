/* retry.c — see retry.h.
 *
 * The budget: one bucket per second, RETRY_BUDGET_BUCKETS of them in a ring indexed by
 * second % RETRY_BUDGET_BUCKETS. bucket_sec says which second a bucket currently counts; a
 * bucket is valid for second s only while bucket_sec == s, so stale buckets are simply skipped
 * by the sum and no timer ever clears them. The first thread to count into a bucket in a new
 * second claims it with a CAS on bucket_sec and zeroes its counters.
 *
 * Shared state and what is approximate, by design (no lock on the request path):
 *   - a count that lands between another thread's claiming CAS and its zeroing is lost;
 *   - retry_budget_try checks the sum and then counts, so threads racing on the last unit of
 *     budget may each take it (overshoot bounded by the number of concurrent callers);
 *   - a thread whose clock lags by more than the ring (64 s) would count into nothing.
 * The budget is a statistical guard against retry storms; these errors are a few counts out
 * of a window's worth. All atomics are relaxed except bucket_sec's claim (acq_rel), which orders
 * the zeroing after the claim as seen by the claimer. */
#include "resilience/retry.h"

#define BUCKET_UNUSED UINT64_MAX

void retry_budget_init(struct retry_budget *b)
{
    for (unsigned i = 0; i < RETRY_BUDGET_BUCKETS; i++) {
        atomic_init(&b->bucket_sec[i], BUCKET_UNUSED);
        atomic_init(&b->requests[i], 0);
        atomic_init(&b->retries[i], 0);
    }
    atomic_init(&b->refused, 0);
    atomic_init(&b->allowed, 0);
}

/* The bucket for second `sec`, claimed for it if it held an older second; -1 when it already
 * holds a newer second (this caller's clock lags: its count is dropped). */
static int bucket_for(struct retry_budget *b, uint64_t sec)
{
    unsigned i = (unsigned)(sec % RETRY_BUDGET_BUCKETS);
    uint64_t cur = atomic_load_explicit(&b->bucket_sec[i], memory_order_acquire);
    while (cur != sec) {
        if (cur != BUCKET_UNUSED && cur > sec)
            return -1;
        if (atomic_compare_exchange_weak_explicit(&b->bucket_sec[i], &cur, sec,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            atomic_store_explicit(&b->requests[i], 0, memory_order_relaxed);
            atomic_store_explicit(&b->retries[i], 0, memory_order_relaxed);
            break;
        }
        /* cur was reloaded by the failed CAS: another thread claimed it, or a spurious failure. */
    }
    return (int)i;
}

void retry_budget_request(struct retry_budget *b, uint64_t now_ms)
{
    int i = bucket_for(b, now_ms / 1000);
    if (i >= 0)
        atomic_fetch_add_explicit(&b->requests[i], 1, memory_order_relaxed);
}

static uint32_t window_seconds(const struct cfg_retry *cfg)
{
    uint32_t w = cfg->budget_window_ms / 1000 + (cfg->budget_window_ms % 1000 != 0);
    if (w == 0)
        w = 1;
    return w > RETRY_BUDGET_BUCKETS ? RETRY_BUDGET_BUCKETS : w;
}

bool retry_budget_try(struct retry_budget *b, const struct cfg_retry *cfg, uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000;
    uint32_t window = window_seconds(cfg);
    uint64_t requests = 0, retries = 0;
    /* Seconds sec-window+1 .. sec, the current (partial) one included. */
    for (uint32_t k = 0; k < window && k <= sec; k++) {
        uint64_t s = sec - k;
        unsigned i = (unsigned)(s % RETRY_BUDGET_BUCKETS);
        if (atomic_load_explicit(&b->bucket_sec[i], memory_order_acquire) != s)
            continue;
        requests += atomic_load_explicit(&b->requests[i], memory_order_relaxed);
        retries += atomic_load_explicit(&b->retries[i], memory_order_relaxed);
    }
    uint64_t budget = (uint64_t)cfg->budget_min_per_s * window +
                      (uint64_t)cfg->budget_ratio_pct * requests / 100;
    if (retries >= budget) {
        atomic_fetch_add_explicit(&b->refused, 1, memory_order_relaxed);
        return false;
    }
    int i = bucket_for(b, sec);
    if (i >= 0)
        atomic_fetch_add_explicit(&b->retries[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->allowed, 1, memory_order_relaxed);
    return true;
}

bool retry_method_idempotent(enum h1_method m)
{
    switch (m) {
    case H1_M_GET:
    case H1_M_HEAD:
    case H1_M_OPTIONS:
    case H1_M_TRACE:
    case H1_M_PUT:
    case H1_M_DELETE:
        return true;
    case H1_M_OTHER:
    case H1_M_POST:
    case H1_M_PATCH:
    case H1_M_CONNECT:
        break;
    }
    return false;
}

uint32_t retry_backoff_ms(const struct cfg_retry *cfg, uint32_t attempt, uint64_t rand)
{
    if (attempt < 2)
        return 0;
    uint32_t shift = attempt - 2;
    uint64_t cap = cfg->backoff_max_ms;
    /* base < 2^32, so base << shift fits in 64 bits for shift < 32; past that it is above any
     * uint32 cap anyway (unless base is 0). */
    if (shift < 32) {
        uint64_t grown = (uint64_t)cfg->backoff_base_ms << shift;
        if (grown < cap)
            cap = grown;
    } else if (cfg->backoff_base_ms == 0) {
        cap = 0;
    }
    /* Uniform in [0, cap]: the high 32 bits of rand scaled onto cap + 1 values (each value's
     * odds are off by at most (cap + 1) / 2^32 of themselves). Cannot overflow: both factors
     * are <= 2^32. */
    return (uint32_t)(((rand >> 32) * (cap + 1)) >> 32);
}

bool retry_status(const struct cfg_retry *cfg, int status)
{
    if (status < 500 || status > 627)
        return false;
    unsigned bit = (unsigned)(status - 500);
    return (cfg->statuses_mask[bit / 32] >> (bit % 32)) & 1u;
}

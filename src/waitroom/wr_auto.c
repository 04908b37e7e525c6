/* wr_auto.c — see wr_auto.h for the control law. */
#include "waitroom/wr_auto.h"

#include "core/log.h"

void wr_auto_init(struct wr_auto *a)
{
    pthread_mutex_init(&a->mu, NULL);
}

void wr_auto_fini(struct wr_auto *a)
{
    pthread_mutex_destroy(&a->mu);
}

static uint32_t rate_min(uint32_t max_active)
{
    return max_active / 100 > 1 ? max_active / 100 : 1;
}

void wr_auto_configure(struct wr_auto *a, bool on, uint32_t max_active)
{
    pthread_mutex_lock(&a->mu);
    bool was = atomic_load(&a->on);
    atomic_store(&a->max_active, max_active);
    if (on && !was) {
        uint32_t start = max_active / 10 > rate_min(max_active) ? max_active / 10
                                                                 : rate_min(max_active);
        a->frate = start;
        atomic_store(&a->rate, start);
    } else if (on && a->frate > max_active) {
        a->frate = max_active;
        atomic_store(&a->rate, max_active);
    }
    atomic_store(&a->on, on);
    pthread_mutex_unlock(&a->mu);
}

void wr_auto_observe(struct wr_auto *a, uint64_t latency_us, bool failed)
{
    uint64_t ms = latency_us / 1000;
    unsigned b = 0;
    while (ms && b < WR_LAT_BUCKETS - 1) {
        ms >>= 1;
        b++;
    }
    atomic_fetch_add_explicit(&a->lat[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->req, 1, memory_order_relaxed);
    if (failed)
        atomic_fetch_add_explicit(&a->err, 1, memory_order_relaxed);
}

uint32_t wr_auto_rate(const struct wr_auto *a)
{
    return atomic_load_explicit(&a->rate, memory_order_relaxed);
}

void wr_auto_tick(struct wr_auto *a, int64_t now_ms, bool waiting, bool saturated)
{
    if (!atomic_load_explicit(&a->on, memory_order_relaxed) ||
        now_ms < atomic_load_explicit(&a->next_ms, memory_order_relaxed) ||
        pthread_mutex_trylock(&a->mu))
        return;
    int64_t next = atomic_load_explicit(&a->next_ms, memory_order_relaxed);
    if (now_ms < next) { /* another worker took this second's step */
        pthread_mutex_unlock(&a->mu);
        return;
    }
    bool first = next == 0;
    atomic_store_explicit(&a->next_ms, now_ms + 1000, memory_order_relaxed);
    uint64_t req = atomic_load(&a->req), err = atomic_load(&a->err), d[WR_LAT_BUCKETS];
    uint64_t n = req - a->last_req, e = err - a->last_err;
    a->last_req = req;
    a->last_err = err;
    for (int i = 0; i < WR_LAT_BUCKETS; i++) {
        uint64_t v = atomic_load(&a->lat[i]);
        d[i] = v - a->last_lat[i];
        a->last_lat[i] = v;
    }
    if (first) {
        pthread_mutex_unlock(&a->mu);
        return;
    }
    /* p99: the upper edge of the bucket holding the 99th percentile */
    uint32_t p99 = 0;
    if (n) {
        uint64_t want = n - n / 100, seen = 0;
        for (int i = 0; i < WR_LAT_BUCKETS; i++) {
            seen += d[i];
            if (seen >= want) {
                p99 = 1u << i;
                break;
            }
        }
    }
    a->last_p99_ms = p99;
    uint32_t max_active = atomic_load(&a->max_active);
    if (n >= 5) {
        if (a->base_p99_ms == 0 || p99 < a->base_p99_ms)
            a->base_p99_ms = p99 ? p99 : 1;
        else
            a->base_p99_ms *= 1.01;
    }
    bool unhealthy = saturated || (n >= 5 && (e * 20 > n || p99 > 2 * a->base_p99_ms + 10));
    double old = a->frate;
    if (unhealthy) {
        a->frate *= 0.7;
        if (a->frate < rate_min(max_active))
            a->frate = rate_min(max_active);
    } else if (waiting || n * 60 >= (uint64_t)(a->frate * 0.9)) {
        a->frate = a->frate * 1.05 + 1;
        if (a->frate > max_active)
            a->frate = max_active;
    }
    atomic_store(&a->rate, (uint32_t)(a->frate + 0.5));
    if (unhealthy && (uint32_t)old != (uint32_t)a->frate)
        log_info("waiting room auto rate: backing off to %u/min (p99 %u ms, %llu/%llu failed%s)",
                 (uint32_t)a->frate, p99, (unsigned long long)e, (unsigned long long)n,
                 saturated ? ", the group's limiter queues" : "");
    pthread_mutex_unlock(&a->mu);
}

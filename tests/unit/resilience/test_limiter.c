/* test_limiter.c — the concurrency limit: a fixed limit under four threads, the adaptive
 * limit's bounds, its convergence on a simulated backend, and its back-off on drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "resilience/limiter.h"

static struct cfg_concurrency fixed_cfg(uint32_t max)
{
    return (struct cfg_concurrency){.max = max, .queue_timeout_ms = 1000};
}

static struct cfg_concurrency adaptive_cfg(uint32_t initial, uint32_t min, uint32_t max)
{
    return (struct cfg_concurrency){
        .max = initial, .adaptive = true, .min_limit = min, .max_limit = max};
}

static void test_fixed_basic(void **state)
{
    (void)state;
    struct cfg_concurrency c = fixed_cfg(3);
    struct limiter *l = limiter_new(&c);
    assert_int_equal(limiter_limit(l), 3);
    for (int i = 0; i < 3; i++)
        assert_true(limiter_try_acquire(l));
    assert_false(limiter_try_acquire(l));
    assert_int_equal(limiter_inflight(l), 3);
    limiter_release(l, 1000, true, 0); /* drops do not move a fixed limit */
    assert_int_equal(limiter_limit(l), 3);
    assert_true(limiter_try_acquire(l));
    assert_false(limiter_try_acquire(l));
    for (int i = 0; i < 3; i++)
        limiter_release(l, 1000, false, 0);
    assert_int_equal(limiter_inflight(l), 0);
    limiter_free(l);

    c = fixed_cfg(0); /* off: counts, never refuses */
    l = limiter_new(&c);
    for (int i = 0; i < 10000; i++)
        assert_true(limiter_try_acquire(l));
    assert_int_equal(limiter_inflight(l), 10000);
    limiter_free(l);
}

#define NTHREADS 4
#define PER_THREAD 100000
#define FIXED_MAX 8

struct fixed_arg {
    struct limiter *l;
    _Atomic uint32_t *holding, *peak;
    uint64_t got;
};

static void *fixed_worker(void *p)
{
    struct fixed_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        if (!limiter_try_acquire(a->l))
            continue;
        a->got++;
        uint32_t h = atomic_fetch_add(a->holding, 1) + 1;
        uint32_t pk = atomic_load(a->peak);
        while (h > pk && !atomic_compare_exchange_weak(a->peak, &pk, h))
            ;
        atomic_fetch_sub(a->holding, 1);
        limiter_release(a->l, 10, false, (uint64_t)i);
    }
    return NULL;
}

static void test_fixed_never_exceeded_by_threads(void **state)
{
    (void)state;
    struct cfg_concurrency c = fixed_cfg(FIXED_MAX);
    struct limiter *l = limiter_new(&c);
    _Atomic uint32_t holding = 0, peak = 0;
    pthread_t th[NTHREADS];
    struct fixed_arg args[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (struct fixed_arg){.l = l, .holding = &holding, .peak = &peak};
        assert_int_equal(pthread_create(&th[i], NULL, fixed_worker, &args[i]), 0);
    }
    uint64_t got = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        got += args[i].got;
    }
    assert_true(got > 0);
    assert_true(atomic_load(&peak) <= FIXED_MAX);
    assert_int_equal(limiter_inflight(l), 0);
    assert_int_equal(limiter_limit(l), FIXED_MAX);
    limiter_free(l);
}

static void test_adaptive_initial_limit(void **state)
{
    (void)state;
    struct cfg_concurrency c = adaptive_cfg(0, 1, 1000);
    struct limiter *l = limiter_new(&c);
    assert_int_equal(limiter_limit(l), 20);
    limiter_free(l);
    c = adaptive_cfg(50, 1, 30);
    l = limiter_new(&c);
    assert_int_equal(limiter_limit(l), 30);
    limiter_free(l);
    c = adaptive_cfg(5, 40, 100);
    l = limiter_new(&c);
    assert_int_equal(limiter_limit(l), 40);
    limiter_free(l);
}

/* ---- a simulated backend ----
 * C requests at a time take BASE_US; beyond that they queue, so a request admitted with n in
 * flight takes BASE_US * n / C. Offered load is unbounded: every free slot is filled at once. */

#define CAPACITY 20
#define BASE_US 10000u
#define STEP_US 100u
#define MAXP 1024

struct sim {
    struct limiter *l;
    uint32_t capacity;
    uint64_t base_us;
    uint64_t now;
    uint64_t start[MAXP], done[MAXP];
    uint32_t n;
    uint64_t completed;
};

static void sim_run(struct sim *s, uint64_t dur_us)
{
    for (uint64_t end = s->now + dur_us; s->now < end; s->now += STEP_US) {
        for (uint32_t i = 0; i < s->n;) {
            if (s->done[i] <= s->now) {
                limiter_release(s->l, s->now - s->start[i], false, s->now);
                s->completed++;
                s->n--;
                s->start[i] = s->start[s->n];
                s->done[i] = s->done[s->n];
            } else {
                i++;
            }
        }
        while (s->n < MAXP && limiter_try_acquire(s->l)) {
            uint32_t inflight = limiter_inflight(s->l);
            uint64_t lat = inflight <= s->capacity ? s->base_us
                                                   : s->base_us * inflight / s->capacity;
            s->start[s->n] = s->now;
            s->done[s->n] = s->now + lat;
            s->n++;
        }
    }
}

/* Runs `dur_us` sampling the limit every 10 ms: the share of samples in [lo, hi] and the mean. */
static void sim_observe(struct sim *s, uint64_t dur_us, double lo, double hi, double *in_range,
                        double *mean)
{
    uint32_t k = 0, ok = 0;
    double sum = 0;
    for (uint64_t t = 0; t < dur_us; t += 10000) {
        sim_run(s, 10000);
        uint32_t lim = limiter_limit(s->l);
        sum += lim;
        ok += lim >= lo && lim <= hi;
        k++;
    }
    *in_range = (double)ok / k;
    *mean = sum / k;
}

static void settle(uint32_t initial, uint32_t min_limit)
{
    struct cfg_concurrency c = adaptive_cfg(initial, min_limit, 1000);
    static struct sim s;
    s = (struct sim){
        .l = limiter_new(&c), .capacity = CAPACITY, .base_us = BASE_US, .now = 5000000};
    uint32_t first = limiter_limit(s.l);
    sim_run(&s, 1000000);
    if (initial <= CAPACITY)
        assert_true(limiter_limit(s.l) > first); /* below capacity it grows */
    else
        assert_true(limiter_limit(s.l) < first);
    sim_run(&s, 29000000);
    double in_range, mean;
    double lo = 0.7 * CAPACITY, hi = 1.6 * CAPACITY;
    uint64_t before = s.completed;
    sim_observe(&s, 30000000, lo, hi, &in_range, &mean);
    double tput = (double)(s.completed - before) / 30.0;
    print_message("initial %u: limit mean %.1f, %.0f%% of samples in [%.0f, %.0f], %.0f/s "
                  "(backend max %u/s)\n",
                  first, mean, in_range * 100, lo, hi, tput, CAPACITY * 1000000u / BASE_US);
    assert_true(mean >= lo && mean <= hi);
    assert_true(in_range >= 0.9); /* the rest: the short probes at half the limit */
    assert_true(tput >= 0.85 * CAPACITY * 1000000.0 / BASE_US);
    while (s.n > 0) { /* drain, so the books balance */
        s.n--;
        limiter_release(s.l, 1, false, s.now);
    }
    assert_int_equal(limiter_inflight(s.l), 0);
    limiter_free(s.l);
}

static void test_adaptive_settles_from_default(void **state)
{
    (void)state;
    settle(0, 1);
}

static void test_adaptive_grows_from_min_limit(void **state)
{
    (void)state;
    settle(1, 1);
}

static void test_adaptive_shrinks_from_above(void **state)
{
    (void)state;
    settle(400, 1);
}

/* The backend doubles its capacity, then halves it and gets twice as slow: the limit follows
 * both. The second needs the periodic probe, as the old no-load RTT is no longer reachable. */
static void test_adaptive_follows_backend_changes(void **state)
{
    (void)state;
    struct cfg_concurrency c = adaptive_cfg(0, 1, 1000);
    static struct sim s;
    s = (struct sim){.l = limiter_new(&c), .capacity = CAPACITY, .base_us = BASE_US, .now = 1};
    sim_run(&s, 20000000);
    double in_range, mean;
    s.capacity = 2 * CAPACITY;
    sim_run(&s, 20000000);
    sim_observe(&s, 10000000, 0.7 * 2 * CAPACITY, 1.6 * 2 * CAPACITY, &in_range, &mean);
    print_message("capacity %u: limit mean %.1f\n", s.capacity, mean);
    assert_true(in_range >= 0.9);
    s.capacity = CAPACITY;
    s.base_us = 2 * BASE_US;
    sim_run(&s, 40000000);
    sim_observe(&s, 10000000, 0.7 * CAPACITY, 1.6 * CAPACITY, &in_range, &mean);
    print_message("capacity %u at %llu ms: limit mean %.1f\n", s.capacity,
                  (unsigned long long)s.base_us / 1000, mean);
    assert_true(in_range >= 0.9);
    while (s.n > 0) {
        s.n--;
        limiter_release(s.l, 1, false, s.now);
    }
    limiter_free(s.l);
}

static void test_dropped_samples_shrink(void **state)
{
    (void)state;
    struct cfg_concurrency c = adaptive_cfg(100, 5, 1000);
    struct limiter *l = limiter_new(&c);
    uint64_t now = 1000000;
    assert_true(limiter_try_acquire(l));
    limiter_release(l, 30000000, true, now);
    assert_int_equal(limiter_limit(l), 90);
    /* Drops within one RTT of the last back-off are the same episode. */
    for (int i = 0; i < 5; i++) {
        assert_true(limiter_try_acquire(l));
        limiter_release(l, 30000000, true, now + 100);
    }
    assert_int_equal(limiter_limit(l), 90);
    uint32_t prev = limiter_limit(l);
    for (int i = 1; i <= 60; i++) {
        assert_true(limiter_try_acquire(l));
        limiter_release(l, 30000000, true, now + (uint64_t)i * 10000);
        assert_true(limiter_limit(l) <= prev);
        prev = limiter_limit(l);
    }
    assert_int_equal(limiter_limit(l), 5); /* the floor */
    limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_basic),
        cmocka_unit_test(test_fixed_never_exceeded_by_threads),
        cmocka_unit_test(test_adaptive_initial_limit),
        cmocka_unit_test(test_adaptive_settles_from_default),
        cmocka_unit_test(test_adaptive_grows_from_min_limit),
        cmocka_unit_test(test_adaptive_shrinks_from_above),
        cmocka_unit_test(test_adaptive_follows_backend_changes),
        cmocka_unit_test(test_dropped_samples_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

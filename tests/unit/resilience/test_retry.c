/* test_retry.c — the retry budget (ratio + floor over a sliding window of one-second buckets,
 * refusals counted, old seconds forgotten, bucket reuse after the ring wraps, four threads),
 * full-jitter backoff (bounds, shift overflow, distribution), the idempotent method table and
 * the retryable status mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <pthread.h>
#include <cmocka.h>

#include "resilience/retry.h"

#define T0 UINT64_C(5000000) /* ms; an arbitrary second boundary */

static struct cfg_retry default_cfg(void)
{
    return (struct cfg_retry){
        .attempts = 2,
        .backoff_base_ms = 25,
        .backoff_max_ms = 1000,
        .statuses_mask = {(1u << 2) | (1u << 3) | (1u << 4), 0, 0, 0},
        .on_connect_error = true,
        .on_timeout = true,
        .max_body = 65536,
        .budget_ratio_pct = 20,
        .budget_window_ms = 10000,
        .budget_min_per_s = 3,
    };
}

/* Retries allowed in a row at now_ms, up to `max` tries. */
static unsigned drain(struct retry_budget *b, const struct cfg_retry *cfg, uint64_t now_ms,
                      unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < max; i++)
        n += retry_budget_try(b, cfg, now_ms);
    return n;
}

static void test_budget_ratio_and_floor(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg();
    struct retry_budget b;
    retry_budget_init(&b);

    /* 100 requests per second for 10 s. */
    for (uint64_t s = 0; s < 10; s++)
        for (uint64_t i = 0; i < 100; i++)
            retry_budget_request(&b, T0 + s * 1000 + i * 10);

    /* At the end of the 10th second: 3/s * 10 s + 20 % of 1000 = 230, then refused. */
    uint64_t now = T0 + 9999;
    assert_int_equal(drain(&b, &cfg, now, 230), 230);
    assert_false(retry_budget_try(&b, &cfg, now));
    assert_int_equal(drain(&b, &cfg, now, 4), 0);
    assert_int_equal(atomic_load(&b.allowed), 230);
    assert_int_equal(atomic_load(&b.refused), 5);

    /* New requests earn more: 50 more requests -> 10 more retries. */
    for (int i = 0; i < 50; i++)
        retry_budget_request(&b, now);
    assert_int_equal(drain(&b, &cfg, now, 100), 10);
    assert_int_equal(atomic_load(&b.refused), 95);
}

static void test_budget_floor_only(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg();
    struct retry_budget b;
    retry_budget_init(&b);
    /* No traffic at all: the floor, 3/s over 10 s. */
    assert_int_equal(drain(&b, &cfg, T0, 100), 30);

    /* Ratio only. */
    cfg.budget_min_per_s = 0;
    retry_budget_init(&b);
    assert_false(retry_budget_try(&b, &cfg, T0));
    for (int i = 0; i < 10; i++)
        retry_budget_request(&b, T0);
    assert_int_equal(drain(&b, &cfg, T0, 10), 2);

    /* Window rounding: 0 ms counts as 1 s, 1500 ms as 2 s, anything past 64 s as 64 s. */
    cfg.budget_min_per_s = 1;
    cfg.budget_window_ms = 0;
    retry_budget_init(&b);
    assert_int_equal(drain(&b, &cfg, T0, 100), 1);
    cfg.budget_window_ms = 1500;
    retry_budget_init(&b);
    assert_int_equal(drain(&b, &cfg, T0, 100), 2);
    cfg.budget_window_ms = 3600000;
    retry_budget_init(&b);
    assert_int_equal(drain(&b, &cfg, T0, 100), 64);

    /* Time starting at 0 (the first seconds have no predecessors). */
    cfg = default_cfg();
    retry_budget_init(&b);
    for (int i = 0; i < 100; i++)
        retry_budget_request(&b, 0);
    assert_int_equal(drain(&b, &cfg, 999, 100), 50);
}

static void test_budget_window_slides(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg();
    struct retry_budget b;
    retry_budget_init(&b);

    for (uint64_t s = 0; s < 10; s++)
        for (uint64_t i = 0; i < 100; i++)
            retry_budget_request(&b, T0 + s * 1000 + i);
    assert_int_equal(drain(&b, &cfg, T0 + 9500, 1000), 230); /* all counted in second 9 */

    /* Second 10: second 0's 100 requests left the window, second 9's 230 retries did not:
     * budget 30 + 180 = 210 < 230. */
    assert_false(retry_budget_try(&b, &cfg, T0 + 10000));
    /* Second 18 still sees second 9's retries (230 > 30 + 20): nothing. */
    assert_false(retry_budget_try(&b, &cfg, T0 + 18999));
    /* Second 19: seconds 10..19 are empty: the floor again. */
    assert_int_equal(drain(&b, &cfg, T0 + 19000, 100), 30);

    /* A lap of the ring later (64 s), the same buckets are reused and start from zero. */
    assert_int_equal(drain(&b, &cfg, T0 + 19000 + 64000, 100), 30);
    for (int i = 0; i < 100; i++)
        retry_budget_request(&b, T0 + 9000 + 128000); /* bucket of second 9, two laps on */
    assert_int_equal(drain(&b, &cfg, T0 + 9000 + 128000, 100), 50);

    /* A caller whose clock lags behind the ring is ignored, not counted into the new second. */
    unsigned long long allowed = atomic_load(&b.allowed);
    retry_budget_request(&b, T0 + 9000 + 64000);
    assert_false(retry_budget_try(&b, &cfg, T0 + 9000 + 128000));
    assert_int_equal(atomic_load(&b.allowed), allowed);
}

#define THREADS 4
#define PER_THREAD 1000

struct worker_arg {
    struct retry_budget *b;
    const struct cfg_retry *cfg;
    pthread_barrier_t *bar;
    unsigned allowed;
};

static void *worker_main(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++)
        retry_budget_request(a->b, T0 + 500);
    pthread_barrier_wait(a->bar);
    for (int i = 0; i < PER_THREAD; i++)
        a->allowed += retry_budget_try(a->b, a->cfg, T0 + 500);
    return NULL;
}

static void test_budget_threads(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg();
    struct retry_budget b;
    retry_budget_init(&b);
    retry_budget_request(&b, T0); /* claim this second's bucket before the race */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, THREADS);
    pthread_t th[THREADS];
    struct worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){.b = &b, .cfg = &cfg, .bar = &bar};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &args[i]), 0);
    }
    unsigned allowed = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        allowed += args[i].allowed;
    }
    pthread_barrier_destroy(&bar);
    /* 4001 requests: 30 + 800 = 830, give or take the check-then-count race (a few). */
    assert_true(allowed >= 830);
    assert_true(allowed <= 830 + THREADS);
    assert_int_equal(atomic_load(&b.allowed), allowed);
    assert_int_equal(atomic_load(&b.allowed) + atomic_load(&b.refused), THREADS * PER_THREAD);
}

static void test_idempotent_methods(void **state)
{
    (void)state;
    assert_true(retry_method_idempotent(H1_M_GET));
    assert_true(retry_method_idempotent(H1_M_HEAD));
    assert_true(retry_method_idempotent(H1_M_OPTIONS));
    assert_true(retry_method_idempotent(H1_M_TRACE));
    assert_true(retry_method_idempotent(H1_M_PUT));
    assert_true(retry_method_idempotent(H1_M_DELETE));
    assert_false(retry_method_idempotent(H1_M_POST));
    assert_false(retry_method_idempotent(H1_M_PATCH));
    assert_false(retry_method_idempotent(H1_M_CONNECT));
    assert_false(retry_method_idempotent(H1_M_OTHER));
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg(); /* base 25, max 1000 */
    /* The top of the range for each attempt: 25, 50, 100, ..., capped at 1000. */
    static const uint32_t top[] = {0, 0, 25, 50, 100, 200, 400, 800, 1000, 1000};
    for (uint32_t a = 0; a < sizeof(top) / sizeof(top[0]); a++) {
        assert_int_equal(retry_backoff_ms(&cfg, a, UINT64_MAX), top[a]);
        assert_int_equal(retry_backoff_ms(&cfg, a, 0), 0);
    }
    /* Shifts of 32 and beyond (and the whole uint32 range) stay at the cap. */
    static const uint32_t big[] = {33, 34, 40, 64, 65, 66, 67, 100, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        assert_int_equal(retry_backoff_ms(&cfg, big[i], UINT64_MAX), 1000);
        assert_true(retry_backoff_ms(&cfg, big[i], UINT64_C(0x123456789abcdef)) <= 1000);
    }
    /* A base that overflows 32 bits after a few doublings. */
    cfg.backoff_base_ms = UINT32_MAX;
    cfg.backoff_max_ms = UINT32_MAX;
    for (uint32_t a = 2; a < 70; a++)
        assert_int_equal(retry_backoff_ms(&cfg, a, UINT64_MAX), UINT32_MAX);
    /* Max below base; zero base; zero max. */
    cfg.backoff_base_ms = 100;
    cfg.backoff_max_ms = 10;
    assert_int_equal(retry_backoff_ms(&cfg, 2, UINT64_MAX), 10);
    cfg.backoff_base_ms = 0;
    cfg.backoff_max_ms = 1000;
    assert_int_equal(retry_backoff_ms(&cfg, 2, UINT64_MAX), 0);
    assert_int_equal(retry_backoff_ms(&cfg, 50, UINT64_MAX), 0);
    cfg.backoff_base_ms = 25;
    cfg.backoff_max_ms = 0;
    assert_int_equal(retry_backoff_ms(&cfg, 5, UINT64_MAX), 0);
}

static void test_backoff_distribution(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg();
    uint64_t seed = 42;
    enum { N = 200000 };
    unsigned deciles[10] = {0};
    double sum = 0;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        uint32_t d = retry_backoff_ms(&cfg, 12, splitmix64(&seed)); /* cap 1000 */
        assert_true(d <= 1000);
        sum += d;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        deciles[d == 1000 ? 9 : d / 100]++;
    }
    double mean = sum / N;
    assert_true(mean > 490 && mean < 510); /* uniform on [0, 1000]: 500 */
    assert_true(lo <= 2);
    assert_true(hi >= 998);
    for (int i = 0; i < 10; i++)
        assert_true(deciles[i] > N / 10 * 95 / 100 && deciles[i] < N / 10 * 105 / 100);

    /* The first retry: uniform on [0, 25], every value reached. */
    unsigned seen[26] = {0};
    for (int i = 0; i < 10000; i++) {
        uint32_t d = retry_backoff_ms(&cfg, 2, splitmix64(&seed));
        assert_true(d <= 25);
        seen[d]++;
    }
    for (int i = 0; i <= 25; i++)
        assert_true(seen[i] > 0);
}

static void test_status_mask(void **state)
{
    (void)state;
    struct cfg_retry cfg = default_cfg(); /* 502, 503, 504 */
    assert_true(retry_status(&cfg, 502));
    assert_true(retry_status(&cfg, 503));
    assert_true(retry_status(&cfg, 504));
    assert_false(retry_status(&cfg, 500));
    assert_false(retry_status(&cfg, 501));
    assert_false(retry_status(&cfg, 505));
    assert_false(retry_status(&cfg, 200));
    assert_false(retry_status(&cfg, 404));

    /* Word edges and the last representable status. */
    cfg.statuses_mask[0] = 1u | (1u << 31); /* 500, 531 */
    cfg.statuses_mask[1] = 1u;              /* 532 */
    cfg.statuses_mask[2] = 0;
    cfg.statuses_mask[3] = 1u << 31;        /* 627 */
    assert_true(retry_status(&cfg, 500));
    assert_true(retry_status(&cfg, 531));
    assert_true(retry_status(&cfg, 532));
    assert_false(retry_status(&cfg, 533));
    assert_true(retry_status(&cfg, 627));
    assert_false(retry_status(&cfg, 626));

    /* Everything outside 500..627 is false, whatever the mask. */
    for (int w = 0; w < 4; w++)
        cfg.statuses_mask[w] = UINT32_MAX;
    for (int s = 500; s <= 627; s++)
        assert_true(retry_status(&cfg, s));
    static const int outside[] = {INT_MIN, -500, -1, 0, 100, 499, 628, 629, 1000, INT_MAX};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        assert_false(retry_status(&cfg, outside[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_ratio_and_floor),
        cmocka_unit_test(test_budget_floor_only),
        cmocka_unit_test(test_budget_window_slides),
        cmocka_unit_test(test_budget_threads),
        cmocka_unit_test(test_idempotent_methods),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_distribution),
        cmocka_unit_test(test_status_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

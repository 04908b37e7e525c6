/* test_lb_least_conn.c — least connections: never a busier server while a less busy usable one
 * exists (randomized, with and without weights), ties rotated fairly, ratios by weight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lb_fixture.h"

#define LC (&lb_least_connections)

/* Randomized property: random inflight, random health, equal weights; the winner's inflight is
 * the minimum over the usable primaries. */
static void test_never_busier_when_less_busy_up(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 8, NULL);
    void *st = LC->create(f.ptr, f.n);
    for (int round = 0; round < 20000; round++) {
        unsigned min = ~0u;
        for (uint32_t i = 0; i < f.n; i++) {
            unsigned v = (unsigned)(fx_rand(&f) % 6); /* small range: many ties */
            bool up = fx_rand(&f) % 5 != 0;
            fx_inflight(&f, i, v);
            fx_up(&f, i, up);
            if (up && v < min)
                min = v;
        }
        int i = fx_pick(LC, st, &f);
        if (min == ~0u) {
            assert_int_equal(i, -1);
            continue;
        }
        assert_true(i >= 0);
        assert_true(lb_usable(&f.srv[i]));
        assert_int_equal(atomic_load(&f.srv[i].inflight), min);
    }
    LC->destroy(st);
}

/* The same with weights: the winner minimises inflight / weight_now (checked in floating
 * point here, independently of the cross-multiplication in the strategy). */
static void test_weighted_never_busier(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {1, 2, 3, 4, 5, 6};
    fx_init(&f, 6, w);
    void *st = LC->create(f.ptr, f.n);
    for (int round = 0; round < 20000; round++) {
        double min = 1e300;
        for (uint32_t i = 0; i < f.n; i++) {
            unsigned v = (unsigned)(fx_rand(&f) % 20);
            unsigned wn = (unsigned)(fx_rand(&f) % (w[i] + 1)); /* slow start: 0..weight */
            fx_inflight(&f, i, v);
            fx_weight_now(&f, i, wn);
            if (wn && (double)v / wn < min)
                min = (double)v / wn;
        }
        int i = fx_pick(LC, st, &f);
        if (min == 1e300) {
            assert_int_equal(i, -1);
            continue;
        }
        assert_true(i >= 0);
        double got = (double)atomic_load(&f.srv[i].inflight) / atomic_load(&f.srv[i].weight_now);
        assert_true(got <= min * (1 + 1e-12));
    }
    LC->destroy(st);
}

static void test_ties_spread_evenly(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 5, NULL);
    void *st = LC->create(f.ptr, f.n);
    for (uint32_t i = 0; i < f.n; i++)
        fx_inflight(&f, i, 7);
    int hits[FX_MAX] = {0};
    fx_count(LC, st, &f, 10000, hits);
    for (int i = 0; i < 5; i++)
        assert_int_equal(hits[i], 2000);

    fx_inflight(&f, 4, 8); /* four tied below one busier: the four share, the busy one idles */
    memset(hits, 0, sizeof(hits));
    fx_count(LC, st, &f, 10000, hits);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hits[i], 2500);
    assert_int_equal(hits[4], 0);
    LC->destroy(st);
}

static void test_idle_server_takes_new_work(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 3, NULL);
    void *st = LC->create(f.ptr, f.n);
    fx_inflight(&f, 0, 40);
    fx_inflight(&f, 1, 40);
    fx_inflight(&f, 2, 0); /* just came back */
    for (int k = 0; k < 40; k++) {
        int i = fx_pick(LC, st, &f);
        assert_int_equal(i, 2);
        atomic_fetch_add(&f.srv[i].inflight, 1u);
    }
    /* Now all at 40: a fair rotation again. */
    int hits[FX_MAX] = {0};
    fx_count(LC, st, &f, 3000, hits);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hits[i], 1000);
    LC->destroy(st);
}

/* Load feedback with weights 3:1: in-flight counts settle in the ratio of the weights. */
static void test_weighted_load_ratio(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {3, 1};
    fx_init(&f, 2, w);
    void *st = LC->create(f.ptr, f.n);
    for (int k = 0; k < 400; k++) {
        int i = fx_pick(LC, st, &f);
        atomic_fetch_add(&f.srv[i].inflight, 1u);
    }
    assert_int_equal(atomic_load(&f.srv[0].inflight), 300);
    assert_int_equal(atomic_load(&f.srv[1].inflight), 100);
    LC->destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_busier_when_less_busy_up),
        cmocka_unit_test(test_weighted_never_busier),
        cmocka_unit_test(test_ties_spread_evenly),
        cmocka_unit_test(test_idle_server_takes_new_work),
        cmocka_unit_test(test_weighted_load_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

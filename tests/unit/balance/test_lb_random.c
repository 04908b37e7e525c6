/* test_lb_random.c — power of two choices: weight-proportional draws when idle, the less loaded
 * of two distinct draws otherwise (so the busiest server is never chosen while another is
 * usable), and a close-to-even split of equal servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lb_fixture.h"

#define PICKS 10000

static void test_weights_5_3_2_within_5_percent(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2};
    fx_init(&f, 3, w);
    void *st = lb_random.create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    assert_int_equal(fx_count(&lb_random, st, &f, PICKS, hits), 0);
    assert_true(fx_share_ok(hits[0], PICKS, 0.50, 0.05));
    assert_true(fx_share_ok(hits[1], PICKS, 0.30, 0.05));
    assert_true(fx_share_ok(hits[2], PICKS, 0.20, 0.05));
    lb_random.destroy(st);
}

static void test_equal_servers_split_evenly(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 4, NULL);
    void *st = lb_random.create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    fx_count(&lb_random, st, &f, PICKS, hits);
    for (int i = 0; i < 4; i++)
        assert_true(fx_share_ok(hits[i], PICKS, 0.25, 0.03));
    lb_random.destroy(st);
}

/* Two distinct draws and the less loaded wins: the strictly busiest server can never win. */
static void test_busiest_never_picked(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 5, NULL);
    void *st = lb_random.create(f.ptr, f.n);
    for (int round = 0; round < 2000; round++) {
        unsigned max = 0;
        int busiest = -1;
        for (uint32_t i = 0; i < f.n; i++) {
            unsigned v = (unsigned)(fx_rand(&f) % 50);
            fx_inflight(&f, i, v);
            if (busiest < 0 || v > max) {
                max = v;
                busiest = (int)i;
            }
        }
        fx_inflight(&f, (uint32_t)busiest, max + 1); /* strictly the busiest */
        for (int k = 0; k < 5; k++)
            assert_int_not_equal(fx_pick(&lb_random, st, &f), busiest);
    }
    lb_random.destroy(st);
}

/* With two servers both are always drawn, so the less loaded one always wins. */
static void test_two_servers_less_loaded_wins(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {9, 1};
    fx_init(&f, 2, w);
    void *st = lb_random.create(f.ptr, f.n);
    fx_inflight(&f, 0, 10);
    fx_inflight(&f, 1, 3);
    for (int k = 0; k < 1000; k++)
        assert_int_equal(fx_pick(&lb_random, st, &f), 1);
    lb_random.destroy(st);
}

/* Load feedback: picking adds one in flight to the winner; the spread stays tight. */
static void test_load_stays_balanced(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 10, NULL);
    void *st = lb_random.create(f.ptr, f.n);
    for (int k = 0; k < 5000; k++) {
        int i = fx_pick(&lb_random, st, &f);
        atomic_fetch_add(&f.srv[i].inflight, 1u);
    }
    unsigned lo = ~0u, hi = 0;
    for (uint32_t i = 0; i < f.n; i++) {
        unsigned v = atomic_load(&f.srv[i].inflight);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(hi - lo <= 10); /* pure random would spread by ~5 sigma = ~100 */
    lb_random.destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_5_3_2_within_5_percent),
        cmocka_unit_test(test_equal_servers_split_evenly),
        cmocka_unit_test(test_busiest_never_picked),
        cmocka_unit_test(test_two_servers_less_loaded_wins),
        cmocka_unit_test(test_load_stays_balanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

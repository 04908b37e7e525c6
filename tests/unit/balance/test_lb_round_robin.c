/* test_lb_round_robin.c — plain rotation: an exact even split, weights ignored, and a down
 * server's share spread evenly over the others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lb_fixture.h"

static void test_even_split(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2, 1}; /* ignored by round robin */
    fx_init(&f, 4, w);
    void *st = lb_round_robin.create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    assert_int_equal(fx_count(&lb_round_robin, st, &f, 10000, hits), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hits[i], 2500);
    lb_round_robin.destroy(st);
}

static void test_strict_rotation(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 3, NULL);
    void *st = lb_round_robin.create(f.ptr, f.n);
    int first = fx_pick(&lb_round_robin, st, &f);
    for (int k = 1; k < 30; k++)
        assert_int_equal(fx_pick(&lb_round_robin, st, &f), (first + k) % 3);
    lb_round_robin.destroy(st);
}

static void test_down_share_spread_evenly(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 4, NULL);
    void *st = lb_round_robin.create(f.ptr, f.n);
    fx_up(&f, 1, false);
    int hits[FX_MAX] = {0};
    fx_count(&lb_round_robin, st, &f, 9000, hits);
    assert_int_equal(hits[0], 3000);
    assert_int_equal(hits[1], 0);
    assert_int_equal(hits[2], 3000);
    assert_int_equal(hits[3], 3000);
    lb_round_robin.destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_even_split),
        cmocka_unit_test(test_strict_rotation),
        cmocka_unit_test(test_down_share_spread_evenly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

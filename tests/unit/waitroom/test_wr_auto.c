/* test_wr_auto.c — the `admit_per_minute: auto` controller (src/waitroom/wr_auto.c) with
 * synthetic time and outcomes: start at max_active / 10, rise while healthy with demand, hold
 * without demand, back off x0.7 on errors, on a latency climb and on the limiter's queueing,
 * never leave [max_active / 100, max_active], one step per second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "waitroom/wr_auto.h"

#define T0 1700000000000LL

static void second(struct wr_auto *a, int64_t *now, int n, uint64_t lat_us, int failed,
                   bool waiting, bool saturated)
{
    for (int i = 0; i < n; i++)
        wr_auto_observe(a, lat_us, i < failed);
    *now += 1000;
    wr_auto_tick(a, *now, waiting, saturated);
}

static void test_control_law(void **state)
{
    (void)state;
    struct wr_auto a = {0};
    wr_auto_init(&a);
    wr_auto_configure(&a, true, 1000);
    assert_int_equal(wr_auto_rate(&a), 100);
    int64_t now = T0;
    wr_auto_tick(&a, now, true, false); /* the first tick only takes the baseline */
    assert_int_equal(wr_auto_rate(&a), 100);
    second(&a, &now, 50, 2000, 0, true, false);
    assert_int_equal(wr_auto_rate(&a), 106); /* 100 x 1.05 + 1 */
    /* a tick within the same second does nothing */
    wr_auto_tick(&a, now + 500, true, false);
    assert_int_equal(wr_auto_rate(&a), 106);
    for (int i = 0; i < 100; i++)
        second(&a, &now, 50, 2000, 0, true, false);
    assert_int_equal(wr_auto_rate(&a), 1000); /* capped at max_active */
    /* no demand: unchanged */
    second(&a, &now, 1, 2000, 0, false, false);
    assert_int_equal(wr_auto_rate(&a), 1000);
    /* errors above 5 %: x0.7 */
    second(&a, &now, 100, 2000, 10, true, false);
    assert_int_equal(wr_auto_rate(&a), 700);
    /* latency: p99 far above the base (2 ms) */
    second(&a, &now, 100, 200000, 0, true, false);
    assert_int_equal(wr_auto_rate(&a), 490);
    /* the limiter queues */
    second(&a, &now, 0, 0, 0, true, true);
    assert_int_equal(wr_auto_rate(&a), 343);
    for (int i = 0; i < 50; i++)
        second(&a, &now, 0, 0, 0, true, true);
    assert_int_equal(wr_auto_rate(&a), 10); /* floor: max_active / 100 */
    /* healthy again: it climbs back */
    second(&a, &now, 50, 2000, 0, true, false);
    assert_true(wr_auto_rate(&a) > 10);
    /* a reload to a smaller max_active caps the rate at once */
    for (int i = 0; i < 100; i++)
        second(&a, &now, 50, 2000, 0, true, false);
    wr_auto_configure(&a, true, 200);
    assert_int_equal(wr_auto_rate(&a), 200);
    wr_auto_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_control_law)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

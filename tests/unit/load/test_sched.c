/* test_sched.c — arrival schedules: constant, ramp and step phases send exactly the offered
 * count at increasing intended times; threads interleave; thresholds parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "load/load.h"
#include "load/sched.h"
#include "load/thresh.h"

/* Requests with an intended time inside the schedule, and that their times never go back. */
static uint64_t count_all(const struct sched *s)
{
    uint64_t n = 0, prev = 0;
    for (;; n++) {
        uint64_t t = sched_time_of(s, n);
        if (t == SCHED_NEVER)
            return n;
        assert_true(t >= prev);
        assert_true(t < s->total_us);
        prev = t;
    }
}

static void test_constant(void **state)
{
    (void)state;
    struct sched s = {0};
    assert_int_equal(sched_add_phase(&s, 2000, 2000, 10000000, 0), 0);
    assert_int_equal(count_all(&s), 20000);
    assert_int_equal(sched_time_of(&s, 0), 0);
    assert_int_equal(sched_time_of(&s, 1), 500);
    assert_int_equal(sched_time_of(&s, 1999), 999500);
    assert_true(fabs(sched_rate_at(&s, 5000000) - 2000) < 1e-9);
    assert_true(fabs(sched_count_at(&s, 1000000) - 2000) < 1e-6);
}

static void test_ramp(void **state)
{
    (void)state;
    struct sched s = {0};
    sched_add_phase(&s, 100, 5000, 10000000, 0);
    uint64_t n = count_all(&s);
    assert_true(n >= 25499 && n <= 25500); /* (100 + 5000) / 2 * 10 */
    /* the rate at the middle: gaps between consecutive intended times near 1/2550 s */
    double t = sched_count_at(&s, 5000000);
    uint64_t k = (uint64_t)t;
    double gap = (double)(sched_time_of(&s, k + 100) - sched_time_of(&s, k)) / 100;
    assert_true(fabs(gap - 1e6 / 2550) < 5);
}

static void test_steps(void **state)
{
    (void)state;
    struct sched s = {0};
    sched_add_phase(&s, 100, 100, 2000000, 500000);
    sched_add_phase(&s, 200, 200, 2000000, 500000);
    sched_add_phase(&s, 400, 400, 2000000, 500000);
    assert_int_equal(count_all(&s), 1400);
    assert_int_equal(sched_time_of(&s, 200), 2000000); /* first of step 2 */
    assert_int_equal(sched_time_of(&s, 201), 2005000);
    assert_int_equal(sched_phase_at(&s, 3000000), 1);
    assert_int_equal(sched_phase_at(&s, 6000000), -1);
    assert_true(fabs(sched_rate_at(&s, 4500000) - 400) < 1e-9);
    /* worker i of 3 takes i, i+3, ...: together exactly the schedule */
    uint64_t total = 0;
    for (uint64_t w = 0; w < 3; w++)
        for (uint64_t n = w; sched_time_of(&s, n) != SCHED_NEVER; n += 3)
            total++;
    assert_int_equal(total, 1400);
    struct sched c;
    sched_closed(&c, 3000000);
    assert_false(c.open);
    assert_int_equal(c.total_us, 3000000);
}

static void test_thresholds_and_durations(void **state)
{
    (void)state;
    struct thresh t;
    char err[256];
    assert_int_equal(thresh_parse(&t, "p99<50ms", err, sizeof(err)), 0);
    assert_true(t.value == 50000);
    assert_true(thresh_ok(&t, 49999));
    assert_false(thresh_ok(&t, 50000));
    assert_int_equal(thresh_parse(&t, "errors<=1%", err, sizeof(err)), 0);
    assert_true(thresh_ok(&t, 1.0));
    assert_int_equal(thresh_parse(&t, "rps>1000", err, sizeof(err)), 0);
    assert_false(thresh_ok(&t, 1000));
    assert_int_equal(thresh_parse(&t, "p99<50", err, sizeof(err)), -1);
    assert_int_equal(thresh_parse(&t, "bogus<1", err, sizeof(err)), -1);
    assert_int_equal(thresh_parse(&t, "errors<1", err, sizeof(err)), -1);
    assert_int_equal(load_parse_duration("30s"), 30000000);
    assert_int_equal(load_parse_duration("250ms"), 250000);
    assert_int_equal(load_parse_duration("2m"), 120000000);
    assert_int_equal(load_parse_duration("7"), 7000000);
    assert_int_equal(load_parse_duration("3x"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_ramp),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_thresholds_and_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

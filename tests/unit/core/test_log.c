/* test_log.c — the error log's rate limit: one line per LOG_LIMIT_MS, the held-back count
 * carried to the next line and started again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"

static void test_first_line_passes(void **state)
{
    (void)state;
    struct log_limit ll = {0};
    uint32_t held = 99;
    assert_true(log_limit_pass(&ll, 0, &held)); /* a clock that starts at 0 too */
    assert_int_equal(held, 0);
}

static void test_one_line_per_period_with_count(void **state)
{
    (void)state;
    struct log_limit ll = {0};
    uint32_t held;
    assert_true(log_limit_pass(&ll, 5000, &held));
    for (uint64_t t = 5001; t < 5000 + LOG_LIMIT_MS; t += 10)
        assert_false(log_limit_pass(&ll, t, &held));
    assert_int_equal(ll.suppressed, (LOG_LIMIT_MS - 1 + 9) / 10);
    assert_true(log_limit_pass(&ll, 5000 + LOG_LIMIT_MS, &held));
    assert_int_equal(held, (LOG_LIMIT_MS - 1 + 9) / 10);
    /* The count starts again, and a quiet spell lets the next line through at once. */
    assert_true(log_limit_pass(&ll, 60000, &held));
    assert_int_equal(held, 0);
    assert_false(log_limit_pass(&ll, 60001, &held));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_passes),
        cmocka_unit_test(test_one_line_per_period_with_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

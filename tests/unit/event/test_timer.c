/* test_timer.c — the timer wheel: ordering, lazy re-arm, far deadlines, disarm, timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "event/timer.h"

struct probe {
    struct timer t;
    int fired;
    uint64_t at;
};

static uint64_t now_ms;

static void on_fire(struct timer *t)
{
    struct probe *p = (struct probe *)t;
    p->fired++;
    p->at = now_ms;
}

static void run_to(struct timer_wheel *tw, uint64_t t)
{
    /* Advance in steps, as a loop would, so firing times are observable. */
    while (now_ms < t) {
        now_ms++;
        timer_wheel_run(tw, now_ms);
    }
}

static void test_fires_at_deadline(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 1000;
    timer_wheel_init(&tw, now_ms);
    struct probe a, b;
    timer_init(&a.t, on_fire);
    timer_init(&b.t, on_fire);
    a.fired = b.fired = 0;
    timer_arm(&tw, &a.t, 1010);
    timer_arm(&tw, &b.t, 1005);
    assert_int_equal(timer_wheel_timeout(&tw, now_ms), 5);
    run_to(&tw, 1004);
    assert_int_equal(b.fired, 0);
    run_to(&tw, 1005);
    assert_int_equal(b.fired, 1);
    assert_int_equal(b.at, 1005);
    run_to(&tw, 1020);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.at, 1010);
    assert_int_equal(timer_wheel_timeout(&tw, now_ms), -1);
}

static void test_lazy_rearm_later(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 0;
    timer_wheel_init(&tw, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire);
    a.fired = 0;
    timer_arm(&tw, &a.t, 10);
    run_to(&tw, 5);
    timer_arm(&tw, &a.t, 50); /* pushed back: stays in its slot, moved when it comes due */
    run_to(&tw, 49);
    assert_int_equal(a.fired, 0);
    run_to(&tw, 50);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.at, 50);
}

static void test_rearm_earlier(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 0;
    timer_wheel_init(&tw, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire);
    a.fired = 0;
    timer_arm(&tw, &a.t, 100);
    timer_arm(&tw, &a.t, 20);
    run_to(&tw, 20);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.at, 20);
    run_to(&tw, 200);
    assert_int_equal(a.fired, 1);
}

static void test_far_deadline_beyond_one_lap(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 0;
    timer_wheel_init(&tw, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire);
    a.fired = 0;
    uint64_t far = 3 * TIMER_SLOTS + 17;
    timer_arm(&tw, &a.t, far);
    run_to(&tw, far - 1);
    assert_int_equal(a.fired, 0);
    run_to(&tw, far);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.at, far);
}

static void test_big_jump_fires_everything_due(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    timer_wheel_init(&tw, 0);
    struct probe p[100];
    for (int i = 0; i < 100; i++) {
        timer_init(&p[i].t, on_fire);
        p[i].fired = 0;
        timer_arm(&tw, &p[i].t, (uint64_t)(i * 97 + 1));
    }
    now_ms = 20000; /* the loop slept for a long time */
    timer_wheel_run(&tw, now_ms);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i].fired, 1);
    assert_int_equal(tw.count, 0);
}

static void test_disarm(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 0;
    timer_wheel_init(&tw, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire);
    a.fired = 0;
    timer_arm(&tw, &a.t, 10);
    timer_disarm(&tw, &a.t);
    timer_disarm(&tw, &a.t); /* idempotent */
    run_to(&tw, 100);
    assert_int_equal(a.fired, 0);
    assert_int_equal(timer_wheel_timeout(&tw, now_ms), -1);
}

static struct timer_wheel cb_wheel;
static struct probe chained;

static void on_fire_rearm(struct timer *t)
{
    on_fire(t);
    timer_arm(&cb_wheel, &chained.t, now_ms + 3);
}

static void test_callback_arms_timers(void **state)
{
    (void)state;
    now_ms = 0;
    timer_wheel_init(&cb_wheel, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire_rearm);
    timer_init(&chained.t, on_fire);
    a.fired = chained.fired = 0;
    timer_arm(&cb_wheel, &a.t, 5);
    run_to(&cb_wheel, 7);
    assert_int_equal(a.fired, 1);
    assert_int_equal(chained.fired, 0);
    run_to(&cb_wheel, 8);
    assert_int_equal(chained.fired, 1);
    assert_int_equal(chained.at, 8);
}

static void test_past_deadline_fires_next_tick(void **state)
{
    (void)state;
    static struct timer_wheel tw;
    now_ms = 500;
    timer_wheel_init(&tw, now_ms);
    struct probe a;
    timer_init(&a.t, on_fire);
    a.fired = 0;
    timer_arm(&tw, &a.t, 100);
    assert_int_equal(timer_wheel_timeout(&tw, now_ms), 1);
    run_to(&tw, 501);
    assert_int_equal(a.fired, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_at_deadline),
        cmocka_unit_test(test_lazy_rearm_later),
        cmocka_unit_test(test_rearm_earlier),
        cmocka_unit_test(test_far_deadline_beyond_one_lap),
        cmocka_unit_test(test_big_jump_fires_everything_due),
        cmocka_unit_test(test_disarm),
        cmocka_unit_test(test_callback_arms_timers),
        cmocka_unit_test(test_past_deadline_fires_next_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_timer.c — the timer wheel: ordering, lazy re-arm, far deadlines, disarm, timeouts,
 * callbacks that arm and disarm timers of the slot being run, and a randomized model test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* ---- Callbacks that arm and disarm timers of the slot being run ---- */

/* Walks the wheel and checks its invariants: a linked timer is armed and *pprev points at it;
 * one in a slot sits in the slot of its slot_tick, ahead of the wheel's tick; one in the due
 * list (inside a run) is in the slot being run; bitmap bit i is set iff slot i is non-empty;
 * count is the number of linked timers. The walk is bounded: a corrupt list fails, not hangs. */
static uint32_t check_list(const struct timer_wheel *tw, struct timer *const *head, uint32_t i,
                           uint64_t min_tick, uint32_t linked)
{
    for (const struct timer *t = *head; t; head = &t->next, t = t->next) {
        assert_true(linked++ < tw->count);
        assert_true(t->armed);
        assert_ptr_equal(t->pprev, head);
        assert_int_equal(t->slot_tick % TIMER_SLOTS, i);
        assert_true(t->slot_tick >= min_tick);
    }
    return linked;
}

static void check_wheel(const struct timer_wheel *tw)
{
    uint32_t linked = 0;
    for (uint32_t i = 0; i < TIMER_SLOTS; i++) {
        bool bit = (tw->bitmap[i / 64] >> (i % 64)) & 1;
        assert_int_equal(bit, tw->slots[i] != NULL);
        linked = check_list(tw, &tw->slots[i], i, tw->tick + 1, linked);
    }
    linked = check_list(tw, &tw->due, (uint32_t)(tw->tick % TIMER_SLOTS), tw->tick, linked);
    assert_int_equal(linked, tw->count);
}

struct actor {
    struct timer t;
    int fired;
    uint64_t at;
    void (*act)(struct actor *self);
};

static struct timer_wheel act_wheel;
static struct actor actors[4];
static struct actor *victim;
static bool acted;
static int act_policy; /* which unfired other the first callback picks: 0 lowest, 1 highest */

static void on_act(struct timer *t)
{
    struct actor *a = (struct actor *)t;
    a->fired++;
    a->at = now_ms;
    if (a->act)
        a->act(a);
}

/* Three actors (a fourth spare) on a fresh wheel, all with `act`. */
static void actors_setup(void (*act)(struct actor *))
{
    now_ms = 0;
    timer_wheel_init(&act_wheel, now_ms);
    for (int i = 0; i < 4; i++) {
        actors[i] = (struct actor){.act = act};
        timer_init(&actors[i].t, on_act);
    }
    victim = NULL;
    acted = false;
}

/* The first callback of the slot picks another timer of the slot that has not fired yet:
 * whichever order the slot runs in, one of the two policies picks the next one to run. */
static struct actor *first_caller_picks(struct actor *self)
{
    if (acted)
        return NULL;
    acted = true;
    for (int i = 0; i < 3; i++) {
        struct actor *o = &actors[act_policy ? 2 - i : i];
        if (o != self && !o->fired)
            return victim = o;
    }
    fail_msg("no unfired timer left in the slot");
    return NULL;
}

static void arm_three_in_one_slot(uint64_t at)
{
    for (int i = 0; i < 3; i++)
        timer_arm(&act_wheel, &actors[i].t, at);
}

static void act_disarm_other(struct actor *self)
{
    struct actor *o = first_caller_picks(self);
    if (o)
        timer_disarm(&act_wheel, &o->t);
}

/* Three timers due at 10, the first callback acts on another of them, once per policy: the
 * victim then fires once at victim_at (0: never), the others once at 10, and nothing is left. */
static void check_first_callback_acts(void (*act)(struct actor *), uint64_t victim_at)
{
    for (act_policy = 0; act_policy < 2; act_policy++) {
        actors_setup(act);
        arm_three_in_one_slot(10);
        run_to(&act_wheel, 16);
        assert_non_null(victim);
        assert_int_equal(victim->fired, 0);
        check_wheel(&act_wheel);
        run_to(&act_wheel, 5000);
        for (int i = 0; i < 3; i++) {
            bool v = &actors[i] == victim;
            assert_int_equal(actors[i].fired, v && !victim_at ? 0 : 1);
            if (actors[i].fired)
                assert_int_equal(actors[i].at, v ? victim_at : 10);
        }
        assert_int_equal(act_wheel.count, 0);
        check_wheel(&act_wheel);
        assert_int_equal(timer_wheel_timeout(&act_wheel, now_ms), -1);
    }
}

static void test_cb_disarms_same_slot(void **state)
{
    (void)state;
    check_first_callback_acts(act_disarm_other, 0);
}

static void act_disarm_spare(struct actor *self)
{
    (void)self;
    timer_disarm(&act_wheel, &actors[3].t);
}

static void test_cb_disarms_other_slot(void **state)
{
    (void)state;
    actors_setup(act_disarm_spare);
    actors[3].act = NULL;
    arm_three_in_one_slot(10);
    timer_arm(&act_wheel, &actors[3].t, 20);
    run_to(&act_wheel, 100);
    for (int i = 0; i < 3; i++)
        assert_int_equal(actors[i].fired, 1);
    assert_int_equal(actors[3].fired, 0);
    assert_int_equal(act_wheel.count, 0);
    check_wheel(&act_wheel);
}

/* Re-arms itself twice: 5 ms later, then to a deadline already past (fires on the next tick). */
static void act_rearm_self(struct actor *self)
{
    if (self != &actors[0])
        return;
    if (self->fired == 1)
        timer_arm(&act_wheel, &self->t, now_ms + 5);
    else if (self->fired == 2)
        timer_arm(&act_wheel, &self->t, now_ms - 5);
}

static void test_cb_rearms_self(void **state)
{
    (void)state;
    actors_setup(act_rearm_self);
    arm_three_in_one_slot(10);
    run_to(&act_wheel, 15);
    assert_int_equal(actors[0].fired, 2);
    assert_int_equal(actors[0].at, 15);
    run_to(&act_wheel, 100);
    assert_int_equal(actors[0].fired, 3);
    assert_int_equal(actors[0].at, 16);
    assert_int_equal(actors[1].fired, 1);
    assert_int_equal(actors[2].fired, 1);
    assert_int_equal(act_wheel.count, 0);
    check_wheel(&act_wheel);
}

/* The first callback arms the spare one lap later, into the very slot being run. */
static void act_arm_spare_next_lap(struct actor *self)
{
    (void)self;
    if (!acted) {
        acted = true;
        timer_arm(&act_wheel, &actors[3].t, now_ms + TIMER_SLOTS);
    }
}

static void test_cb_arms_into_running_slot(void **state)
{
    (void)state;
    actors_setup(act_arm_spare_next_lap);
    actors[3].act = NULL;
    arm_three_in_one_slot(10);
    run_to(&act_wheel, 11);
    for (int i = 0; i < 3; i++)
        assert_int_equal(actors[i].fired, 1);
    assert_int_equal(actors[3].fired, 0);
    assert_int_equal(act_wheel.count, 1);
    check_wheel(&act_wheel);
    run_to(&act_wheel, 10 + TIMER_SLOTS - 1);
    assert_int_equal(actors[3].fired, 0);
    run_to(&act_wheel, 10 + TIMER_SLOTS);
    assert_int_equal(actors[3].fired, 1);
    assert_int_equal(actors[3].at, 10 + TIMER_SLOTS);
    for (int i = 0; i < 3; i++)
        assert_int_equal(actors[i].fired, 1);
    assert_int_equal(act_wheel.count, 0);
}

static void act_disarm_self(struct actor *self)
{
    uint32_t before = act_wheel.count;
    timer_disarm(&act_wheel, &self->t); /* it is not armed any more: nothing to do */
    assert_int_equal(act_wheel.count, before);
}

static void test_cb_disarms_self(void **state)
{
    (void)state;
    actors_setup(act_disarm_self);
    arm_three_in_one_slot(10);
    timer_arm(&act_wheel, &actors[3].t, 10 + TIMER_SLOTS); /* same slot, next lap */
    run_to(&act_wheel, 10 + TIMER_SLOTS);
    for (int i = 0; i < 4; i++)
        assert_int_equal(actors[i].fired, 1);
    assert_int_equal(act_wheel.count, 0);
    check_wheel(&act_wheel);
}

static void act_push_other_later(struct actor *self)
{
    struct actor *o = first_caller_picks(self);
    if (o)
        timer_arm(&act_wheel, &o->t, now_ms + 7);
}

static void test_cb_rearms_same_slot_later(void **state)
{
    (void)state;
    check_first_callback_acts(act_push_other_later, 17);
}

/* The shape of the field report: another timer of the slot disarmed, then armed again. */
static void act_disarm_rearm_other(struct actor *self)
{
    struct actor *o = first_caller_picks(self);
    if (o) {
        timer_disarm(&act_wheel, &o->t);
        timer_arm(&act_wheel, &o->t, now_ms + 7);
    }
}

static void test_cb_disarms_then_rearms_same_slot(void **state)
{
    (void)state;
    check_first_callback_acts(act_disarm_rearm_other, 17);
}

/* ---- Randomized model test ----
 * Random arms (deadlines in the past, near, and laps ahead), disarms and runs (single ms steps
 * and long sleeps), with callbacks that arm and disarm random timers, themselves included.
 * The model is an array of deadlines: a timer fires only while armed, once per arming, never
 * before its deadline, and it has fired by the end of the first run whose now reaches its
 * deadline (or, armed at or past its deadline, the next ms). */

#define MODEL_TIMERS 48

struct mtimer {
    struct timer t;
    bool armed;
    uint64_t deadline;
    uint64_t due_by; /* the run at this now must have fired it */
};

static struct timer_wheel m_wheel;
static struct mtimer m_timers[MODEL_TIMERS];
static uint32_t m_armed;
static uint64_t m_rng;
static uint64_t m_last_tick; /* wheel tick seen by the last callback: never goes back */
static uint64_t m_fires;
static bool m_quiet;         /* callbacks only record: used to drain the wheel at the end */

static uint64_t rnd(void)
{
    m_rng ^= m_rng >> 12;
    m_rng ^= m_rng << 25;
    m_rng ^= m_rng >> 27;
    return m_rng * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

static uint64_t random_deadline(void)
{
    switch (rnd_below(10)) {
    case 0:
        return now_ms - rnd_below(now_ms < 40 ? now_ms + 1 : 40); /* now or past */
    case 1: /* beyond one lap, up to three */
        return now_ms + TIMER_SLOTS + rnd_below(2 * TIMER_SLOTS);
    case 2: /* around one lap: same slot index as a near deadline */
        return now_ms + TIMER_SLOTS - 2 + rnd_below(5);
    case 3:
        return now_ms + rnd_below(TIMER_SLOTS);
    default: /* near: few slots, many timers each */
        return now_ms + rnd_below(24);
    }
}

static void m_check_counts(void)
{
    assert_int_equal(m_wheel.count, m_armed);
}

static void m_arm(struct mtimer *m, uint64_t deadline)
{
    timer_arm(&m_wheel, &m->t, deadline);
    if (!m->armed)
        m_armed++;
    m->armed = true;
    m->deadline = deadline;
    m->due_by = deadline > now_ms ? deadline : now_ms + 1;
    m_check_counts();
}

static void m_disarm(struct mtimer *m)
{
    timer_disarm(&m_wheel, &m->t);
    if (m->armed)
        m_armed--;
    m->armed = false;
    m_check_counts();
}

static void m_random_op(void)
{
    struct mtimer *m = &m_timers[rnd_below(MODEL_TIMERS)];
    if (rnd_below(3))
        m_arm(m, random_deadline());
    else
        m_disarm(m);
}

static void on_model_fire(struct timer *t)
{
    struct mtimer *m = (struct mtimer *)t;
    assert_true(m->armed);                     /* never while disarmed, never twice */
    assert_true(now_ms >= m->deadline);        /* never before its deadline ... */
    assert_true(m_wheel.tick >= m->deadline);  /* ... nor from a slot before it */
    assert_true(m_wheel.tick >= m_last_tick);
    m_last_tick = m_wheel.tick;
    m->armed = false;
    m_armed--;
    m_fires++;
    m_check_counts();
    if (rnd_below(8) == 0)
        check_wheel(&m_wheel);
    if (m_quiet)
        return;
    for (uint64_t n = rnd_below(4); n > 0; n--)
        m_random_op();
}

static void m_check_after_run(void)
{
    if (rnd_below(16) == 0)
        check_wheel(&m_wheel); /* walks every slot: not after each of the many small steps */
    m_check_counts();
    uint64_t first = UINT64_MAX;
    for (int i = 0; i < MODEL_TIMERS; i++) {
        const struct mtimer *m = &m_timers[i];
        if (!m->armed)
            continue;
        assert_true(m->due_by > now_ms); /* every timer due by now has fired */
        if (m->due_by < first)
            first = m->due_by;
    }
    int timeout = timer_wheel_timeout(&m_wheel, now_ms);
    if (first == UINT64_MAX) {
        assert_int_equal(timeout, -1);
    } else {
        assert_true(timeout >= 1);                       /* nothing left due: no busy loop */
        assert_true(now_ms + (uint64_t)timeout <= first); /* and never sleeps past a deadline */
    }
}

static void m_run_to(uint64_t target)
{
    bool stepped = rnd_below(2);
    do {
        uint64_t step = stepped ? 1 + rnd_below(8 + (target - now_ms) / 64) : target - now_ms;
        now_ms = now_ms + step < target ? now_ms + step : target;
        timer_wheel_run(&m_wheel, now_ms);
        m_check_after_run();
    } while (now_ms < target);
    check_wheel(&m_wheel);
}

static void model_run(uint64_t seed, int ops)
{
    m_rng = seed;
    now_ms = 100000 + rnd_below(TIMER_SLOTS); /* wheel not aligned to a lap */
    timer_wheel_init(&m_wheel, now_ms);
    for (int i = 0; i < MODEL_TIMERS; i++) {
        m_timers[i] = (struct mtimer){0};
        timer_init(&m_timers[i].t, on_model_fire);
    }
    m_armed = 0;
    m_last_tick = 0;
    m_fires = 0;
    m_quiet = false;
    for (int op = 0; op < ops; op++) {
        uint64_t r = rnd_below(100);
        if (r < 45) {
            m_random_op();
        } else if (r < 97) {
            uint64_t d = rnd_below(100);
            d = d < 10 ? 0 : d < 85 ? 1 + rnd_below(16) : d < 95 ? rnd_below(500) : rnd_below(9000);
            m_run_to(now_ms + d);
        } else {
            check_wheel(&m_wheel);
        }
    }
    m_quiet = true;
    m_run_to(now_ms + 4 * TIMER_SLOTS);
    assert_int_equal(m_armed, 0);
    assert_int_equal(m_wheel.count, 0);
    assert_int_equal(timer_wheel_timeout(&m_wheel, now_ms), -1);
    assert_true(m_fires > (uint64_t)ops / 10); /* the test did exercise firing */
}

static void test_random_against_model(void **state)
{
    (void)state;
    static const uint64_t seeds[] = {1, 42, 0x9e3779b97f4a7c15ull, 20240806, 7777777};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        print_message("model seed %llu\n", (unsigned long long)seeds[i]);
        model_run(seeds[i], 20000);
    }
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
        cmocka_unit_test(test_cb_disarms_same_slot),
        cmocka_unit_test(test_cb_disarms_other_slot),
        cmocka_unit_test(test_cb_rearms_self),
        cmocka_unit_test(test_cb_arms_into_running_slot),
        cmocka_unit_test(test_cb_disarms_self),
        cmocka_unit_test(test_cb_rearms_same_slot_later),
        cmocka_unit_test(test_cb_disarms_then_rearms_same_slot),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

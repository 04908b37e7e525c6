/* test_wr_queue.c — the waiting room's state machine (src/waitroom/wr_queue.c) with synthetic
 * time: both gates, no overtaking, FIFO order, random draws, abandonment skipping and rate
 * recovery, reservations that expire, sessions (touch, expiry, revoke), reject and passthrough,
 * event mode (nobody admitted in the pre-queue; the shuffle's uniformity by a chi-square test),
 * and the memory of 1,000,000 waiting tickets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waitroom/wr_queue.h"

#define T0 1700000000000LL

static struct wr_params params(uint32_t max_active, uint32_t apm)
{
    return (struct wr_params){.max_active = max_active, .admit_per_minute = apm,
                              .session_ms = 300000, .abandon_ms = 60000, .mode = WR_FIFO,
                              .window_ms = 60000};
}

static void test_gates_active(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 1, T0);
    struct wr_params p = params(3, 100);
    struct wr_result res;
    for (int i = 0; i < 3; i++) {
        wr_arrive(&r, &p, T0, &res);
        assert_int_equal(res.v, WR_ADMITTED);
        assert_true(res.fresh);
    }
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_WAITING);
    assert_int_equal(res.ahead, 0);
    uint64_t ticket = res.id;
    wr_poll(&r, &p, ticket, T0 + 1000, &res);
    assert_int_equal(res.v, WR_WAITING);
    /* Sessions end after session_ms without a touch: the waiter gets the slot. */
    wr_poll(&r, &p, ticket, T0 + 300000, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    struct wr_stats st;
    wr_stats(&r, &p, T0 + 300000, &st);
    assert_int_equal(st.active, 1);
    assert_int_equal(st.expired, 3);
    wr_room_fini(&r);
}

/* Claims in any 60 s window never exceed admit_per_minute; active never exceeds max_active. */
static void test_gates_rate_window(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 2, T0);
    struct wr_params p = params(1000, 10);
    p.session_ms = 5000;
    uint64_t tickets[400];
    int nt = 0;
    int64_t claims[2000];
    int nc = 0;
    struct wr_result res;
    for (int64_t t = T0; t < T0 + 300000; t += 250) {
        if (nt < 400) {
            wr_arrive(&r, &p, t, &res);
            if (res.v == WR_ADMITTED)
                claims[nc++] = t;
            else
                tickets[nt++] = res.id;
        }
        for (int i = 0; i < nt; i++) {
            if (tickets[i] == UINT64_MAX)
                continue;
            wr_poll(&r, &p, tickets[i], t, &res);
            if (res.v == WR_ADMITTED) {
                claims[nc++] = t;
                tickets[i] = UINT64_MAX;
            }
        }
        struct wr_stats st;
        wr_stats(&r, &p, t, &st);
        assert_true(st.active + st.reserved <= p.max_active);
    }
    assert_true(nc >= 40);
    for (int i = 0; i < nc; i++) {
        int in = 0;
        for (int j = i; j < nc && claims[j] < claims[i] + 60000; j++)
            in++;
        assert_true(in <= 10);
    }
    wr_room_fini(&r);
}

/* Nobody overtakes: while anyone waits, a new visitor queues even when a slot is free; tickets
 * are admitted in order (zero inversions). */
static void test_fifo_no_overtaking(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 3, T0);
    struct wr_params p = params(2, 1000);
    p.session_ms = 1000;
    struct wr_result res;
    wr_arrive(&r, &p, T0, &res);
    wr_arrive(&r, &p, T0, &res);
    uint64_t t[50];
    for (int i = 0; i < 50; i++) {
        wr_arrive(&r, &p, T0 + i, &res);
        assert_int_equal(res.v, WR_WAITING);
        assert_int_equal(res.ahead, (uint64_t)i);
        t[i] = res.id;
    }
    int next = 0;
    for (int64_t now = T0 + 1000; next < 50; now += 500) {
        /* polls in reverse order: late tickets must not get in first (within one instant
         * the granted ones claim in poll order; after it, the admitted form a prefix) */
        int got = 0;
        for (int i = 49; i >= next; i--) {
            wr_poll(&r, &p, t[i], now, &res);
            if (res.v == WR_ADMITTED) {
                assert_true(i < next + 2);
                t[i] = UINT64_MAX - 1 - (uint64_t)i;
                got++;
            }
        }
        for (int i = next; i < next + got; i++)
            assert_int_equal(t[i], UINT64_MAX - 1 - (uint64_t)i);
        next += got;
        /* a newcomer while others wait always queues */
        if (next < 50) {
            wr_arrive(&r, &p, now, &res);
            assert_int_equal(res.v, WR_WAITING);
        }
    }
    wr_room_fini(&r);
}

/* Abandoned tickets are skipped; live waiters get the full rate once the window has passed. */
static void test_abandonment(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 4, T0);
    struct wr_params p = params(1000, 60);
    p.abandon_ms = 10000;
    p.session_ms = 600000;
    struct wr_result res;
    for (int i = 0; i < 60; i++)
        wr_arrive(&r, &p, T0, &res); /* fills the rate */
    uint64_t t[100];
    for (int i = 0; i < 100; i++) {
        wr_arrive(&r, &p, T0 + 1, &res);
        assert_int_equal(res.v, WR_WAITING);
        t[i] = res.id;
    }
    /* 30 % never poll again; the others poll every second. */
    int admitted = 0;
    for (int64_t now = T0 + 1000; now <= T0 + 60000 + 60000; now += 1000)
        for (int i = 0; i < 100; i++) {
            if (i % 10 < 3 || t[i] == UINT64_MAX)
                continue;
            wr_poll(&r, &p, t[i], now, &res);
            if (res.v == WR_ADMITTED) {
                admitted++;
                t[i] = UINT64_MAX;
            }
        }
    assert_int_equal(admitted, 70); /* all live waiters got in in the second minute */
    struct wr_stats st;
    wr_stats(&r, &p, T0 + 130000, &st);
    assert_int_equal(st.abandoned, 30);
    assert_int_equal(st.waiting, 0);
    /* an abandoned ticket that comes back is a new visitor */
    wr_poll(&r, &p, t[0], T0 + 130000, &res);
    assert_true(res.new_visitor);
    wr_room_fini(&r);
}

/* A grant not claimed within abandon_ms is released and goes to the next waiter. */
static void test_reservation_expires(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 5, T0);
    struct wr_params p = params(1, 100);
    p.abandon_ms = 5000;
    p.session_ms = 1000;
    struct wr_result res;
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_arrive(&r, &p, T0, &res);
    uint64_t a = res.id;
    wr_arrive(&r, &p, T0, &res);
    uint64_t b = res.id;
    /* at T0+1000 the session ends: a is granted, but only b keeps polling */
    for (int64_t now = T0 + 1000; now < T0 + 5500; now += 500) {
        wr_poll(&r, &p, b, now, &res);
        assert_int_equal(res.v, WR_WAITING);
    }
    wr_poll(&r, &p, b, T0 + 6500, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_poll(&r, &p, a, T0 + 6500, &res);
    assert_true(res.new_visitor);
    wr_room_fini(&r);
}

static void test_touch_revoke(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 6, T0);
    struct wr_params p = params(1, 100);
    p.session_ms = 10000;
    struct wr_result res, w;
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_arrive(&r, &p, T0, &w);
    assert_int_equal(w.v, WR_WAITING);
    /* touching keeps the session past session_ms from its start */
    for (int64_t now = T0 + 5000; now < T0 + 30000; now += 5000) {
        struct wr_result x;
        wr_touch(&r, &p, res.id, res.slot, now, &x);
        assert_int_equal(x.v, WR_ADMITTED);
        assert_false(x.fresh);
        wr_poll(&r, &p, w.id, now, &x);
        assert_int_equal(x.v, WR_WAITING);
    }
    assert_false(wr_revoke(&r, &p, res.id + 99, res.slot, T0 + 30000)); /* foreign id */
    assert_true(wr_revoke(&r, &p, res.id, res.slot, T0 + 30000));
    struct wr_result x;
    wr_poll(&r, &p, w.id, T0 + 30001, &x);
    assert_int_equal(x.v, WR_ADMITTED);
    /* the revoked session is gone: its holder is a new visitor, who waits */
    wr_touch(&r, &p, res.id, res.slot, T0 + 30002, &x);
    assert_true(x.new_visitor);
    assert_int_equal(x.v, WR_WAITING);
    wr_room_fini(&r);
}

static void test_reject_passthrough_pause(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 7, T0);
    struct wr_params p = params(1, 100);
    p.mode = WR_REJECT;
    struct wr_result res;
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_REJECTED);
    p.mode = WR_PASSTHROUGH;
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_PASS);
    p.mode = WR_FIFO;
    p.max_active = 10;
    wr_pause(&r, true);
    wr_arrive(&r, &p, T0, &res);
    assert_int_equal(res.v, WR_WAITING);
    wr_poll(&r, &p, res.id, T0 + 1000, &res);
    assert_int_equal(res.v, WR_WAITING);
    wr_pause(&r, false);
    wr_poll(&r, &p, res.id, T0 + 2000, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_room_fini(&r);
}

/* random: every waiter is eventually admitted, in an order that is not the arrival order. */
static void test_random(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 8, T0);
    struct wr_params p = params(1, 1000);
    p.mode = WR_RANDOM;
    p.session_ms = 1000;
    struct wr_result res;
    wr_arrive(&r, &p, T0, &res);
    uint64_t t[40];
    for (int i = 0; i < 40; i++) {
        wr_arrive(&r, &p, T0, &res);
        assert_int_equal(res.v, WR_WAITING);
        t[i] = res.id;
    }
    int order[40], n = 0;
    for (int64_t now = T0 + 1000; n < 40 && now < T0 + 100000; now += 1000)
        for (int i = 0; i < 40; i++) {
            if (t[i] == UINT64_MAX)
                continue;
            wr_poll(&r, &p, t[i], now, &res);
            if (res.v == WR_ADMITTED) {
                order[n++] = i;
                t[i] = UINT64_MAX;
            }
        }
    assert_int_equal(n, 40);
    int inversions = 0;
    for (int i = 1; i < 40; i++)
        inversions += order[i] < order[i - 1];
    assert_true(inversions > 5);
    wr_room_fini(&r);
}

static struct wr_params event_params(void)
{
    struct wr_params p = params(1, 10000);
    p.session_ms = 1000;
    p.abandon_ms = 600000;
    p.event = true;
    p.prequeue_ms = T0;
    p.start_ms = T0 + 60000;
    p.end_ms = T0 + 3600000;
    return p;
}

/* Admission order of n pre-queued tickets after the event's start. */
static void event_order(uint64_t seed, int n, int *order)
{
    struct wr_room r;
    wr_room_init(&r, seed, T0 - 1000);
    struct wr_params p = event_params();
    struct wr_result res;
    uint64_t t[8];
    for (int i = 0; i < n; i++) {
        wr_arrive(&r, &p, T0 + i, &res);
        assert_int_equal(res.v, WR_WAITING);
        t[i] = res.id;
    }
    int k = 0;
    for (int64_t now = T0 + 60000; k < n; now += 1000)
        for (int i = 0; i < n; i++) {
            if (t[i] == UINT64_MAX)
                continue;
            wr_poll(&r, &p, t[i], now, &res);
            if (res.v == WR_ADMITTED) {
                order[k++] = i;
                t[i] = UINT64_MAX;
            }
        }
    wr_room_fini(&r);
}

static void test_event_phases(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 9, T0 - 10000);
    struct wr_params p = event_params();
    p.prequeue_ms = T0 - 5000;
    struct wr_result res;
    wr_arrive(&r, &p, T0 - 6000, &res); /* before the pre-queue: normal */
    assert_int_equal(res.v, WR_ADMITTED);
    wr_arrive(&r, &p, T0 - 4000, &res); /* pre-queue: everyone waits, even with room */
    assert_int_equal(res.v, WR_WAITING);
    uint64_t t = res.id;
    wr_poll(&r, &p, t, T0 + 59000, &res);
    assert_int_equal(res.v, WR_WAITING);
    wr_poll(&r, &p, t, T0 + 60000, &res);
    assert_int_equal(res.v, WR_ADMITTED);
    wr_arrive(&r, &p, T0 + 3600000, &res); /* after the end: off */
    assert_int_equal(res.v, WR_PASS);
    wr_room_fini(&r);
}

/* The pre-queue's shuffle is a uniform permutation: chi-square over the 24 orders of 4 tickets
 * (23 degrees of freedom; 49.73 is the 0.1 % critical value), and later arrivals stay behind. */
static void test_event_shuffle_uniform(void **state)
{
    (void)state;
    enum { TRIALS = 24000 };
    static const int fact[] = {6, 2, 1, 1};
    uint32_t counts[24] = {0};
    for (int trial = 0; trial < TRIALS; trial++) {
        int order[4];
        event_order(0x1234567ull + (uint64_t)trial * 7919, 4, order);
        /* Lehmer code of the order */
        int code = 0;
        for (int i = 0; i < 4; i++) {
            int smaller = 0;
            for (int j = i + 1; j < 4; j++)
                smaller += order[j] < order[i];
            code += smaller * fact[i];
        }
        counts[code]++;
    }
    double expected = TRIALS / 24.0, chi2 = 0;
    for (int i = 0; i < 24; i++)
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    printf("event shuffle: chi2 = %.2f over 24 orders (critical 49.73)\n", chi2);
    assert_true(chi2 < 49.73);

    /* arrivals after the start queue behind the whole pre-queue, in order */
    struct wr_room r;
    wr_room_init(&r, 10, T0);
    struct wr_params p = event_params();
    struct wr_result res;
    uint64_t pre[5], post[3];
    for (int i = 0; i < 5; i++) {
        wr_arrive(&r, &p, T0 + i, &res);
        pre[i] = res.id;
    }
    for (int i = 0; i < 3; i++) {
        wr_arrive(&r, &p, T0 + 60000 + i, &res);
        assert_int_equal(res.v, WR_WAITING);
        post[i] = res.id;
    }
    int admitted_pre = 0, next_post = 0;
    for (int64_t now = T0 + 61000; next_post < 3; now += 1000) {
        for (int i = 0; i < 5; i++) {
            if (pre[i] == UINT64_MAX)
                continue;
            wr_poll(&r, &p, pre[i], now, &res);
            if (res.v == WR_ADMITTED) {
                admitted_pre++;
                pre[i] = UINT64_MAX;
            }
        }
        for (int i = 2; i >= next_post; i--) {
            wr_poll(&r, &p, post[i], now, &res);
            if (res.v == WR_ADMITTED) {
                assert_int_equal(admitted_pre, 5);
                assert_int_equal(i, next_post);
                next_post++;
            }
        }
    }
    wr_room_fini(&r);
}

/* 1,000,000 waiting tickets: under 64 MiB (the room's own count of its heap), polls and grants
 * still work at the far end. */
static void test_million_tickets(void **state)
{
    (void)state;
    struct wr_room r;
    wr_room_init(&r, 11, T0);
    struct wr_params p = params(1, 1000000);
    p.abandon_ms = 3600000;
    struct wr_result res;
    wr_arrive(&r, &p, T0, &res);
    uint64_t last = 0;
    for (int i = 0; i < 1000000; i++) {
        wr_arrive(&r, &p, T0 + 1, &res);
        assert_int_equal(res.v, WR_WAITING);
        last = res.id;
    }
    size_t bytes = wr_room_bytes(&r);
    printf("1,000,000 waiting tickets: %.1f MiB\n", bytes / 1048576.0);
    assert_true(bytes < 64u * 1024 * 1024);
    wr_poll(&r, &p, last, T0 + 2, &res);
    assert_int_equal(res.v, WR_WAITING);
    assert_int_equal(res.ahead, 999999);
    struct wr_stats st;
    wr_stats(&r, &p, T0 + 3, &st);
    assert_int_equal(st.waiting, 1000000);
    /* once the line has drained (here: everyone abandoned), the ring is given back */
    wr_stats(&r, &p, T0 + 3600000 + 1000, &st);
    while (st.waiting)
        wr_stats(&r, &p, T0 + 3600000 + 1000, &st);
    wr_arrive(&r, &p, T0 + 3600000 + 2000, &res);
    assert_true(wr_room_bytes(&r) < 64 * 1024);
    wr_room_fini(&r);

    /* random mode holds one more index per waiter */
    wr_room_init(&r, 12, T0);
    p.mode = WR_RANDOM;
    wr_arrive(&r, &p, T0, &res);
    for (int i = 0; i < 1000000; i++)
        wr_arrive(&r, &p, T0 + 1, &res);
    bytes = wr_room_bytes(&r);
    printf("1,000,000 waiting tickets (random): %.1f MiB\n", bytes / 1048576.0);
    assert_true(bytes < 64u * 1024 * 1024);
    wr_room_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gates_active),
        cmocka_unit_test(test_gates_rate_window),
        cmocka_unit_test(test_fifo_no_overtaking),
        cmocka_unit_test(test_abandonment),
        cmocka_unit_test(test_reservation_expires),
        cmocka_unit_test(test_touch_revoke),
        cmocka_unit_test(test_reject_passthrough_pause),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_event_phases),
        cmocka_unit_test(test_event_shuffle_uniform),
        cmocka_unit_test(test_million_tickets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_breaker.c — the circuit breaker: thresholds, both windows, open/half-open/closed,
 * trial slots, history, the log line, and consistency under four threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "resilience/breaker.h"

#define T0 1000000u /* a monotonic clock that is not near zero */

static struct cfg_breaker count_cfg(uint32_t n, uint32_t min_calls, uint32_t fail_pct)
{
    return (struct cfg_breaker){
        .enabled = true,
        .window = CFG_BREAKER_COUNT,
        .window_size = n,
        .min_calls = min_calls,
        .failure_rate_pct = fail_pct,
        .slow_rate_pct = 100,
        .slow_call_ms = 5000,
        .open_ms = 30000,
        .half_open_calls = 5,
    };
}

static void call(struct breaker *b, uint64_t now, bool failure, uint32_t ms)
{
    uint32_t retry = 99;
    assert_true(breaker_allow(b, now, &retry));
    assert_int_equal(retry, 0);
    breaker_record(b, now, failure, ms);
}

/* Opens a breaker with failures; returns when it opened. */
static uint64_t trip(struct breaker *b, uint64_t now)
{
    while (breaker_state(b, now) == BREAKER_CLOSED)
        call(b, now, true, 1);
    assert_int_equal(breaker_state(b, now), BREAKER_OPEN);
    return now;
}

static void test_closed_below_min_calls(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(100, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    for (int i = 0; i < 19; i++)
        call(b, T0, true, 1);
    assert_int_equal(breaker_state(b, T0), BREAKER_CLOSED);
    struct breaker_stats st;
    breaker_get_stats(b, T0, &st);
    assert_int_equal(st.calls, 19);
    assert_int_equal(st.failures, 19);
    assert_int_equal(st.failure_rate_pct, 0); /* not judged below min_calls */
    call(b, T0, true, 1);
    assert_int_equal(breaker_state(b, T0), BREAKER_OPEN);
    breaker_free(b);
}

static void test_opens_exactly_at_threshold_over_last_n(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(10, 10, 50);
    struct breaker *b = breaker_new(&c, "t");
    /* Four early failures then enough successes to push them out of the last 10. */
    for (int i = 0; i < 4; i++)
        call(b, T0, true, 1);
    for (int i = 0; i < 100; i++)
        call(b, T0, false, 1);
    for (int i = 0; i < 4; i++)
        call(b, T0, true, 1);
    struct breaker_stats st;
    breaker_get_stats(b, T0, &st);
    assert_int_equal(st.state, BREAKER_CLOSED);
    assert_int_equal(st.calls, 10);
    assert_int_equal(st.failures, 4);
    assert_int_equal(st.failure_rate_pct, 40);
    call(b, T0, true, 1); /* 5 of the last 10: exactly 50 % */
    breaker_get_stats(b, T0, &st);
    assert_int_equal(st.state, BREAKER_OPEN);
    assert_int_equal(st.ntransitions, 1);
    assert_int_equal(st.history[0].failure_rate_pct, 50);
    assert_int_equal(st.history[0].calls, 10);
    breaker_free(b);
}

static void test_slow_rate_opens(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(10, 10, 50);
    c.slow_rate_pct = 60;
    c.slow_call_ms = 100;
    struct breaker *b = breaker_new(&c, "t");
    for (int i = 0; i < 4; i++)
        call(b, T0, false, 5);
    for (int i = 0; i < 5; i++)
        call(b, T0, false, 101);
    call(b, T0, false, 100); /* not slower than 100 ms: 5 slow of 10 */
    assert_int_equal(breaker_state(b, T0), BREAKER_CLOSED);
    call(b, T0, false, 250); /* 6 slow of the last 10 */
    struct breaker_stats st;
    breaker_get_stats(b, T0, &st);
    assert_int_equal(st.state, BREAKER_OPEN);
    assert_int_equal(st.history[0].slow_rate_pct, 60);
    assert_int_equal(st.history[0].failure_rate_pct, 0);
    breaker_free(b);
}

static void test_time_window_forgets_old_buckets(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(10, 10, 50);
    c.window = CFG_BREAKER_TIME;
    struct breaker *a = breaker_new(&c, "a");
    struct breaker *b = breaker_new(&c, "b");
    for (int i = 0; i < 9; i++) {
        call(a, T0, true, 1);
        call(b, T0, true, 1);
    }
    /* Still inside the 10 one-second buckets: the tenth failure opens it. */
    call(a, T0 + 9999, true, 1);
    assert_int_equal(breaker_state(a, T0 + 9999), BREAKER_OPEN);
    /* Eleven seconds later the nine failures are gone: one call, not judged. */
    call(b, T0 + 11000, true, 1);
    struct breaker_stats st;
    breaker_get_stats(b, T0 + 11000, &st);
    assert_int_equal(st.state, BREAKER_CLOSED);
    assert_int_equal(st.calls, 1);
    /* Buckets age one at a time: at +5 s a new second's calls add to it. */
    for (int i = 0; i < 8; i++)
        call(b, T0 + 16000, false, 1);
    breaker_get_stats(b, T0 + 16000, &st);
    assert_int_equal(st.calls, 9);
    breaker_get_stats(b, T0 + 21500, &st); /* the +11 s bucket has aged out */
    assert_int_equal(st.calls, 8);
    assert_int_equal(st.failures, 0);
    breaker_get_stats(b, T0 + 40000, &st);
    assert_int_equal(st.calls, 0);
    breaker_free(a);
    breaker_free(b);
}

static void test_open_fails_fast_with_retry_after(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    uint64_t at = trip(b, T0);
    uint32_t retry = 0;
    assert_false(breaker_allow(b, at, &retry));
    assert_int_equal(retry, 30000);
    assert_false(breaker_allow(b, at + 1000, &retry));
    assert_int_equal(retry, 29000);
    assert_false(breaker_allow(b, at + 29999, &retry));
    assert_int_equal(retry, 1);
    breaker_record(b, at + 5, false, 1); /* a straggler: ignored */
    struct breaker_stats st;
    breaker_get_stats(b, at + 29999, &st);
    assert_int_equal(st.state, BREAKER_OPEN);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.calls, 20);
    breaker_free(b);
}

static void test_half_open_admits_exactly_n(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    uint64_t t = trip(b, T0) + 30000;
    assert_int_equal(breaker_state(b, t), BREAKER_HALF_OPEN);
    uint32_t retry = 0;
    for (int i = 0; i < 5; i++)
        assert_true(breaker_allow(b, t, &retry));
    assert_false(breaker_allow(b, t, &retry));
    assert_true(retry > 0);
    assert_false(breaker_allow(b, t + 10, &retry));
    /* Four of the five trials succeed: half-open until the fifth reports. */
    for (int i = 0; i < 4; i++)
        breaker_record(b, t + 20, false, 1);
    assert_int_equal(breaker_state(b, t + 20), BREAKER_HALF_OPEN);
    breaker_free(b);
}

static void test_half_open_failure_reopens(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    uint64_t t = trip(b, T0) + 30000;
    uint32_t retry = 0;
    for (int i = 0; i < 3; i++)
        assert_true(breaker_allow(b, t, &retry));
    breaker_record(b, t + 1, false, 1);
    breaker_record(b, t + 2, true, 1);
    assert_int_equal(breaker_state(b, t + 2), BREAKER_OPEN);
    /* A new open period counted from the failed trial. */
    assert_false(breaker_allow(b, t + 2 + 29999, &retry));
    assert_int_equal(retry, 1);
    assert_true(breaker_allow(b, t + 2 + 30000, &retry));
    assert_int_equal(breaker_state(b, t + 30002), BREAKER_HALF_OPEN);
    breaker_free(b);
}

static void test_half_open_successes_close(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    uint64_t t = trip(b, T0) + 30000;
    for (int i = 0; i < 5; i++)
        call(b, t, false, 1);
    struct breaker_stats st;
    breaker_get_stats(b, t, &st);
    assert_int_equal(st.state, BREAKER_CLOSED);
    assert_int_equal(st.calls, 0); /* a fresh window */
    assert_int_equal(st.state_since_ms, t);
    /* The old failures are forgotten: 19 new failures stay below min_calls. */
    for (int i = 0; i < 19; i++)
        call(b, t, true, 1);
    assert_int_equal(breaker_state(b, t), BREAKER_CLOSED);
    breaker_free(b);
}

static void test_slow_trial_reopens_only_when_slow_tripped(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(10, 10, 50);
    c.slow_rate_pct = 50;
    c.slow_call_ms = 100;
    c.half_open_calls = 1;
    struct breaker *slow = breaker_new(&c, "slow");
    struct breaker *fail = breaker_new(&c, "fail");
    for (int i = 0; i < 10; i++)
        call(slow, T0, false, 500);
    assert_int_equal(breaker_state(slow, T0), BREAKER_OPEN);
    call(slow, T0 + 30000, false, 500);
    assert_int_equal(breaker_state(slow, T0 + 30000), BREAKER_OPEN);
    uint64_t t = trip(fail, T0) + 30000;
    call(fail, t, false, 500); /* slow, but failures tripped it: a success */
    assert_int_equal(breaker_state(fail, t), BREAKER_CLOSED);
    breaker_free(slow);
    breaker_free(fail);
}

static void test_cancel_frees_a_trial_slot(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "t");
    uint64_t t = trip(b, T0) + 30000;
    uint32_t retry;
    for (int i = 0; i < 5; i++)
        assert_true(breaker_allow(b, t, &retry));
    assert_false(breaker_allow(b, t, &retry));
    breaker_cancel(b);
    assert_true(breaker_allow(b, t, &retry));
    assert_false(breaker_allow(b, t, &retry));
    for (int i = 0; i < 5; i++)
        breaker_record(b, t, false, 1);
    assert_int_equal(breaker_state(b, t), BREAKER_CLOSED);
    breaker_cancel(b); /* closed: nothing to free */
    assert_int_equal(breaker_state(b, t), BREAKER_CLOSED);
    breaker_free(b);
}

static uint64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_history_records_transitions(void **state)
{
    (void)state;
    struct cfg_breaker c = count_cfg(20, 20, 50);
    c.half_open_calls = 1;
    struct breaker *b = breaker_new(&c, "t");
    uint64_t before = wall_now_ms();
    uint64_t t = trip(b, T0);         /* CLOSED -> OPEN */
    t += 30000;
    call(b, t, false, 1);             /* OPEN -> HALF_OPEN -> CLOSED */
    struct breaker_stats st;
    breaker_get_stats(b, t, &st);
    uint64_t after = wall_now_ms();
    assert_int_equal(st.ntransitions, 3);
    assert_int_equal(st.history[0].from, BREAKER_CLOSED);
    assert_int_equal(st.history[0].to, BREAKER_OPEN);
    assert_int_equal(st.history[0].at_ms, T0);
    assert_int_equal(st.history[0].failure_rate_pct, 100);
    assert_int_equal(st.history[1].from, BREAKER_OPEN);
    assert_int_equal(st.history[1].to, BREAKER_HALF_OPEN);
    assert_int_equal(st.history[1].at_ms, t);
    assert_int_equal(st.history[2].to, BREAKER_CLOSED);
    assert_int_equal(st.history[2].calls, 1);
    for (uint32_t i = 0; i < st.ntransitions; i++) {
        assert_true(st.history[i].wall_ms >= before);
        assert_true(st.history[i].wall_ms <= after);
    }
    /* 3 + 6 * 3 = 21 transitions: the oldest 5 fall off, the newest is last. */
    for (int k = 0; k < 6; k++) {
        t = trip(b, t + 1) + 30000;
        call(b, t, false, 1);
    }
    breaker_get_stats(b, t, &st);
    assert_int_equal(st.ntransitions, BREAKER_HISTORY);
    assert_int_equal(st.history[BREAKER_HISTORY - 1].to, BREAKER_CLOSED);
    assert_int_equal(st.history[BREAKER_HISTORY - 1].at_ms, t);
    for (uint32_t i = 1; i < st.ntransitions; i++) {
        assert_int_equal(st.history[i].from, st.history[i - 1].to);
        assert_true(st.history[i].at_ms >= st.history[i - 1].at_ms);
    }
    breaker_free(b);
}

static void test_log_line(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    enum log_level old = log_get_level();
    log_setup(fds[1], LOG_WARN);
    struct cfg_breaker c = count_cfg(20, 20, 50);
    struct breaker *b = breaker_new(&c, "group api");
    for (int i = 0; i < 12; i++)
        call(b, T0, true, 1);
    for (int i = 0; i < 8; i++)
        call(b, T0, false, 1);
    log_setup(2, old);
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "[warn] circuit breaker group api: CLOSED -> OPEN "
                                "(failure rate 60% >= 50% over 20 calls)\n"));
    assert_null(strchr(strchr(buf, '\n') + 1, '\n')); /* logged once */
    breaker_free(b);
}

/* ---- four threads ---- */

#define NTHREADS 4
#define PER_THREAD 100000

struct worker_arg {
    struct breaker *b;
    unsigned id;
    bool fail_half;
    uint64_t allowed, refused;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    uint64_t now = T0;
    for (uint32_t i = 0; i < PER_THREAD; i++) {
        if (w->fail_half)
            now = T0 + i / 10; /* every thread's clock advances alike, 10 calls per ms */
        uint32_t retry;
        if (breaker_allow(w->b, now, &retry)) {
            w->allowed++;
            if ((i + w->id) % 97 == 0)
                breaker_cancel(w->b);
            else
                breaker_record(w->b, now, w->fail_half && (i % 2 == 0), 1);
        } else {
            w->refused++;
        }
    }
    return NULL;
}

static void run_threads(struct breaker *b, bool fail_half, uint64_t *allowed, uint64_t *refused)
{
    pthread_t th[NTHREADS];
    struct worker_arg args[NTHREADS];
    for (unsigned i = 0; i < NTHREADS; i++) {
        args[i] = (struct worker_arg){.b = b, .id = i, .fail_half = fail_half};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    *allowed = *refused = 0;
    for (unsigned i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        *allowed += args[i].allowed;
        *refused += args[i].refused;
    }
}

static void test_threads_keep_counts_consistent(void **state)
{
    (void)state;
    enum log_level old = log_get_level();
    log_set_level(LOG_ERROR); /* phase 2 flips state thousands of times */

    /* Phase 1: one time bucket, all successes, never opens: every record must count. */
    struct cfg_breaker c = count_cfg(100, 20, 50);
    c.window = CFG_BREAKER_TIME;
    c.window_size = 60;
    struct breaker *b = breaker_new(&c, "mt1");
    uint64_t allowed, refused;
    run_threads(b, false, &allowed, &refused);
    struct breaker_stats st;
    breaker_get_stats(b, T0, &st);
    assert_int_equal(allowed, NTHREADS * PER_THREAD);
    assert_int_equal(refused, 0);
    uint64_t cancelled = 0;
    for (unsigned id = 0; id < NTHREADS; id++)
        for (uint32_t i = 0; i < PER_THREAD; i++)
            cancelled += (i + id) % 97 == 0;
    assert_int_equal(st.calls, allowed - cancelled);
    assert_int_equal(st.failures, 0);
    breaker_free(b);

    /* Phase 2: half the calls fail and the breaker cycles; the books must still balance. */
    c = count_cfg(100, 20, 50);
    c.open_ms = 2;
    c.half_open_calls = 3;
    b = breaker_new(&c, "mt2");
    run_threads(b, true, &allowed, &refused);
    breaker_get_stats(b, T0 + PER_THREAD / 10, &st);
    assert_int_equal(allowed + refused, NTHREADS * PER_THREAD);
    assert_int_equal(st.rejected, refused);
    assert_true(refused > 0);
    assert_true(st.calls <= 100);
    assert_true(st.failures <= st.calls);
    assert_true(st.ntransitions > 0);
    for (uint32_t i = 1; i < st.ntransitions; i++)
        assert_int_equal(st.history[i].from, st.history[i - 1].to);
    breaker_free(b);
    log_set_level(old);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
    assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
    assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_below_min_calls),
        cmocka_unit_test(test_opens_exactly_at_threshold_over_last_n),
        cmocka_unit_test(test_slow_rate_opens),
        cmocka_unit_test(test_time_window_forgets_old_buckets),
        cmocka_unit_test(test_open_fails_fast_with_retry_after),
        cmocka_unit_test(test_half_open_admits_exactly_n),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_half_open_successes_close),
        cmocka_unit_test(test_slow_trial_reopens_only_when_slow_tripped),
        cmocka_unit_test(test_cancel_frees_a_trial_slot),
        cmocka_unit_test(test_history_records_transitions),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_threads_keep_counts_consistent),
        cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

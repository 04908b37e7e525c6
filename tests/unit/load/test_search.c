/* test_search.c — the saturation search driven by a simulated service: a server with capacity
 * N req/s and a base latency, paced arrivals (no queue below N), a queue growing by (rate - N)
 * per second above it. The search must end within 2-3 % of N, say why it stopped, and keep
 * the curve; an SLO, errors, a too-high start and --max-rate change the outcome as they
 * should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "load/search.h"

struct sim {
    double capacity, base_us, err_ratio, step_s;
};

static struct search_step sim_step(const struct sim *m, double rate)
{
    struct search_step st = {.rate = rate, .err_ratio = m->err_ratio};
    double rho = rate / m->capacity;
    st.nsec = (uint32_t)m->step_s;
    double sum = 0;
    for (uint32_t i = 0; i < st.nsec; i++) {
        double lat = m->base_us * (1 + 0.2 * pow(fmin(rho, 1), 8));
        if (rho > 1) /* the queue after i + 0.5 s, served at capacity */
            lat += (rate - m->capacity) * (i + 0.5) / m->capacity * 1e6;
        st.sec_p50_us[i] = lat + (i % 2 ? 30 : -30); /* a little noise */
        sum += lat;
    }
    st.goodput = fmin(rate, m->capacity);
    st.p50_us = sum / st.nsec;
    st.mean_us = st.p50_us * 1.1;
    st.p99_us = st.sec_p50_us[st.nsec - 1] * 1.5;
    st.p999_us = st.p99_us * 1.2;
    return st;
}

static double run_search(struct search *s, const struct sim *m)
{
    for (int guard = 0; !search_done(s); guard++) {
        assert_true(guard < SEARCH_MAX_STEPS);
        struct search_step st = sim_step(m, search_rate(s));
        search_feed(s, &st);
    }
    return search_result(s);
}

static void test_finds_capacity(void **state)
{
    (void)state;
    static struct search s;
    struct sim m = {.capacity = 200, .base_us = 10000, .step_s = 4};
    search_init(&s, 20, 0, 0, 0);
    double r = run_search(&s, &m);
    assert_true(r <= 200 && r >= 200 * 0.97);
    assert_non_null(s.stop_reason);
    assert_true(s.hi > r && (s.hi - r) <= 0.02 * r + 1e-9);
    /* grew ×1.25, then bisected: the first steps are 20, 25, 31.25 */
    assert_true(fabs(s.steps[1].rate - 25) < 1e-9 && fabs(s.steps[2].rate - 31.25) < 1e-9);
    assert_true(s.nsteps < 25);
    const struct search_step *k = search_knee(&s);
    assert_non_null(k);
    assert_null(k->failed);
    assert_true(k->rate == r);
}

static void test_slo_stops_earlier(void **state)
{
    (void)state;
    static struct search s;
    /* latency rises to base × 1.2 near capacity: an SLO of 16 ms on p99 stops it below */
    struct sim m = {.capacity = 1000, .base_us = 10000, .step_s = 4};
    search_init(&s, 100, 0, 16000, 0);
    double r = run_search(&s, &m);
    assert_true(r > 800 && r < 900); /* p99 = 15 ms x (1 + 0.2 rho^8) crosses 16 ms at 0.87 */
    assert_string_equal(s.stop_reason, "p99 > SLO");
}

static void test_errors_and_bounds(void **state)
{
    (void)state;
    static struct search s;
    struct sim m = {.capacity = 500, .base_us = 2000, .err_ratio = 0.05, .step_s = 4};
    search_init(&s, 50, 0, 0, 0);
    assert_true(run_search(&s, &m) == 0); /* even the first step fails */
    assert_string_equal(s.stop_reason, "errors+timeouts > 1%");
    assert_null(search_knee(&s));

    m.err_ratio = 0;
    search_init(&s, 50, 120, 0, 1); /* --max-rate below the capacity */
    assert_true(run_search(&s, &m) == 120);
    assert_string_equal(s.stop_reason, "reached --max-rate");
}

/* A stall during one step (a busy machine) fails it; the rerun passes, so the search goes on
 * to the real capacity. Without reruns it stops at the stall. */
static void test_rerun_absorbs_a_stall(void **state)
{
    (void)state;
    static struct search s;
    struct sim m = {.capacity = 200, .base_us = 10000, .step_s = 4};
    for (uint32_t confirm = 0; confirm <= 1; confirm++) {
        search_init(&s, 20, 0, 0, confirm);
        for (int i = 0; !search_done(&s); i++) {
            assert_true(i < SEARCH_MAX_STEPS);
            struct search_step st = sim_step(&m, search_rate(&s));
            if (i == 4) /* the fifth step (48.8 req/s) meets a 1 s stall */
                st.goodput = st.rate * 0.8, st.p50_us *= 30;
            search_feed(&s, &st);
        }
        if (confirm) {
            assert_true(search_result(&s) >= 194 && search_result(&s) <= 200);
            assert_true(s.steps[4].rerun && s.steps[4].failed);
            assert_true(s.steps[5].rate == s.steps[4].rate && !s.steps[5].failed);
            /* every counted failure was confirmed by a second run at the same rate */
            for (uint32_t i = 0; i < s.nsteps; i++)
                if (s.steps[i].rerun)
                    assert_true(i + 1 < s.nsteps && s.steps[i + 1].rate == s.steps[i].rate);
        } else {
            assert_true(search_result(&s) < 50);
        }
    }
}

static void test_trend(void **state)
{
    (void)state;
    struct search_step st = {.nsec = 5, .p50_us = 3000};
    for (uint32_t i = 0; i < 5; i++)
        st.sec_p50_us[i] = 3000 + (i % 2) * 400;
    assert_false(search_trending_up(&st));
    for (uint32_t i = 0; i < 5; i++)
        st.sec_p50_us[i] = 3000 + i * 800.0;
    assert_true(search_trending_up(&st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_capacity),
        cmocka_unit_test(test_slo_stops_earlier),
        cmocka_unit_test(test_errors_and_bounds),
        cmocka_unit_test(test_rerun_absorbs_a_stall),
        cmocka_unit_test(test_trend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

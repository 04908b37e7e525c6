/* test_lb_weighted.c — smooth weighted round robin: exact shares, nginx's interleaving, no
 * bursts, slow start honoured, a returning server not flooded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lb_fixture.h"

#define W (&lb_weighted)
#define PICKS 10000

static void test_weights_5_3_2_within_2_percent(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2};
    fx_init(&f, 3, w);
    void *st = W->create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    assert_int_equal(fx_count(W, st, &f, PICKS, hits), 0);
    assert_true(fx_share_ok(hits[0], PICKS, 0.50, 0.02));
    assert_true(fx_share_ok(hits[1], PICKS, 0.30, 0.02));
    assert_true(fx_share_ok(hits[2], PICKS, 0.20, 0.02));
    /* In fact exact: every window of 10 picks holds 5, 3 and 2. */
    assert_int_equal(hits[0], 5000);
    assert_int_equal(hits[1], 3000);
    assert_int_equal(hits[2], 2000);
    W->destroy(st);
}

static void test_smooth_sequence_matches_nginx(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2};
    fx_init(&f, 3, w);
    void *st = W->create(f.ptr, f.n);
    static const int want[] = {0, 1, 2, 0, 0, 1, 0, 2, 1, 0}; /* a b c a a b a c b a */
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 10; k++)
            assert_int_equal(fx_pick(W, st, &f), want[k]);
    W->destroy(st);
}

static int longest_run(const struct lb_ops *ops, void *st, struct fixture *f, int picks)
{
    int prev = -2, run = 0, longest = 0;
    for (int k = 0; k < picks; k++) {
        int i = fx_pick(ops, st, f);
        run = (i == prev) ? run + 1 : 1;
        prev = i;
        longest = run > longest ? run : longest;
    }
    return longest;
}

static void test_no_long_runs(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2};
    fx_init(&f, 3, w);
    void *st = W->create(f.ptr, f.n);
    assert_true(longest_run(W, st, &f, PICKS) <= 2);
    W->destroy(st);

    /* 10:1:1 — a naive expansion repeats runs of 10; smooth gives aaaabaaacaaa, runs of at
     * most 7 across the cycle boundary (the best possible is 5). */
    const uint32_t skew[] = {10, 1, 1};
    fx_init(&f, 3, skew);
    st = W->create(f.ptr, f.n);
    assert_true(longest_run(W, st, &f, PICKS) <= 7);
    W->destroy(st);
}

static void test_slow_start_uses_weight_now(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 2, NULL);
    f.srv[0].weight = f.srv[1].weight = 10;
    fx_weight_now(&f, 0, 10);
    fx_weight_now(&f, 1, 2); /* ramping up: a sixth of the traffic */
    void *st = W->create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    fx_count(W, st, &f, 1200, hits);
    assert_int_equal(hits[0], 1000);
    assert_int_equal(hits[1], 200);
    W->destroy(st);
}

static void test_returning_server_not_flooded(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 3, NULL);
    void *st = W->create(f.ptr, f.n);
    fx_count(W, st, &f, 7, (int[FX_MAX]){0});
    fx_up(&f, 2, false);
    fx_count(W, st, &f, 1001, (int[FX_MAX]){0});
    fx_up(&f, 2, true);
    /* Right after coming back it gets its third, not a catch-up burst. */
    assert_true(longest_run(W, st, &f, 300) <= 2);
    int hits[FX_MAX] = {0};
    fx_count(W, st, &f, 3000, hits);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hits[i], 1000);
    W->destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_5_3_2_within_2_percent),
        cmocka_unit_test(test_smooth_sequence_matches_nginx),
        cmocka_unit_test(test_no_long_runs),
        cmocka_unit_test(test_slow_start_uses_weight_now),
        cmocka_unit_test(test_returning_server_not_flooded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

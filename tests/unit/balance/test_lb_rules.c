/* test_lb_rules.c — the rules of lb.h, checked for every registered strategy: the registry and
 * lb_names() agree; down servers and weight_now = 0 are never picked; backups serve only while
 * every primary is out, and primaries take over again when one is back; ctx->exclude is avoided
 * whenever another server can be picked; nothing usable (or no servers) gives -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lb_fixture.h"

static const char *const names[] = {"round_robin", "random", "least_connections", "weighted",
                                    "hash"};
#define NSTRAT (sizeof(names) / sizeof(names[0]))
#define PICKS 2000

static const struct lb_ops *strat(size_t k)
{
    const struct lb_ops *ops = lb_find(names[k]);
    assert_non_null(ops);
    return ops;
}

/* Picks PICKS times with keys that vary (so "hash" covers the ring, not one point). */
static void pick_many(const struct lb_ops *ops, void *st, struct fixture *f, int exclude, int *hits,
                      int *none)
{
    char key[32];
    for (int k = 0; k < PICKS; k++) {
        int len = snprintf(key, sizeof(key), "client-%d", k);
        struct lb_ctx ctx = {
            .key = str_from(key, (size_t)len), .rand = fx_rand(f), .exclude = exclude};
        int i = ops->pick(st, f->ptr, f->n, &ctx);
        if (i < 0)
            (*none)++;
        else
            hits[i]++;
    }
}

static void test_registry_matches_names(void **state)
{
    (void)state;
    assert_string_equal(lb_names(), "round_robin, random, least_connections, weighted, hash");
    for (size_t k = 0; k < NSTRAT; k++)
        assert_string_equal(strat(k)->name, names[k]);
    assert_null(lb_find("nope"));
    assert_null(lb_find(""));
}

static void test_down_servers_never_picked(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 5, NULL);
        void *st = strat(k)->create(f.ptr, f.n);
        assert_non_null(st);
        fx_up(&f, 1, false);
        fx_up(&f, 3, false);
        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(none, 0);
        assert_int_equal(hits[1], 0);
        assert_int_equal(hits[3], 0);
        assert_true(hits[0] > 0 && hits[2] > 0 && hits[4] > 0);
        strat(k)->destroy(st);
    }
}

static void test_zero_weight_now_never_picked(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 3, NULL);
        void *st = strat(k)->create(f.ptr, f.n);
        fx_weight_now(&f, 0, 0); /* slow start at its very beginning */
        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(none, 0);
        assert_int_equal(hits[0], 0);
        fx_weight_now(&f, 0, 1); /* ramped: picked again */
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_true(hits[0] > 0);
        strat(k)->destroy(st);
    }
}

static void test_backups_only_when_all_primaries_out(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 4, NULL);
        f.srv[2].backup = true;
        f.srv[3].backup = true;
        void *st = strat(k)->create(f.ptr, f.n);

        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(hits[2] + hits[3], 0);
        assert_int_equal(hits[0] + hits[1], PICKS);

        fx_up(&f, 0, false); /* one primary left: still no backup */
        memset(hits, 0, sizeof(hits));
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(hits[1], PICKS);

        fx_weight_now(&f, 1, 0); /* every primary out (down or weight 0): backups share */
        memset(hits, 0, sizeof(hits));
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(hits[0] + hits[1], 0);
        assert_true(hits[2] > 0 && hits[3] > 0);
        assert_int_equal(hits[2] + hits[3], PICKS);

        fx_up(&f, 0, true); /* a primary is back: backups idle again */
        memset(hits, 0, sizeof(hits));
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(hits[0], PICKS);
        assert_int_equal(none, 0);
        strat(k)->destroy(st);
    }
}

static void test_exclude_honoured(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 3, NULL);
        f.srv[2].backup = true;
        void *st = strat(k)->create(f.ptr, f.n);
        int hits[FX_MAX] = {0}, none = 0;

        pick_many(strat(k), st, &f, 0, hits, &none); /* the other primary takes everything */
        assert_int_equal(hits[1], PICKS);

        fx_up(&f, 1, false); /* excluded is the only primary: it beats the backup (retrying
                              * on the same healthy primary is better than failing over) */
        memset(hits, 0, sizeof(hits));
        pick_many(strat(k), st, &f, 0, hits, &none);
        assert_int_equal(hits[0], PICKS);

        fx_up(&f, 0, false); /* no primary: excluding the only backup still returns it */
        memset(hits, 0, sizeof(hits));
        pick_many(strat(k), st, &f, 2, hits, &none);
        assert_int_equal(hits[2], PICKS);

        fx_up(&f, 2, false); /* an excluded server that is down is not a fallback */
        pick_many(strat(k), st, &f, 2, hits, &none);
        assert_int_equal(none, PICKS);
        strat(k)->destroy(st);
    }
}

static void test_exclude_spreads_over_the_rest(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 4, NULL);
        void *st = strat(k)->create(f.ptr, f.n);
        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, 2, hits, &none);
        assert_int_equal(hits[2], 0);
        assert_true(hits[0] > PICKS / 10 && hits[1] > PICKS / 10 && hits[3] > PICKS / 10);
        strat(k)->destroy(st);
    }
}

static void test_all_down_gives_minus_one(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 3, NULL);
        f.srv[2].backup = true;
        void *st = strat(k)->create(f.ptr, f.n);
        for (uint32_t i = 0; i < f.n; i++)
            fx_up(&f, i, false);
        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(none, PICKS);
        pick_many(strat(k), st, &f, 1, hits, &none);
        assert_int_equal(none, 2 * PICKS);
        strat(k)->destroy(st);
    }
}

static void test_empty_group(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 0, NULL);
        void *st = strat(k)->create(f.ptr, 0);
        assert_non_null(st); /* NULL would mean out of memory */
        assert_int_equal(fx_pick(strat(k), st, &f), -1);
        strat(k)->destroy(st);
    }
}

static void test_single_server(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSTRAT; k++) {
        struct fixture f;
        fx_init(&f, 1, NULL);
        void *st = strat(k)->create(f.ptr, 1);
        int hits[FX_MAX] = {0}, none = 0;
        pick_many(strat(k), st, &f, -1, hits, &none);
        assert_int_equal(hits[0], PICKS);
        strat(k)->destroy(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_matches_names),
        cmocka_unit_test(test_down_servers_never_picked),
        cmocka_unit_test(test_zero_weight_now_never_picked),
        cmocka_unit_test(test_backups_only_when_all_primaries_out),
        cmocka_unit_test(test_exclude_honoured),
        cmocka_unit_test(test_exclude_spreads_over_the_rest),
        cmocka_unit_test(test_all_down_gives_minus_one),
        cmocka_unit_test(test_empty_group),
        cmocka_unit_test(test_single_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

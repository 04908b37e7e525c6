/* test_freelist.c — the bounded free list: reuse order, the cap, and decay freeing only the
 * blocks that went unused for a whole period. Leaks show up under ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/freelist.h"

static void fill(struct freelist *fl, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        assert_true(freelist_put(fl, malloc(16)));
}

/* A load peak of n blocks at once, then all of them back. */
static void take_and_return(struct freelist *fl, int n)
{
    void *taken[64];
    for (int i = 0; i < n; i++)
        taken[i] = freelist_get(fl);
    for (int i = 0; i < n; i++)
        assert_true(freelist_put(fl, taken[i]));
}

static void test_get_put_cap(void **state)
{
    (void)state;
    struct freelist fl;
    assert_int_equal(freelist_init(&fl, 2), 0);
    assert_null(freelist_get(&fl));
    void *a = malloc(16), *b = malloc(16), *c = malloc(16);
    assert_true(freelist_put(&fl, a));
    assert_true(freelist_put(&fl, b));
    assert_false(freelist_put(&fl, c)); /* full: the caller frees */
    free(c);
    assert_ptr_equal(freelist_get(&fl), b); /* last in, first out: the warmest block */
    assert_ptr_equal(freelist_get(&fl), a);
    assert_null(freelist_get(&fl));
    free(a);
    free(b);
    freelist_destroy(&fl);
}

static void test_decay_frees_unused(void **state)
{
    (void)state;
    struct freelist fl;
    assert_int_equal(freelist_init(&fl, 64), 0);
    fill(&fl, 10);
    /* The first period started empty: nothing was in the list all along. */
    assert_int_equal(freelist_decay(&fl, 2), 0);
    assert_int_equal(fl.n, 10);
    /* A whole period without a get: all but `keep` go. */
    assert_int_equal(freelist_decay(&fl, 2), 8);
    assert_int_equal(fl.n, 2);
    assert_int_equal(freelist_decay(&fl, 2), 0);
    freelist_destroy(&fl);
}

static void test_decay_keeps_what_was_used(void **state)
{
    (void)state;
    struct freelist fl;
    assert_int_equal(freelist_init(&fl, 64), 0);
    fill(&fl, 20);
    freelist_decay(&fl, 0);
    /* Load took 15 blocks at its peak and gave them back: 5 were never used. */
    take_and_return(&fl, 15);
    assert_int_equal(freelist_decay(&fl, 0), 5);
    assert_int_equal(fl.n, 15);
    /* The same load again: nothing more goes. */
    take_and_return(&fl, 15);
    assert_int_equal(freelist_decay(&fl, 0), 0);
    /* Load gone: the rest goes, down to `keep`. */
    assert_int_equal(freelist_decay(&fl, 3), 12);
    assert_int_equal(fl.n, 3);
    freelist_destroy(&fl);
}

static void test_decay_keep_above_held(void **state)
{
    (void)state;
    struct freelist fl;
    assert_int_equal(freelist_init(&fl, 8), 0);
    fill(&fl, 3);
    freelist_decay(&fl, 0);
    assert_int_equal(freelist_decay(&fl, 5), 0);
    assert_int_equal(fl.n, 3);
    freelist_destroy(&fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_cap),
        cmocka_unit_test(test_decay_frees_unused),
        cmocka_unit_test(test_decay_keeps_what_was_used),
        cmocka_unit_test(test_decay_keep_above_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

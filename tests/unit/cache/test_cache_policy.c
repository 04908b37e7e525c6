/* test_cache_policy.c — each eviction policy on fake nodes: lru evicts the least recently
 * used, fifo ignores hits, lfu keeps the frequent, s3fifo drops one-hit wonders from its small
 * queue, promotes what was hit, and readmits a ghost straight into its main queue. Every
 * policy: removing nodes keeps its accounting right, and it empties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "cache/cache_policy.h"

#define N 20

struct pol {
    const struct cache_policy_ops *ops;
    void *st;
    struct cache_pnode nodes[N];
};

static void pol_init(struct pol *p, const struct cache_policy_ops *ops, uint64_t cap)
{
    p->ops = ops;
    p->st = calloc(1, ops->state_size);
    assert_non_null(p->st);
    assert_int_equal(ops->init(p->st, cap), 0);
    for (int i = 0; i < N; i++)
        p->nodes[i] = (struct cache_pnode){.hash = 1000 + (uint64_t)i, .charge = 1};
}

static void pol_fini(struct pol *p)
{
    p->ops->fini(p->st);
    free(p->st);
}

static int evict(struct pol *p)
{
    struct cache_pnode *v = p->ops->victim(p->st);
    if (!v)
        return -1;
    p->ops->remove(p->st, v);
    return (int)(v - p->nodes);
}

static void test_lru(void **state)
{
    (void)state;
    struct pol p;
    pol_init(&p, &cache_policy_lru, 100);
    for (int i = 0; i < 4; i++)
        p.ops->insert(p.st, &p.nodes[i]);
    p.ops->hit(p.st, &p.nodes[0]);
    assert_int_equal(evict(&p), 1);
    assert_int_equal(evict(&p), 2);
    assert_int_equal(evict(&p), 3);
    assert_int_equal(evict(&p), 0);
    assert_int_equal(evict(&p), -1);
    pol_fini(&p);
}

static void test_fifo(void **state)
{
    (void)state;
    struct pol p;
    pol_init(&p, &cache_policy_fifo, 100);
    for (int i = 0; i < 3; i++)
        p.ops->insert(p.st, &p.nodes[i]);
    p.ops->hit(p.st, &p.nodes[0]);
    assert_int_equal(evict(&p), 0);
    p.ops->remove(p.st, &p.nodes[2]);
    assert_int_equal(evict(&p), 1);
    assert_int_equal(evict(&p), -1);
    pol_fini(&p);
}

static void test_lfu(void **state)
{
    (void)state;
    struct pol p;
    pol_init(&p, &cache_policy_lfu, 100);
    for (int i = 0; i < 4; i++)
        p.ops->insert(p.st, &p.nodes[i]);
    for (int k = 0; k < 3; k++)
        p.ops->hit(p.st, &p.nodes[0]);
    p.ops->hit(p.st, &p.nodes[1]);
    assert_int_equal(evict(&p), 2); /* never hit, oldest */
    assert_int_equal(evict(&p), 3);
    assert_int_equal(evict(&p), 1); /* one hit */
    assert_int_equal(evict(&p), 0);
    pol_fini(&p);
}

static void test_s3fifo(void **state)
{
    (void)state;
    struct pol p;
    pol_init(&p, &cache_policy_s3fifo, 10); /* small queue: 1 byte */
    for (int i = 0; i < 5; i++)
        p.ops->insert(p.st, &p.nodes[i]);
    p.ops->hit(p.st, &p.nodes[0]);
    /* 0 was hit while small: promoted; 1 goes (one-hit wonder) */
    assert_int_equal(evict(&p), 1);
    /* 1 is remembered: inserted again it enters the main queue, and survives the small ones */
    p.ops->insert(p.st, &p.nodes[1]);
    assert_int_equal(p.nodes[1].queue, 1);
    assert_int_equal(evict(&p), 2);
    assert_int_equal(evict(&p), 3);
    assert_int_equal(evict(&p), 4);
    /* only main is left: 0 (promoted first) then 1 */
    assert_int_equal(evict(&p), 0);
    assert_int_equal(evict(&p), 1);
    assert_int_equal(evict(&p), -1);
    pol_fini(&p);
}

static void test_all_empty_out(void **state)
{
    (void)state;
    for (size_t k = 0; cache_policies[k]; k++) {
        struct pol p;
        pol_init(&p, cache_policies[k], 8);
        for (int i = 0; i < N; i++) {
            p.ops->insert(p.st, &p.nodes[i]);
            if (i % 3 == 0)
                p.ops->hit(p.st, &p.nodes[i / 2]);
        }
        p.ops->remove(p.st, &p.nodes[5]);
        int n = 0;
        while (evict(&p) >= 0)
            n++;
        assert_int_equal(n, N - 1);
        pol_fini(&p);
    }
    assert_ptr_equal(cache_policy_find("s3fifo"), CACHE_POLICY_DEFAULT);
    assert_null(cache_policy_find("arc"));
}

static void test_tinylfu_admission(void **state)
{
    (void)state;
    struct pol p;
    pol_init(&p, &cache_policy_tinylfu, 10 * 4096);
    for (int i = 0; i < N; i++)
        p.nodes[i].charge = 4096;
    /* 0..9 fill the cache; 0 is popular */
    for (int i = 0; i < 10; i++)
        p.ops->insert(p.st, &p.nodes[i]);
    for (int k = 0; k < 5; k++)
        p.ops->hit(p.st, &p.nodes[0]);
    /* a stream of one-hit newcomers: each goes itself rather than pushing the popular out */
    for (int i = 10; i < N; i++) {
        p.ops->insert(p.st, &p.nodes[i]);
        int v = evict(&p);
        assert_int_not_equal(v, 0);
    }
    pol_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru), cmocka_unit_test(test_fifo), cmocka_unit_test(test_lfu),
        cmocka_unit_test(test_s3fifo), cmocka_unit_test(test_tinylfu_admission),
        cmocka_unit_test(test_all_empty_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

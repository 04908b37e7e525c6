/* test_kv_redis.c — kv_hit_lock (src/state/kv.c) on the memory backend (hit, then lock over the
 * rule) and on kv_redis without a Redis connection on the thread: the same answers as memory
 * (its local view), the check answered at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "state/kv.h"

static int dones;

static void done(struct kv_call *call)
{
    (void)call;
    dones++;
}

static void run(const struct kv_ops *ops)
{
    void *st = ops->open(1000);
    assert_non_null(st);
    struct str k = STR_LIT("zone|ip|10.0.0.1");
    struct kv_rule rule = {.count = 3, .distinct = 0, .base_ms = 1000, .max_ms = 8000,
                           .doubling = true};
    struct kv_hit h;
    uint64_t now = 5000;
    assert_int_equal(kv_hit_lock(ops, st, k, k, 0, now, 10000, &rule, &h), 0);
    assert_int_equal(h.count, 1);
    assert_int_equal(kv_hit_lock(ops, st, k, k, 0, now, 10000, &rule, &h), 0);
    assert_int_equal(kv_hit_lock(ops, st, k, k, 0, now, 10000, &rule, &h), 1000);
    struct kv_call c = {.key = k, .now_ms = now + 10, .done = done};
    dones = 0;
    kv_call_check(ops, st, &c);
    assert_int_equal(dones, 1);
    assert_false(c.pending);
    assert_int_equal(c.until_ms, now + 1000);
    assert_int_equal(c.strikes, 1);
    /* the next lock doubles */
    for (int i = 0; i < 2; i++)
        assert_int_equal(kv_hit_lock(ops, st, k, k, 0, now + 2000, 10000, &rule, NULL), 0);
    assert_int_equal(kv_hit_lock(ops, st, k, k, 0, now + 2000, 10000, &rule, NULL), 2000);
    /* distinct members: an account locks only with 2 addresses */
    struct str a = STR_LIT("zone|account|alice");
    rule.distinct = 2;
    for (int i = 0; i < 3; i++)
        assert_int_equal(kv_hit_lock(ops, st, a, a, 7, now, 10000, &rule, &h), 0);
    assert_int_equal(h.distinct, 1);
    assert_int_equal(kv_hit_lock(ops, st, a, a, 8, now, 10000, &rule, &h), 1000);
    /* a count key apart from the lock key (abnormal access) */
    struct str ck = STR_LIT("abnormal|1.2.3.4|r0"), lk = STR_LIT("abnormal|1.2.3.4");
    rule = (struct kv_rule){.count = 2, .base_ms = 500, .max_ms = 500};
    assert_int_equal(kv_hit_lock(ops, st, ck, lk, 0, now, 1000, &rule, NULL), 0);
    assert_int_equal(kv_hit_lock(ops, st, ck, lk, 0, now, 1000, &rule, NULL), 500);
    uint32_t strikes;
    assert_int_equal(ops->check(st, lk, now, &strikes), now + 500);
    assert_int_equal(ops->check(st, ck, now, &strikes), 0);
    assert_true(ops->unlock(st, k));
    assert_int_equal(ops->check(st, k, now + 2100, &strikes), 0);
    ops->close(st);
}

static void test_memory(void **state)
{
    (void)state;
    run(&kv_memory);
}

static void test_redis_without_connection(void **state)
{
    (void)state;
    run(&kv_redis);
    assert_ptr_equal(kv_find("redis"), &kv_redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_redis_without_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_wr_store.c — the store's call path (src/waitroom/wr_store.c): the memory backend answers
 * inside wr_store_call (done ran, nothing pending), revoke's answer, and the Redis backend
 * without a connection on the thread (answered at once as failed, so the module applies its
 * on_store_error policy) and its nonce (the same in every process for a room name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "waitroom/wr_store.h"

static int dones;

static void done(struct wr_call *call)
{
    (void)call;
    dones++;
}

static struct wr_params params(void)
{
    return (struct wr_params){.max_active = 1, .admit_per_minute = 60, .window_ms = 60000,
                              .session_ms = 60000, .abandon_ms = 60000, .mode = WR_FIFO};
}

static void test_memory_answers_at_once(void **state)
{
    (void)state;
    uint32_t nonce;
    void *room = wr_store_memory.open("r", &nonce);
    assert_non_null(room);
    int64_t now = 1700000000000LL;
    struct wr_call c = {.op = WR_OP_ARRIVE, .p = params(), .now = now, .done = done};
    dones = 0;
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(dones, 1);
    assert_false(c.pending);
    assert_false(c.failed);
    assert_int_equal(c.res.v, WR_ADMITTED);
    uint64_t sid = c.res.id;
    uint32_t slot = c.res.slot;
    c = (struct wr_call){.op = WR_OP_ARRIVE, .p = params(), .now = now, .done = done};
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(c.res.v, WR_WAITING); /* max_active 1 */
    uint64_t ticket = c.res.id;
    c = (struct wr_call){.op = WR_OP_TOUCH, .p = params(), .id = sid, .slot = slot, .now = now,
                         .done = done};
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(c.res.v, WR_ADMITTED);
    assert_false(c.res.fresh);
    c = (struct wr_call){.op = WR_OP_REVOKE, .p = params(), .id = sid, .slot = slot, .now = now,
                         .done = done};
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(c.res.v, WR_ADMITTED); /* it was live */
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(c.res.v, WR_PASS);     /* not any more */
    c = (struct wr_call){.op = WR_OP_POLL, .p = params(), .id = ticket, .now = now + 1000,
                         .done = done};
    wr_store_call(&wr_store_memory, room, &c);
    assert_int_equal(dones, 6);
    wr_store_cancel(&wr_store_memory, room, &c); /* nothing pending: no effect */
    wr_store_memory.close(room);
}

static void test_redis_without_connection(void **state)
{
    (void)state;
    uint32_t n1, n2, n3;
    void *a = wr_store_redis.open("concert", &n1);
    void *b = wr_store_redis.open("concert", &n2);
    void *c3 = wr_store_redis.open("theatre", &n3);
    assert_int_equal(n1, n2);
    assert_int_not_equal(n1, n3);
    struct wr_call c = {.op = WR_OP_ARRIVE, .p = params(), .now = 1, .done = done};
    dones = 0;
    wr_store_call(&wr_store_redis, a, &c);
    assert_int_equal(dones, 1);
    assert_true(c.failed);
    assert_false(c.pending);
    wr_store_redis.pause(a, true); /* no connection: nothing sent, no crash */
    wr_store_redis.close(a);
    wr_store_redis.close(b);
    wr_store_redis.close(c3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_answers_at_once),
        cmocka_unit_test(test_redis_without_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

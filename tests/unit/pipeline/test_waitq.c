/* test_waitq.c — waking the oldest waiter here before posting to another worker, posts that
 * reach the other worker's oldest entry, wake_all on every worker, entries with their own wake
 * (a host waiting for a connection slot), and a removed entry that is never woken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/exchange.h"
#include "pipeline/waitq.h"

struct posted {
    uint32_t to;
    void (*fn)(void *arg);
    void *arg;
};

static struct posted posts[8];
static uint32_t nposts;
static int woken[4];

static int fake_post(struct pipeline_worker *self, uint32_t to, void (*fn)(void *arg), void *arg)
{
    (void)self;
    posts[nposts++] = (struct posted){.to = to, .fn = fn, .arg = arg};
    return 0;
}

static void run_posts(void)
{
    for (uint32_t i = 0; i < nposts; i++)
        posts[i].fn(posts[i].arg);
    nposts = 0;
}

struct slot_waiter {
    struct waitq_entry e;
    int id;
};

static void on_wake(struct waitq_entry *e)
{
    woken[((struct slot_waiter *)(void *)e)->id]++;
}

static void wakes_here_first_then_elsewhere(void **state)
{
    (void)state;
    memset(woken, 0, sizeof(woken));
    struct pipeline_worker w0 = {.id = 0, .post = fake_post}, w1 = {.id = 1, .post = fake_post};
    struct waitq *q = waitq_new(2);
    assert_non_null(q);
    struct slot_waiter a = {.id = 0}, b = {.id = 1}, c = {.id = 2};
    a.e.wake = b.e.wake = c.e.wake = on_wake;
    waitq_add_on(q, &a.e, 0);
    waitq_add_on(q, &b.e, 1);
    waitq_add_on(q, &c.e, 0);
    assert_int_equal(waitq_count(q), 3);

    waitq_wake_one(q, &w0); /* worker 0's oldest, at once */
    assert_int_equal(woken[0], 1);
    assert_int_equal(nposts, 0);
    waitq_remove(&a.e);
    waitq_remove(&c.e);
    waitq_remove(&c.e); /* twice is harmless */
    assert_int_equal(waitq_count(q), 1);

    waitq_wake_one(q, &w0); /* nobody here: posted to worker 1 */
    assert_int_equal(nposts, 1);
    assert_int_equal(posts[0].to, 1);
    assert_int_equal(woken[1], 0);
    run_posts();
    assert_int_equal(woken[1], 1);

    /* a posted wake whose entry left meanwhile wakes nobody, and the queue outlives the post */
    waitq_wake_one(q, &w0);
    assert_int_equal(nposts, 1);
    waitq_remove(&b.e);
    waitq_unref(q); /* the post still holds a reference */
    run_posts();
    assert_int_equal(woken[1], 1);

    q = waitq_new(2);
    waitq_add_on(q, &a.e, 0);
    waitq_add_on(q, &b.e, 1);
    waitq_add_on(q, &c.e, 0);
    waitq_wake_all(q, &w1); /* worker 1's own at once, worker 0's by a post */
    assert_int_equal(woken[1], 2);
    assert_int_equal(nposts, 1);
    run_posts();
    assert_int_equal(woken[0], 2);
    assert_int_equal(woken[2], 1);
    waitq_remove(&a.e);
    waitq_remove(&b.e);
    waitq_remove(&c.e);
    assert_int_equal(waitq_count(q), 0);
    waitq_wake_one(q, &w0); /* empty: nothing */
    assert_int_equal(nposts, 0);
    waitq_unref(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wakes_here_first_then_elsewhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

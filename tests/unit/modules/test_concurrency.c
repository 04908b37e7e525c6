/* test_concurrency.c — the concurrency module: slots across workers, a bounded queue, 503 when
 * it is full, wake-ups (same worker and another worker) instead of polling, queue timeout. */
#include "module_fixture.h"

static const char *yaml =
    "listen: [\"127.0.0.1:1\"]\nupstreams:\n  g:\n    servers: [\"127.0.0.1:9\"]\n"
    "    concurrency: {max: 1, queue: 2, queue_timeout: 100ms}\n"
    "limits: {shed_loop_lag: off}\n"
    "routes:\n  - {path: /, upstream: g, request_buffering: off}\n";

#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

static void slot_queue_reject_and_wake(void **state)
{
    (void)state;
    fx_setup(yaml);
    assert_int_equal(fx.chain->n, 1);
    struct fx_exchange *a = fx_exchange(0, GET, NULL);
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = fx_exchange(1, GET, NULL); /* another worker */
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    struct fx_exchange *c = fx_exchange(0, GET, NULL);
    assert_int_equal(pipeline_request(&c->x), PIPELINE_WAIT);
    struct fx_exchange *d = fx_exchange(0, GET, NULL);
    assert_int_equal(pipeline_request(&d->x), PIPELINE_RESPOND); /* queue of 2 is full */
    assert_int_equal(d->x.reply.status, 503);
    fx_end(d, 503);

    /* a ends on worker 0: its local waiter c goes first (no poll, no timer needed). */
    fx_end(a, 200);
    assert_int_equal(c->done_calls, 1);
    assert_int_equal(c->done, PIPELINE_NEXT);
    assert_int_equal(b->done_calls, 0);
    assert_int_equal(fx.nposts, 0);
    /* c ends: the only waiter is on worker 1, woken through a posted call. */
    fx_end(c, 200);
    assert_int_equal(b->done_calls, 0);
    assert_int_equal(fx_run_posts(), 1);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->done, PIPELINE_NEXT);
    fx_end(b, 200);
    fx_teardown();
}

static void queue_timeout_answers_503(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *a = fx_exchange(0, GET, NULL);
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = fx_exchange(0, GET, NULL);
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    fx_advance(50);
    assert_int_equal(b->done_calls, 0);
    fx_advance(60);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->done, PIPELINE_RESPOND);
    assert_int_equal(b->x.reply.status, 503);
    fx_end(b, 503);
    /* A waiter that leaves (client gone) gives its place back. */
    struct fx_exchange *c = fx_exchange(1, GET, NULL);
    assert_int_equal(pipeline_request(&c->x), PIPELINE_WAIT);
    fx_end(c, 0);
    fx_end(a, 200);
    assert_int_equal(fx_run_posts(), 0);
    /* The slot is free again. */
    struct fx_exchange *d = fx_exchange(1, GET, NULL);
    assert_int_equal(pipeline_request(&d->x), PIPELINE_NEXT);
    fx_end(d, 200);
    fx_teardown();
}

static void off_without_a_limit(void **state)
{
    (void)state;
    fx_setup(FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\n"
                           "routes:\n  - {path: /, upstream: g, request_buffering: off}\n");
    assert_int_equal(fx.chain->n, 0);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slot_queue_reject_and_wake),
        cmocka_unit_test(queue_timeout_answers_503),
        cmocka_unit_test(off_without_a_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

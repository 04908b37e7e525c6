/* test_request_buffering.c — the request-buffering module: asks the host for the body of a
 * request that has one (Content-Length or chunked) and waits until it is in; goes on at once
 * without a body, and when the host keeps the body where modules cannot see it. (A route with
 * `request_buffering: off` does not have it in its chain: the other modules' tests run there.) */
#include "module_fixture.h"

static const char *yaml = FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\n"
                                        "routes:\n  - {path: /, upstream: g}\n";

static void waits_for_the_body(void **state)
{
    (void)state;
    fx_setup(yaml);
    assert_int_equal(fx.chain->n, 1);
    struct fx_exchange *e =
        fx_exchange(0, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", NULL);
    e->body = "hello";
    e->body_async = true;
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    assert_int_equal(e->need_body_calls, 1);
    fx_supply_body(e);
    assert_int_equal(e->done_calls, 1);
    assert_int_equal(e->done, PIPELINE_NEXT);
    fx_end(e, 200);

    e = fx_exchange(0, "PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", NULL);
    e->body = "hello"; /* read at once (it came with the head) */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 1);
    fx_end(e, 200);
    fx_teardown();
}

static void goes_on_without_a_body_or_a_visible_one(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 0);
    fx_end(e, 200);

    e = fx_exchange(0, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 0);
    fx_end(e, 200);

    /* The host keeps it in a temp file (or streams it): need_body says no, the module goes on */
    e = fx_exchange(0, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 1);
    fx_end(e, 200);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waits_for_the_body),
        cmocka_unit_test(goes_on_without_a_body_or_a_visible_one),
    };
    return cmocka_run_group_tests_name("module_request_buffering", tests, NULL, NULL);
}

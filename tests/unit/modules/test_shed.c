/* test_shed.c — the shedding module: in-flight and loop-lag limits, 503 with Retry-After,
 * counted in the worker's figures; off when both limits are off. */
#include "module_fixture.h"

static const char *yaml = FX_ROUTE_HEAD "limits: {shed_inflight: 10, shed_loop_lag: 200ms}\n"
                                        "routes:\n"
                                        "  - {path: /, upstream: g, request_buffering: off}\n";

static void sheds_over_inflight_and_lag(void **state)
{
    (void)state;
    fx_setup(yaml);
    assert_int_equal(fx.chain->n, 1);
    fx.workers[0].inflight = 10;
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    fx_end(e, 200);

    fx.workers[0].inflight = 11;
    e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 503);
    assert_string_equal(fx_reply_header(e, "Retry-After"), "1");
    assert_non_null(strstr(fx_reply_body(e), "over its in-flight limit"));
    fx_end(e, 503);

    fx.workers[0].inflight = 1;
    fx.workers[0].loop_lag_ms = 201;
    e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_non_null(strstr(fx_reply_body(e), "falling behind"));
    fx_end(e, 503);
    assert_int_equal(mc_get(&fx.shards[0].shed), 2);
    fx_teardown();
}

static void off_when_both_limits_are_off(void **state)
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
        cmocka_unit_test(sheds_over_inflight_and_lag),
        cmocka_unit_test(off_when_both_limits_are_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

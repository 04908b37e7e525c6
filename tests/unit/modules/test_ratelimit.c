/* test_ratelimit.c — the rate-limit module: quota per client IP, 429 with Retry-After and the
 * RateLimit fields, the fields on allowed responses, keys by header. */
#include "module_fixture.h"

static const char *yaml = FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\n"
                                        "routes:\n  - path: /\n    upstream: g\n"
                                        "    request_buffering: off\n"
                                        "    rate_limit: {rate: 2, per: 60s}\n";

static void quota_then_429_with_fields(void **state)
{
    (void)state;
    fx_setup(yaml);
    assert_int_equal(fx.chain->n, 1);
    for (int i = 0; i < 1; i++) { /* GCRA without burst: one at a time, 30 s apart */
        struct fx_exchange *e = fx_exchange(i % 2, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.1");
        assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
        struct response r;
        assert_int_equal(response_init(&r, &e->x.arena, 200, 4), 0);
        pipeline_response_head(&e->x, &r);
        struct str pol = response_get(&r, STR_LIT("RateLimit-Policy"));
        struct str cur = response_get(&r, STR_LIT("RateLimit"));
        assert_int_equal(pol.len, strlen("\"default\";q=2;w=60"));
        assert_memory_equal(pol.ptr, "\"default\";q=2;w=60", pol.len);
        assert_memory_equal(cur.ptr, "\"default\";r=0;", 14);
        fx_end(e, 200);
    }
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.1");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 429);
    assert_string_equal(fx_reply_header(e, "Retry-After"), "30");
    pipeline_response_head(&e->x, &e->x.reply);
    assert_non_null(fx_reply_header(e, "RateLimit-Policy"));
    assert_non_null(fx_reply_header(e, "RateLimit"));
    assert_int_equal(response_find(&e->x.reply, STR_LIT("Retry-After")), 2); /* replaced in place */
    fx_end(e, 429);
    /* Another client has its own quota. */
    e = fx_exchange(1, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "10.0.0.2");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    fx_end(e, 200);
    fx_teardown();
}

static void key_from_header(void **state)
{
    (void)state;
    fx_setup(FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\nroutes:\n  - path: /\n    upstream: g\n"
                           "    request_buffering: off\n"
                           "    rate_limit: {rate: 1, per: 60s, key: \"header:X-Api-Key\"}\n");
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    fx_end(e, 200);
    e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k2\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    fx_end(e, 200);
    e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    fx_end(e, 429);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quota_then_429_with_fields),
        cmocka_unit_test(key_from_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

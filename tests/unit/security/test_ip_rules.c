/* test_ip_rules.c — ip_rules and trusted_proxies as pipeline modules: allow/deny with deny
 * winning, /0 and /32 and /128, v4-mapped clients, the configured status, X-Forwarded-For
 * believed only from trusted proxies and only to the configured depth, config errors. */
#include "module_fixture.h"

#include "security/trusted_proxy.h"

#define ROUTE(extra) FX_ROUTE_HEAD extra "routes:\n  - {path: /, upstream: g, request_buffering: off"

static uint16_t run(const char *head, const char *ip)
{
    struct fx_exchange *e = fx_exchange(0, head, ip);
    enum pipeline_verdict v = pipeline_request(&e->x);
    uint16_t st = v == PIPELINE_NEXT ? 200 : v == PIPELINE_RESPOND ? e->x.reply.status : 500;
    fx_end(e, st);
    return st;
}

#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

static void allow_and_deny(void **state)
{
    (void)state;
    fx_setup(ROUTE("") ", ip_rules: {allow: [10.0.0.0/8, \"2001:db8::/32\"], "
                      "deny: [10.6.6.0/24, 10.1.1.1/32, \"2001:db8::bad/128\"]}}\n");
    assert_int_equal(run(GET, "10.2.3.4"), 200);
    assert_int_equal(run(GET, "::ffff:10.2.3.4"), 200);
    assert_int_equal(run(GET, "11.2.3.4"), 403);      /* not in the allow list */
    assert_int_equal(run(GET, "10.6.6.7"), 403);      /* deny wins over the /8 allow */
    assert_int_equal(run(GET, "10.1.1.1"), 403);      /* /32 */
    assert_int_equal(run(GET, "10.1.1.2"), 200);
    assert_int_equal(run(GET, "::ffff:10.1.1.1"), 403);
    assert_int_equal(run(GET, "2001:db8::1"), 200);
    assert_int_equal(run(GET, "2001:db8::bad"), 403); /* /128 */
    assert_int_equal(run(GET, "2001:db9::1"), 403);
    assert_int_equal(run(GET, "not-an-ip"), 403);
    fx_teardown();
}

static void deny_all_and_status(void **state)
{
    (void)state;
    fx_setup(ROUTE("") ", ip_rules: {deny: [0.0.0.0/0, \"::/0\"], status: 404}}\n");
    assert_int_equal(run(GET, "1.2.3.4"), 404);
    assert_int_equal(run(GET, "::1"), 404);
    fx_teardown();
    fx_setup(ROUTE("") ", ip_rules: {deny: [0.0.0.0/0]}}\n"); /* v4 only */
    assert_int_equal(run(GET, "1.2.3.4"), 403);
    assert_int_equal(run(GET, "::1"), 200);
    assert_int_equal(run(GET, "not-an-ip"), 200); /* no allow list: nothing to match */
    fx_teardown();
}

static void top_level_default(void **state)
{
    (void)state;
    fx_setup(ROUTE("ip_rules: {allow: [127.0.0.0/8]}\n") "}\n");
    assert_int_equal(run(GET, "127.0.0.1"), 200);
    assert_int_equal(run(GET, "192.0.2.1"), 403);
    fx_teardown();
}

static void forwarded_for(void **state)
{
    (void)state;
    fx_setup(ROUTE("trusted_proxies: {from: [192.0.2.0/24], depth: 2}\n")
             ", ip_rules: {deny: [203.0.113.66]}}\n");
    /* from an untrusted peer the header is ignored: no spoofing in either direction */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
                         "203.0.113.66"), 403);
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66\r\n\r\n",
                         "198.51.100.1"), 200);
    /* through one trusted proxy */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66\r\n\r\n",
                         "192.0.2.10"), 403);
    /* the client prepends a fake entry: the proxy's appended one is the client */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1, 203.0.113.66\r\n\r\n",
                         "192.0.2.10"), 403);
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66, 1.1.1.1\r\n\r\n",
                         "192.0.2.10"), 200);
    /* two trusted hops, the second in the header; a third is not believed (depth 2) */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66, 192.0.2.5\r\n\r\n",
                         "192.0.2.10"), 403);
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66, 192.0.2.6, 192.0.2.5\r\n\r\n",
                         "192.0.2.10"), 200);
    /* several header lines are one list */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66\r\n"
                         "X-Forwarded-For: 192.0.2.5\r\n\r\n", "192.0.2.10"), 403);
    /* garbage stops the walk at the proxy */
    assert_int_equal(run("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.66, evil\r\n\r\n",
                         "192.0.2.10"), 200);
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 7.7.7.7\r\n\r\n",
                                        "192.0.2.10");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_string_equal(e->x.client_ip, "7.7.7.7"); /* later modules see the client */
    fx_end(e, 200);
    fx_teardown();
}

static void config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {ROUTE("") ", ip_rules: {deny: [10.0.0.0/33]}}\n", "test.yaml:6:"},
        {ROUTE("") ", ip_rules: {deny: [bogus]}}\n", "not a CIDR block"},
        {ROUTE("") ", ip_rules: {allow: [1.2.3.4], status: 200}}\n", "status"},
        {ROUTE("") ", ip_rules: {alow: [1.2.3.4]}}\n", "alow"},
        {ROUTE("trusted_proxies: {from: [1.2.3.4], depth: 0}\n") "}\n", "depth"},
        {ROUTE("trusted_proxies: {depth: 1}\n") "}\n", "from"},
    };
    modules_register();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cfg_error err;
        struct config *cfg = config_load_buffer(cases[i].yaml, strlen(cases[i].yaml), "test.yaml", &err);
        if (cfg)
            fail_msg("case %zu loaded", i);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: %s", i, err.msg);
    }
}

static void listener_rules_load(void **state)
{
    (void)state;
    modules_register();
    const char *y = "listen: [{address: \"127.0.0.1:1\", ip_rules: {allow: [127.0.0.0/8]}}]\n"
                    "upstreams:\n  g:\n    servers: [\"127.0.0.1:9\"]\n"
                    "routes:\n  - {path: /, upstream: g}\n";
    struct cfg_error err;
    struct config *cfg = config_load_buffer(y, strlen(y), "test.yaml", &err);
    if (!cfg)
        fail_msg("%s", err.msg);
    assert_non_null(cfg->listeners[0].ip_rules);
    config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allow_and_deny),
        cmocka_unit_test(deny_all_and_status),
        cmocka_unit_test(top_level_default),
        cmocka_unit_test(forwarded_for),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(listener_rules_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_config_buffering.c — the buffering settings: the top-level `buffering` section and a
 * route's `request_buffering` / `response_buffering`. Defaults, every key, the short forms
 * and each class of error with its exact "t.yaml:line:col:" position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "config_test_util.h"

#define BASE                                                                                   \
    "listen: [127.0.0.1:8080]\nupstreams: {b: {servers: [127.0.0.1:9001]}}\n"                \
    "routes: [{upstream: b}]\n"
/* A route's extra keys start on line 5, at column 5. */
#define ROUTE(r)                                                                               \
    "listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes:\n  - upstream: b\n" r

static void test_defaults(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(BASE);
    assert_string_equal(cfg->buffering.temp_dir, "/tmp");
    assert_int_equal(cfg->buffering.memory, 64u << 20);
    assert_int_equal(cfg->buffering.files, 1u << 30);
    const struct cfg_route_buffering *b = &cfg->routes[0].buffering;
    assert_true(b->request);
    assert_int_equal(b->request_memory, 1u << 20);
    assert_true(b->response);
    assert_int_equal(b->response_max, 1u << 20);
    config_unref(cfg);
}

static void test_keys(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(BASE "buffering: {temp_dir: /tmp, memory: 8m, files: 0}\n");
    assert_int_equal(cfg->buffering.memory, 8u << 20);
    assert_int_equal(cfg->buffering.files, 0);
    config_unref(cfg);

    cfg = expect_ok(ROUTE("    request_buffering: {memory: 64k}\n"
                          "    response_buffering: {max: 2m}\n"
                          "  - {upstream: b, path: /up, request_buffering: off,"
                          " response_buffering: off}\n"
                          "  - {upstream: b, path: /on, request_buffering: on,"
                          " response_buffering: on}\n"));
    const struct cfg_route_buffering *b = &cfg->routes[0].buffering;
    assert_true(b->request && b->response);
    assert_int_equal(b->request_memory, 64u << 10);
    assert_int_equal(b->response_max, 2u << 20);
    b = &cfg->routes[1].buffering;
    assert_false(b->request);
    assert_false(b->response);
    b = &cfg->routes[2].buffering;
    assert_true(b->request && b->response);
    assert_int_equal(b->request_memory, 1u << 20);
    config_unref(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(BASE "buffering: {memroy: 1m}\n",
                 "t.yaml:4:13: unknown key 'memroy' in 'buffering'");
    expect_error(BASE "buffering: {temp_dir: tmp}\n",
                 "t.yaml:4:23: 'temp_dir' must be an absolute path, got 'tmp'");
    expect_error(BASE "buffering: {temp_dir: /nonexistent/weir}\n",
                 "t.yaml:4:23: cannot create temporary files in '/nonexistent/weir': "
                 "No such file or directory");
    expect_error(BASE "buffering: off\n",
                 "t.yaml:4:12: expected a mapping for 'buffering', found a scalar");
    expect_error(ROUTE("    request_buffering: maybe\n"),
                 "t.yaml:5:24: expected a mapping, 'on' or 'off' for "
                 "'routes[0].request_buffering', got 'maybe'");
    expect_error(ROUTE("    request_buffering: {max: 1m}\n"),
                 "t.yaml:5:25: unknown key 'max' in 'routes[0].request_buffering'");
    expect_error(ROUTE("    response_buffering: {max: 2g}\n"),
                 "t.yaml:5:31: 'max' must be 0..1g, got '2g'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("config_buffering", tests, NULL, NULL);
}

/* test_config_oom.c — every allocation the config loader makes, failed in turn.
 *
 * Linked with -Wl,--wrap for malloc, calloc, realloc and strdup, so the loader's own
 * allocations (not libyaml's, which lives in a shared library) can be made to fail one at a
 * time. Each failing load must return NULL with "out of memory" and, under LSan, leave nothing
 * behind; the sweep ends at the first load that needs no more allocations than it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/config.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long allocs_left = -1; /* -1: never fail */

static bool fail_now(void)
{
    if (allocs_left < 0)
        return false;
    return allocs_left-- == 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

static const char yaml[] =
    "workers: 2\n"
    "server_name: edge\n"
    "listen: [127.0.0.1:8080, {address: '[::1]:8080', backlog: 5},\n"
    "         {address: 127.0.0.1:8443, tls: {certificates: [{cert: /dev/null, ocsp: /dev/null}],\n"
    "          hsts: max-age=1, ciphers: HIGH, client_auth: {ca: /dev/null}}},\n"
    "         {address: 127.0.0.1:8081, redirect_https: true}]\n"
    "log: {access: stderr, error: /tmp/e.log, level: warn}\n"
    "upstreams:\n"
    "  a: {balance: hash, hash: 'cookie:sid',\n"
    "      servers: [1.2.3.4:5, {address: 1.2.3.4:6, weight: 3}]}\n"
    "  b:\n"
    "    sticky_cookie: {name: srv, ttl: 1h}\n"
    "    pool: {max_idle: 8, min_idle: 1}\n"
    "    health:\n"
    "      active: {method: HEAD, path: /health, host: b.internal, expect: 2xx}\n"
    "      passive: {failures: 3}\n"
    "    servers: [1.2.3.4:7]\n"
    "    retry: {attempts: 3, on_status: [503], budget: {ratio: 10%}}\n"
    "    circuit_breaker: {window: time, failure_on: [5xx]}\n"
    "    concurrency: {max: 10}\n"
    "  c: {servers: [1.2.3.4:8], tls: {ca: /dev/null, sni: c.internal, client_cert: /dev/null}}\n"
    "routes:\n"
    "  - {upstream: a, host: '*.Example.com', path: /x, methods: [GET, HEAD],\n"
    "     rate_limit: {rate: 5, key: 'header:X-Key'}, idempotency: {header: X-Idem}}\n"
    "  - {upstream: b, timeouts: {response: 1s}, rate_limit: 10/s, idempotency: on}\n";

static void test_every_allocation_fails(void **state)
{
    long n;

    (void)state;
    for (n = 0;; n++) {
        struct cfg_error err;
        struct config *cfg;

        allocs_left = n;
        cfg = config_load_buffer(yaml, sizeof(yaml) - 1, "t.yaml", &err);
        allocs_left = -1;
        if (cfg) {
            config_unref(cfg);
            break;
        }
        if (!strstr(err.msg, "out of memory"))
            fail_msg("allocation %ld: '%s'", n, err.msg);
    }
    print_message("%ld allocations, each failed once\n", n);
    assert_true(n > 40); /* the sweep did reach the routes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails),
    };

    return cmocka_run_group_tests_name("config_oom", tests, NULL, NULL);
}

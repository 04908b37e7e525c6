/* test_config_resilience.c — the resilience settings of the configuration: `retry`,
 * `circuit_breaker` and `concurrency` of a group, `rate_limit` and `idempotency` of a route,
 * `shed_loop_lag` and `shed_inflight` of `limits`. Every key into the struct, every default
 * when the sections are absent, the short forms, and each class of error with its exact
 * "t.yaml:line:col:" position. Runs under ASan/LSan, so each failing load also proves that
 * its error path frees everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "config_test_util.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

#define BASE                                                                                   \
    "listen: [127.0.0.1:8080]\nupstreams: {b: {servers: [127.0.0.1:9001]}}\n"                \
    "routes: [{upstream: b}]\n"
/* A group's extra keys start on line 5, at column 5. */
#define GROUP(g)                                                                               \
    "listen: [':80']\nupstreams:\n  b:\n    servers: [1.2.3.4:5]\n" g "routes: [{upstream: b}]\n"
/* A route's extra keys start on line 5, at column 5. */
#define ROUTE(r)                                                                               \
    "listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes:\n  - upstream: b\n" r
/* The `limits` mapping is on line 4; its first key at column 10. */
#define LIMITS(l) BASE "limits: {" l "}\n"

static bool status_set(const struct cfg_retry *r, unsigned status)
{
    unsigned bit = status - 500;

    return (r->statuses_mask[bit / 32] >> (bit % 32)) & 1u;
}

static unsigned nstatuses(const struct cfg_retry *r)
{
    unsigned n = 0;

    for (unsigned s = 500; s < 600; s++)
        n += status_set(r, s);
    /* Bits past 599 (the top of word 3) stay clear. */
    assert_int_equal(r->statuses_mask[3] >> 4, 0);
    return n;
}

/* ---- defaults --------------------------------------------------------------------------- */

static void assert_default_retry(const struct cfg_retry *r)
{
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->backoff_base_ms, 25);
    assert_int_equal(r->backoff_max_ms, 1000);
    assert_int_equal(nstatuses(r), 3);
    assert_true(status_set(r, 502));
    assert_true(status_set(r, 503));
    assert_true(status_set(r, 504));
    assert_true(r->on_connect_error);
    assert_true(r->on_timeout);
    assert_int_equal(r->max_body, 64 << 10);
    assert_int_equal(r->budget_ratio_pct, 20);
    assert_int_equal(r->budget_window_ms, 10000);
    assert_int_equal(r->budget_min_per_s, 3);
}

/* Everything but `enabled`. */
static void assert_default_breaker(const struct cfg_breaker *b)
{
    assert_int_equal(b->window, CFG_BREAKER_COUNT);
    assert_int_equal(b->window_size, 100);
    assert_int_equal(b->min_calls, 20);
    assert_int_equal(b->failure_rate_pct, 50);
    assert_int_equal(b->slow_rate_pct, 100);
    assert_int_equal(b->slow_call_ms, 5000);
    assert_int_equal(b->open_ms, 30000);
    assert_int_equal(b->half_open_calls, 5);
    assert_true(b->on_connect_error);
    assert_true(b->on_timeout);
    assert_int_equal(b->status_classes, 1 << 5);
    assert_true(b->per_server);
}

static void assert_default_concurrency(const struct cfg_concurrency *c)
{
    assert_int_equal(c->max, 0);
    assert_int_equal(c->queue, 0);
    assert_int_equal(c->queue_timeout_ms, 1000);
    assert_false(c->adaptive);
    assert_int_equal(c->min_limit, 1);
    assert_int_equal(c->max_limit, 1000);
}

static void assert_default_ratelimit(const struct cfg_ratelimit *rl)
{
    assert_false(rl->enabled);
    assert_int_equal(rl->key, CFG_RL_CLIENT_IP);
    assert_null(rl->header);
    assert_int_equal(rl->rate, 0);
    assert_int_equal(rl->period_ms, 1000);
    assert_int_equal(rl->burst, 0);
    assert_int_equal(rl->max_keys, 100000);
}

/* Everything but `enabled`. */
static void assert_default_idempotency(const struct cfg_idempotency *id)
{
    assert_string_equal(id->header, "Idempotency-Key");
    assert_int_equal(id->ttl_ms, 86400000);
    assert_int_equal(id->max_body, 1 << 20);
    assert_int_equal(id->wait_ms, 5000);
    assert_int_equal(id->max_entries, 10000);
}

static void test_defaults(void **state)
{
    struct config *cfg = expect_ok(BASE);

    (void)state;
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 500);
    assert_int_equal(cfg->limits.shed_inflight, 0);
    assert_default_retry(&cfg->upstreams[0].retry);
    assert_false(cfg->upstreams[0].breaker.enabled);
    assert_default_breaker(&cfg->upstreams[0].breaker);
    assert_default_concurrency(&cfg->upstreams[0].concurrency);
    assert_default_ratelimit(&cfg->routes[0].ratelimit);
    assert_false(cfg->routes[0].idempotency.enabled);
    assert_default_idempotency(&cfg->routes[0].idempotency);
    config_unref(cfg);

    /* Every route and group gets them, not only the first. */
    cfg = expect_ok("listen: [':80']\n"
                    "upstreams: {a: {servers: [1.2.3.4:5]}, b: {servers: [1.2.3.4:6]}}\n"
                    "routes: [{upstream: a, path: /a}, {upstream: b, path: /b}]\n");
    for (uint32_t i = 0; i < 2; i++) {
        assert_default_retry(&cfg->upstreams[i].retry);
        assert_false(cfg->upstreams[i].breaker.enabled);
        assert_default_breaker(&cfg->upstreams[i].breaker);
        assert_default_concurrency(&cfg->upstreams[i].concurrency);
        assert_default_ratelimit(&cfg->routes[i].ratelimit);
        assert_false(cfg->routes[i].idempotency.enabled);
        assert_default_idempotency(&cfg->routes[i].idempotency);
    }
    config_unref(cfg);

    /* Empty mappings: retry and concurrency stay as they were; the breaker and idempotency
     * are turned on with their defaults. */
    cfg = expect_ok(GROUP("    retry: {backoff: {}, budget: {}}\n    circuit_breaker: {}\n"
                          "    concurrency: {}\n"));
    assert_default_retry(&cfg->upstreams[0].retry);
    assert_true(cfg->upstreams[0].breaker.enabled);
    assert_default_breaker(&cfg->upstreams[0].breaker);
    assert_default_concurrency(&cfg->upstreams[0].concurrency);
    config_unref(cfg);
    cfg = expect_ok(ROUTE("    idempotency: {}\n"));
    assert_true(cfg->routes[0].idempotency.enabled);
    assert_default_idempotency(&cfg->routes[0].idempotency);
    assert_default_ratelimit(&cfg->routes[0].ratelimit);
    config_unref(cfg);

    /* A limits section without the shedding keys keeps their defaults. */
    cfg = expect_ok(LIMITS("max_headers: 10"));
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 500);
    assert_int_equal(cfg->limits.shed_inflight, 0);
    config_unref(cfg);

    /* Partial sections keep the defaults of the keys they leave out. */
    cfg = expect_ok(GROUP("    retry: {attempts: 4, backoff: {max: 2s}, budget: {ratio: 5%}}\n"
                          "    circuit_breaker: {failure_rate: 25%}\n"
                          "    concurrency: {max: 10}\n"));
    {
        const struct cfg_upstream *u = &cfg->upstreams[0];

        assert_int_equal(u->retry.attempts, 4);
        assert_int_equal(u->retry.backoff_base_ms, 25);
        assert_int_equal(u->retry.backoff_max_ms, 2000);
        assert_int_equal(u->retry.budget_ratio_pct, 5);
        assert_int_equal(u->retry.budget_window_ms, 10000);
        assert_int_equal(u->retry.budget_min_per_s, 3);
        assert_int_equal(nstatuses(&u->retry), 3);
        assert_true(u->breaker.enabled);
        assert_int_equal(u->breaker.failure_rate_pct, 25);
        assert_int_equal(u->breaker.window_size, 100);
        assert_int_equal(u->breaker.min_calls, 20);
        assert_int_equal(u->concurrency.max, 10);
        assert_int_equal(u->concurrency.queue_timeout_ms, 1000);
        assert_int_equal(u->concurrency.max_limit, 1000);
    }
    config_unref(cfg);

    /* A time window defaults to 60 seconds; min_calls is not tied to its size. */
    cfg = expect_ok(GROUP("    circuit_breaker: {window: time, min_calls: 500}\n"));
    assert_int_equal(cfg->upstreams[0].breaker.window, CFG_BREAKER_TIME);
    assert_int_equal(cfg->upstreams[0].breaker.window_size, 60);
    assert_int_equal(cfg->upstreams[0].breaker.min_calls, 500);
    config_unref(cfg);
    /* A count window smaller than the default min_calls takes min_calls down with it. */
    cfg = expect_ok(GROUP("    circuit_breaker: {size: 10}\n"));
    assert_int_equal(cfg->upstreams[0].breaker.window_size, 10);
    assert_int_equal(cfg->upstreams[0].breaker.min_calls, 10);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    circuit_breaker: {size: 10, min_calls: 10}\n"));
    assert_int_equal(cfg->upstreams[0].breaker.min_calls, 10);
    config_unref(cfg);

    /* A rate-limit mapping needs only the rate. */
    cfg = expect_ok(ROUTE("    rate_limit: {rate: 7}\n"));
    assert_true(cfg->routes[0].ratelimit.enabled);
    assert_int_equal(cfg->routes[0].ratelimit.rate, 7);
    assert_int_equal(cfg->routes[0].ratelimit.period_ms, 1000);
    assert_int_equal(cfg->routes[0].ratelimit.burst, 0);
    assert_int_equal(cfg->routes[0].ratelimit.key, CFG_RL_CLIENT_IP);
    assert_null(cfg->routes[0].ratelimit.header);
    assert_int_equal(cfg->routes[0].ratelimit.max_keys, 100000);
    config_unref(cfg);
}

/* ---- every key -------------------------------------------------------------------------- */

static const char full_yaml[] =
    "listen: [127.0.0.1:8080]\n"
    "limits: {max_body: 1m, shed_loop_lag: 250ms, shed_inflight: 5000}\n"
    "upstreams:\n"
    "  api:\n"
    "    servers: [127.0.0.1:9001]\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {base: 10ms, max: 500ms}\n"
    "      on_status: [500, 503, 532, 599]\n"
    "      on_connect_error: false\n"
    "      on_timeout: false\n"
    "      max_body: 128k\n"
    "      budget: {ratio: 10%, window: 30s, min_per_second: 5}\n"
    "    circuit_breaker:\n"
    "      window: time\n"
    "      size: 30\n"
    "      min_calls: 50\n"
    "      failure_rate: 40%\n"
    "      slow_rate: 80\n"
    "      slow_call: 2s\n"
    "      open: 10s\n"
    "      half_open_calls: 3\n"
    "      failure_on: [timeout, 4xx, 5xx]\n"
    "      per_server: false\n"
    "    concurrency:\n"
    "      max: 200\n"
    "      queue: 50\n"
    "      queue_timeout: 250ms\n"
    "      adaptive: true\n"
    "      min_limit: 10\n"
    "      max_limit: 500\n"
    "  other:\n"
    "    servers: [127.0.0.1:9002]\n"
    "    retry: {on_status: []}\n"
    "    circuit_breaker: {failure_on: [connect_error]}\n"
    "routes:\n"
    "  - path: /pay/\n"
    "    upstream: api\n"
    "    rate_limit: {rate: 50, per: 10s, burst: 20, key: \"header:X-Api-Key\", max_keys: 5000}\n"
    "    idempotency:\n"
    "      header: X-Request-Id\n"
    "      ttl: 1h\n"
    "      max_body: 256k\n"
    "      wait: 2s\n"
    "      max_entries: 500\n"
    "  - path: /\n"
    "    upstream: other\n"
    "    rate_limit: {rate: 5, key: route}\n"
    "    idempotency: off\n";

static void test_full(void **state)
{
    struct config *cfg = expect_ok(full_yaml);
    const struct cfg_upstream *u = &cfg->upstreams[0];
    const struct cfg_route *r = &cfg->routes[0];

    (void)state;
    assert_int_equal(cfg->limits.max_body, 1 << 20);
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 250);
    assert_int_equal(cfg->limits.shed_inflight, 5000);

    assert_int_equal(u->retry.attempts, 3);
    assert_int_equal(u->retry.backoff_base_ms, 10);
    assert_int_equal(u->retry.backoff_max_ms, 500);
    /* bit (status - 500) of the 128-bit mask: 532 is the first bit of word 1. */
    assert_int_equal(u->retry.statuses_mask[0], (1u << 0) | (1u << 3));
    assert_int_equal(u->retry.statuses_mask[1], 1u << 0);
    assert_int_equal(u->retry.statuses_mask[2], 0);
    assert_int_equal(u->retry.statuses_mask[3], 1u << 3);
    assert_int_equal(nstatuses(&u->retry), 4);
    assert_true(status_set(&u->retry, 500));
    assert_true(status_set(&u->retry, 503));
    assert_true(status_set(&u->retry, 532));
    assert_false(status_set(&u->retry, 502));
    assert_true(status_set(&u->retry, 599));
    assert_false(u->retry.on_connect_error);
    assert_false(u->retry.on_timeout);
    assert_int_equal(u->retry.max_body, 128 << 10);
    assert_int_equal(u->retry.budget_ratio_pct, 10);
    assert_int_equal(u->retry.budget_window_ms, 30000);
    assert_int_equal(u->retry.budget_min_per_s, 5);

    assert_true(u->breaker.enabled);
    assert_int_equal(u->breaker.window, CFG_BREAKER_TIME);
    assert_int_equal(u->breaker.window_size, 30);
    assert_int_equal(u->breaker.min_calls, 50);
    assert_int_equal(u->breaker.failure_rate_pct, 40);
    assert_int_equal(u->breaker.slow_rate_pct, 80);
    assert_int_equal(u->breaker.slow_call_ms, 2000);
    assert_int_equal(u->breaker.open_ms, 10000);
    assert_int_equal(u->breaker.half_open_calls, 3);
    assert_false(u->breaker.on_connect_error);
    assert_true(u->breaker.on_timeout);
    assert_int_equal(u->breaker.status_classes, (1 << 4) | (1 << 5));
    assert_false(u->breaker.per_server);

    assert_int_equal(u->concurrency.max, 200);
    assert_int_equal(u->concurrency.queue, 50);
    assert_int_equal(u->concurrency.queue_timeout_ms, 250);
    assert_true(u->concurrency.adaptive);
    assert_int_equal(u->concurrency.min_limit, 10);
    assert_int_equal(u->concurrency.max_limit, 500);

    u = &cfg->upstreams[1];
    assert_int_equal(nstatuses(&u->retry), 0); /* an empty list retries no status */
    assert_int_equal(u->retry.attempts, 2);
    assert_true(u->breaker.enabled);
    assert_true(u->breaker.on_connect_error);
    assert_false(u->breaker.on_timeout);
    assert_int_equal(u->breaker.status_classes, 0);

    assert_true(r->ratelimit.enabled);
    assert_int_equal(r->ratelimit.rate, 50);
    assert_int_equal(r->ratelimit.period_ms, 10000);
    assert_int_equal(r->ratelimit.burst, 20);
    assert_int_equal(r->ratelimit.key, CFG_RL_HEADER);
    assert_string_equal(r->ratelimit.header, "X-Api-Key");
    assert_int_equal(r->ratelimit.max_keys, 5000);
    assert_true(r->idempotency.enabled);
    assert_string_equal(r->idempotency.header, "X-Request-Id");
    assert_int_equal(r->idempotency.ttl_ms, 3600000);
    assert_int_equal(r->idempotency.max_body, 256 << 10);
    assert_int_equal(r->idempotency.wait_ms, 2000);
    assert_int_equal(r->idempotency.max_entries, 500);

    r = &cfg->routes[1];
    assert_true(r->ratelimit.enabled);
    assert_int_equal(r->ratelimit.rate, 5);
    assert_int_equal(r->ratelimit.key, CFG_RL_ROUTE);
    assert_null(r->ratelimit.header);
    assert_false(r->idempotency.enabled);
    assert_default_idempotency(&r->idempotency);
    config_unref(cfg);
}

/* ---- short forms and boundaries --------------------------------------------------------- */

static void test_short_forms(void **state)
{
    static const struct {
        const char *text;
        uint32_t rate, period_ms;
    } rates[] = {
        {"100/s", 100, 1000}, {"600/m", 600, 60000}, {"1000/h", 1000, 3600000},
        {"1/h", 1, 3600000},  {"'1000000/s'", 1000000, 1000},
    };
    struct config *cfg;
    char yaml[256];

    (void)state;
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        snprintf(yaml, sizeof(yaml), ROUTE("    rate_limit: %s\n"), rates[i].text);
        cfg = expect_ok(yaml);
        assert_true(cfg->routes[0].ratelimit.enabled);
        assert_int_equal(cfg->routes[0].ratelimit.rate, rates[i].rate);
        assert_int_equal(cfg->routes[0].ratelimit.period_ms, rates[i].period_ms);
        assert_int_equal(cfg->routes[0].ratelimit.burst, 0);
        assert_int_equal(cfg->routes[0].ratelimit.key, CFG_RL_CLIENT_IP);
        assert_int_equal(cfg->routes[0].ratelimit.max_keys, 100000);
        config_unref(cfg);
    }

    cfg = expect_ok(ROUTE("    rate_limit: off\n    idempotency: on\n"));
    assert_default_ratelimit(&cfg->routes[0].ratelimit);
    assert_true(cfg->routes[0].idempotency.enabled);
    assert_default_idempotency(&cfg->routes[0].idempotency);
    config_unref(cfg);
    cfg = expect_ok(ROUTE("    idempotency: off\n"));
    assert_false(cfg->routes[0].idempotency.enabled);
    config_unref(cfg);

    cfg = expect_ok(GROUP("    retry: off\n    circuit_breaker: on\n"));
    assert_int_equal(cfg->upstreams[0].retry.attempts, 1);
    assert_int_equal(cfg->upstreams[0].retry.backoff_base_ms, 25);
    assert_true(cfg->upstreams[0].breaker.enabled);
    assert_default_breaker(&cfg->upstreams[0].breaker);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    circuit_breaker: off\n"));
    assert_false(cfg->upstreams[0].breaker.enabled);
    assert_default_breaker(&cfg->upstreams[0].breaker);
    config_unref(cfg);

    /* Percentages with or without '%', and their bounds. */
    cfg = expect_ok(GROUP("    retry: {budget: {ratio: 0, window: 64s, min_per_second: 0}}\n"
                          "    circuit_breaker: {failure_rate: 100, slow_rate: 1%}\n"));
    assert_int_equal(cfg->upstreams[0].retry.budget_ratio_pct, 0);
    assert_int_equal(cfg->upstreams[0].retry.budget_window_ms, 64000);
    assert_int_equal(cfg->upstreams[0].retry.budget_min_per_s, 0);
    assert_int_equal(cfg->upstreams[0].breaker.failure_rate_pct, 100);
    assert_int_equal(cfg->upstreams[0].breaker.slow_rate_pct, 1);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    retry: {budget: {ratio: 100%, window: 1s}}\n"));
    assert_int_equal(cfg->upstreams[0].retry.budget_ratio_pct, 100);
    assert_int_equal(cfg->upstreams[0].retry.budget_window_ms, 1000);
    config_unref(cfg);

    /* Range ends. */
    cfg = expect_ok(GROUP("    retry: {attempts: 10, backoff: {base: 0, max: 0}, max_body: 0,\n"
                          "            on_status: [599]}\n"
                          "    circuit_breaker: {size: 10000, min_calls: 1,\n"
                          "                      half_open_calls: 1000}\n"
                          "    concurrency: {min_limit: 7, max_limit: 7, max: 1000000}\n"));
    assert_int_equal(cfg->upstreams[0].retry.attempts, 10);
    assert_int_equal(cfg->upstreams[0].retry.backoff_base_ms, 0);
    assert_int_equal(cfg->upstreams[0].retry.backoff_max_ms, 0);
    assert_int_equal(cfg->upstreams[0].retry.max_body, 0);
    assert_int_equal(nstatuses(&cfg->upstreams[0].retry), 1);
    assert_true(status_set(&cfg->upstreams[0].retry, 599));
    assert_int_equal(cfg->upstreams[0].breaker.window_size, 10000);
    assert_int_equal(cfg->upstreams[0].breaker.min_calls, 1);
    assert_int_equal(cfg->upstreams[0].breaker.half_open_calls, 1000);
    assert_int_equal(cfg->upstreams[0].concurrency.min_limit, 7);
    assert_int_equal(cfg->upstreams[0].concurrency.max_limit, 7);
    assert_int_equal(cfg->upstreams[0].concurrency.max, 1000000);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    circuit_breaker: {window: time, size: 3600}\n"));
    assert_int_equal(cfg->upstreams[0].breaker.window_size, 3600);
    config_unref(cfg);
    cfg = expect_ok(ROUTE("    rate_limit: {rate: 1000, per: 1ms}\n"
                          "    idempotency: {ttl: 168h, wait: 0, max_body: 0}\n"));
    assert_int_equal(cfg->routes[0].ratelimit.rate, 1000);
    assert_int_equal(cfg->routes[0].ratelimit.period_ms, 1);
    assert_int_equal(cfg->routes[0].idempotency.ttl_ms, 168u * 3600000u);
    assert_int_equal(cfg->routes[0].idempotency.wait_ms, 0);
    assert_int_equal(cfg->routes[0].idempotency.max_body, 0);
    config_unref(cfg);

    /* Shedding: off, 0, a duration, the top of the range. */
    cfg = expect_ok(LIMITS("shed_loop_lag: off, shed_inflight: 4294967295"));
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 0);
    assert_int_equal(cfg->limits.shed_inflight, 4294967295u);
    config_unref(cfg);
    cfg = expect_ok(LIMITS("shed_loop_lag: 0"));
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 0);
    config_unref(cfg);
    cfg = expect_ok(LIMITS("shed_loop_lag: 60s"));
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 60000);
    config_unref(cfg);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error(LIMITS("shed_lag: 1s"), "t.yaml:4:10: unknown key 'shed_lag' in 'limits'");
    expect_error(GROUP("    retries: 3\n"), "t.yaml:5:5: unknown key 'retries' in 'upstreams.b'");
    expect_error(GROUP("    retry: {attempts: 2, jitter: full}\n"),
                 "t.yaml:5:26: unknown key 'jitter' in 'upstreams.b.retry'");
    expect_error(GROUP("    retry: {backoff: {base: 1s, factor: 2}}\n"),
                 "t.yaml:5:33: unknown key 'factor' in 'upstreams.b.retry.backoff'");
    expect_error(GROUP("    retry:\n      budget:\n        ratio: 10%\n        burst: 3\n"),
                 "t.yaml:8:9: unknown key 'burst' in 'upstreams.b.retry.budget'");
    expect_error(GROUP("    circuit_breaker: {window: count, threshold: 5}\n"),
                 "t.yaml:5:38: unknown key 'threshold' in 'upstreams.b.circuit_breaker'");
    expect_error(GROUP("    concurrency: {limit: 5}\n"),
                 "t.yaml:5:19: unknown key 'limit' in 'upstreams.b.concurrency'");
    expect_error(ROUTE("    rate_limit: {rate: 5, window: 1s}\n"),
                 "t.yaml:5:27: unknown key 'window' in 'routes[0].rate_limit'");
    expect_error(ROUTE("    idempotency: {header: K, methods: [POST]}\n"),
                 "t.yaml:5:30: unknown key 'methods' in 'routes[0].idempotency'");
    expect_error(ROUTE("    ratelimit: 5/s\n"),
                 "t.yaml:5:5: unknown key 'ratelimit' in 'routes[0]'");
    expect_error(GROUP("    circuit_breaker: {}\n    circuit_breaker: off\n"),
                 "t.yaml:6:5: duplicate key 'circuit_breaker' in 'upstreams.b' "
                 "(first at line 5)");
    expect_error(GROUP("    retry: {attempts: 2, attempts: 3}\n"),
                 "t.yaml:5:26: duplicate key 'attempts' in 'upstreams.b.retry' (first at line 5)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_error(GROUP("    retry: 3\n"),
                 "t.yaml:5:12: expected a mapping or 'off' for 'upstreams.b.retry', got '3'");
    expect_error(GROUP("    retry: on\n"),
                 "t.yaml:5:12: expected a mapping or 'off' for 'upstreams.b.retry', got 'on'");
    expect_error(GROUP("    retry: [1]\n"),
                 "t.yaml:5:12: expected a mapping or 'off' for 'upstreams.b.retry', found a list");
    expect_error(GROUP("    retry:\n"),
                 "t.yaml:5:11: expected a mapping or 'off' for 'upstreams.b.retry', "
                 "found an empty value");
    expect_error(GROUP("    retry: {backoff: 25ms}\n"),
                 "t.yaml:5:22: expected a mapping for 'upstreams.b.retry.backoff', found a scalar");
    expect_error(GROUP("    retry: {budget: 20%}\n"),
                 "t.yaml:5:21: expected a mapping for 'upstreams.b.retry.budget', found a scalar");
    expect_error(GROUP("    retry: {on_status: 503}\n"),
                 "t.yaml:5:24: expected a list for 'on_status', found a scalar");
    expect_error(GROUP("    retry: {on_status: [[503]]}\n"),
                 "t.yaml:5:25: expected a scalar for 'on_status', found a list");
    expect_error(GROUP("    retry: {on_timeout: yes}\n"),
                 "t.yaml:5:25: 'on_timeout' must be true or false, got 'yes'");
    expect_error(GROUP("    circuit_breaker: true\n"),
                 "t.yaml:5:22: expected a mapping, 'on' or 'off' for "
                 "'upstreams.b.circuit_breaker', got 'true'");
    expect_error(GROUP("    circuit_breaker: [count]\n"),
                 "t.yaml:5:22: expected a mapping, 'on' or 'off' for "
                 "'upstreams.b.circuit_breaker', found a list");
    expect_error(GROUP("    circuit_breaker: {failure_on: 5xx}\n"),
                 "t.yaml:5:35: expected a list for 'failure_on', found a scalar");
    expect_error(GROUP("    circuit_breaker: {window: [time]}\n"),
                 "t.yaml:5:31: expected a scalar for 'window', found a list");
    expect_error(GROUP("    concurrency: off\n"),
                 "t.yaml:5:18: expected a mapping for 'upstreams.b.concurrency', found a scalar");
    expect_error(GROUP("    concurrency: {adaptive: 1}\n"),
                 "t.yaml:5:29: 'adaptive' must be true or false, got '1'");
    expect_error(ROUTE("    rate_limit: [100/s]\n"),
                 "t.yaml:5:17: expected a rate (as 100/s), a mapping or 'off' for "
                 "'routes[0].rate_limit', found a list");
    expect_error(ROUTE("    rate_limit:\n"),
                 "t.yaml:5:16: expected a rate (as 100/s), a mapping or 'off' for "
                 "'routes[0].rate_limit', found an empty value");
    expect_error(ROUTE("    idempotency: true\n"),
                 "t.yaml:5:18: expected a mapping, 'on' or 'off' for 'routes[0].idempotency', "
                 "got 'true'");
    expect_error(ROUTE("    idempotency: [x]\n"),
                 "t.yaml:5:18: expected a mapping, 'on' or 'off' for 'routes[0].idempotency', "
                 "found a list");
    expect_error(ROUTE("    idempotency: {header: ''}\n"),
                 "t.yaml:5:27: 'header' must not be empty");
    expect_error(LIMITS("shed_loop_lag: [1s]"),
                 "t.yaml:4:25: expected a scalar for 'shed_loop_lag', found a list");
}

static void test_bad_values(void **state)
{
    (void)state;
    /* retry */
    expect_error(GROUP("    retry: {attempts: 0}\n"),
                 "t.yaml:5:23: 'attempts' must be an integer in 1..10, got '0'");
    expect_error(GROUP("    retry: {attempts: 11}\n"),
                 "t.yaml:5:23: 'attempts' must be an integer in 1..10, got '11'");
    expect_error(GROUP("    retry: {backoff: {base: 10x}}\n"),
                 "t.yaml:5:29: invalid duration '10x' for 'base' (use e.g. 250ms, 10s, 2m, 1h)");
    expect_error(GROUP("    retry: {backoff: {max: 24h}}\n"),
                 "t.yaml:5:28: 'max' must be 0 or less than 24h, got '24h'");
    expect_error(GROUP("    retry: {on_status: [502, 404]}\n"),
                 "t.yaml:5:30: invalid status '404' in 'on_status' (expected 500..599)");
    expect_error(GROUP("    retry: {on_status: [600]}\n"),
                 "t.yaml:5:25: invalid status '600' in 'on_status' (expected 500..599)");
    expect_error(GROUP("    retry: {on_status: [5xx]}\n"),
                 "t.yaml:5:25: invalid status '5xx' in 'on_status' (expected 500..599)");
    expect_error(GROUP("    retry: {on_status: [503, 502, 503]}\n"),
                 "t.yaml:5:35: duplicate status 503 in 'on_status'");
    expect_error(GROUP("    retry: {max_body: 2g}\n"),
                 "t.yaml:5:23: 'max_body' must be 0..1g, got '2g'");
    expect_error(GROUP("    retry: {max_body: 1kb}\n"),
                 "t.yaml:5:23: invalid size '1kb' for 'max_body' (use e.g. 512, 16k, 1m)");
    expect_error(GROUP("    retry: {budget: {ratio: 101%}}\n"),
                 "t.yaml:5:29: 'ratio' must be a percentage in 0..100 (as 50% or 50), "
                 "got '101%'");
    expect_error(GROUP("    retry: {budget: {ratio: 20%%}}\n"),
                 "t.yaml:5:29: 'ratio' must be a percentage in 0..100 (as 50% or 50), "
                 "got '20%%'");
    expect_error(GROUP("    retry: {budget: {ratio: 0.2}}\n"),
                 "t.yaml:5:29: 'ratio' must be a percentage in 0..100 (as 50% or 50), "
                 "got '0.2'");
    expect_error(GROUP("    retry: {budget: {ratio: '%'}}\n"),
                 "t.yaml:5:29: 'ratio' must be a percentage in 0..100 (as 50% or 50), "
                 "got '%'");
    expect_error(GROUP("    retry: {budget: {window: 500ms}}\n"),
                 "t.yaml:5:30: 'window' must be 1s..64s, got '500ms'");
    expect_error(GROUP("    retry: {budget: {window: 65s}}\n"),
                 "t.yaml:5:30: 'window' must be 1s..64s, got '65s'");
    expect_error(GROUP("    retry: {budget: {window: 1500ms}}\n"),
                 "t.yaml:5:30: 'window' must be a whole number of seconds, got '1500ms'");
    expect_error(GROUP("    retry: {budget: {min_per_second: -1}}\n"),
                 "t.yaml:5:38: 'min_per_second' must be an integer in 0..10000, got '-1'");

    /* circuit_breaker */
    expect_error(GROUP("    circuit_breaker: {window: sliding}\n"),
                 "t.yaml:5:31: invalid window 'sliding' (expected count or time)");
    expect_error(GROUP("    circuit_breaker: {size: 0}\n"),
                 "t.yaml:5:29: 'size' must be an integer in 1..10000 (calls, with window: count), "
                 "got '0'");
    expect_error(GROUP("    circuit_breaker: {size: 10001}\n"),
                 "t.yaml:5:29: 'size' must be an integer in 1..10000 (calls, with window: count), "
                 "got '10001'");
    expect_error(GROUP("    circuit_breaker: {size: 3601, window: time}\n"),
                 "t.yaml:5:29: 'size' must be an integer in 1..3600 (seconds, with window: time), "
                 "got '3601'");
    expect_error(GROUP("    circuit_breaker: {window: time, size: 1m}\n"),
                 "t.yaml:5:43: 'size' must be an integer in 1..3600 (seconds, with window: time), "
                 "got '1m'");
    expect_error(GROUP("    circuit_breaker: {min_calls: 0}\n"),
                 "t.yaml:5:34: 'min_calls' must be an integer in 1..1000000, got '0'");
    expect_error(GROUP("    circuit_breaker: {failure_rate: 0%}\n"),
                 "t.yaml:5:37: 'failure_rate' must be a percentage in 1..100 (as 50% or 50), "
                 "got '0%'");
    expect_error(GROUP("    circuit_breaker: {slow_rate: 150}\n"),
                 "t.yaml:5:34: 'slow_rate' must be a percentage in 1..100 (as 50% or 50), "
                 "got '150'");
    expect_error(GROUP("    circuit_breaker: {slow_call: 0}\n"),
                 "t.yaml:5:34: 'slow_call' must be more than 0 and less than 24h, got '0'");
    expect_error(GROUP("    circuit_breaker: {open: 1d}\n"),
                 "t.yaml:5:29: invalid duration '1d' for 'open' (use e.g. 250ms, 10s, 2m, 1h)");
    expect_error(GROUP("    circuit_breaker: {half_open_calls: 1001}\n"),
                 "t.yaml:5:40: 'half_open_calls' must be an integer in 1..1000, got '1001'");
    expect_error(GROUP("    circuit_breaker: {failure_on: [5xx, 503]}\n"),
                 "t.yaml:5:41: unknown failure '503' in 'failure_on' (expected any of: "
                 "connect_error, timeout, 4xx, 5xx)");
    expect_error(GROUP("    circuit_breaker: {failure_on: [timeout, 5xx, timeout]}\n"),
                 "t.yaml:5:50: duplicate 'timeout' in 'failure_on'");
    expect_error(GROUP("    circuit_breaker: {per_server: no}\n"),
                 "t.yaml:5:35: 'per_server' must be true or false, got 'no'");

    /* concurrency */
    expect_error(GROUP("    concurrency: {max: 1000001}\n"),
                 "t.yaml:5:24: 'max' must be an integer in 0..1000000, got '1000001'");
    expect_error(GROUP("    concurrency: {queue: x}\n"),
                 "t.yaml:5:26: 'queue' must be an integer in 0..1000000, got 'x'");
    expect_error(GROUP("    concurrency: {queue_timeout: 0}\n"),
                 "t.yaml:5:34: 'queue_timeout' must be more than 0 and less than 24h, got '0'");
    expect_error(GROUP("    concurrency: {min_limit: 0}\n"),
                 "t.yaml:5:30: 'min_limit' must be an integer in 1..1000000, got '0'");

    /* rate_limit */
    expect_error(ROUTE("    rate_limit: 100\n"),
                 "t.yaml:5:17: invalid rate limit '100' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: 100/d\n"),
                 "t.yaml:5:17: invalid rate limit '100/d' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: 100/sec\n"),
                 "t.yaml:5:17: invalid rate limit '100/sec' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: /s\n"),
                 "t.yaml:5:17: invalid rate limit '/s' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: on\n"),
                 "t.yaml:5:17: invalid rate limit 'on' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: ''\n"),
                 "t.yaml:5:17: invalid rate limit '' (use e.g. 100/s, 600/m or 1000/h, "
                 "a mapping, or off)");
    expect_error(ROUTE("    rate_limit: 0/s\n"),
                 "t.yaml:5:17: invalid rate limit '0/s': the rate must be 1..1000000");
    expect_error(ROUTE("    rate_limit: 1000001/m\n"),
                 "t.yaml:5:17: invalid rate limit '1000001/m': the rate must be 1..1000000");
    expect_error(ROUTE("    rate_limit: {rate: 0}\n"),
                 "t.yaml:5:24: 'rate' must be an integer in 1..1000000, got '0'");
    expect_error(ROUTE("    rate_limit: {rate: 5, per: 0}\n"),
                 "t.yaml:5:32: 'per' must be more than 0 and less than 24h, got '0'");
    expect_error(ROUTE("    rate_limit: {rate: 5, burst: 1000001}\n"),
                 "t.yaml:5:34: 'burst' must be an integer in 0..1000000, got '1000001'");
    expect_error(ROUTE("    rate_limit: {rate: 5, max_keys: 0}\n"),
                 "t.yaml:5:37: 'max_keys' must be an integer in 1..10000000, got '0'");
    expect_error(ROUTE("    rate_limit: {rate: 5, key: ip}\n"),
                 "t.yaml:5:32: invalid key 'ip' (expected client_ip, client, route or header:NAME)");
    expect_error(ROUTE("    rate_limit: {rate: 5, key: 'header:'}\n"),
                 "t.yaml:5:32: invalid key 'header:': the header name is missing");
    expect_error(ROUTE("    rate_limit: {rate: 5, key: 'header:X Key'}\n"),
                 "t.yaml:5:32: invalid key 'header:X Key': 'X Key' is not a valid header name");

    /* idempotency */
    expect_error(ROUTE("    idempotency: {header: 'Idem Key'}\n"),
                 "t.yaml:5:27: invalid header name 'Idem Key': not an HTTP token");
    expect_error(ROUTE("    idempotency: {ttl: 0}\n"),
                 "t.yaml:5:24: 'ttl' must be more than 0 and at most 168h, got '0'");
    expect_error(ROUTE("    idempotency: {ttl: 169h}\n"),
                 "t.yaml:5:24: 'ttl' must be more than 0 and at most 168h, got '169h'");
    expect_error(ROUTE("    idempotency: {max_body: 2g}\n"),
                 "t.yaml:5:29: 'max_body' must be 0..1g, got '2g'");
    expect_error(ROUTE("    idempotency: {wait: 24h}\n"),
                 "t.yaml:5:25: 'wait' must be 0 or less than 24h, got '24h'");
    expect_error(ROUTE("    idempotency: {max_entries: 0}\n"),
                 "t.yaml:5:32: 'max_entries' must be an integer in 1..10000000, got '0'");

    /* limits */
    expect_error(LIMITS("shed_loop_lag: 61s"),
                 "t.yaml:4:25: 'shed_loop_lag' must be 0 (off) or up to 60s, got '61s'");
    expect_error(LIMITS("shed_loop_lag: on"),
                 "t.yaml:4:25: invalid duration 'on' for 'shed_loop_lag' "
                 "(use e.g. 250ms, 10s, 2m, 1h)");
    expect_error(LIMITS("shed_inflight: 4294967296"),
                 "t.yaml:4:25: 'shed_inflight' must be an integer in 0..4294967295, "
                 "got '4294967296'");
    expect_error(LIMITS("shed_inflight: off"),
                 "t.yaml:4:25: 'shed_inflight' must be an integer in 0..4294967295, got 'off'");
}

/* Values that are fine alone but not together. */
static void test_inconsistent(void **state)
{
    (void)state;
    expect_error(GROUP("    retry: {backoff: {base: 2s}}\n"),
                 "t.yaml:5:29: 'base' (2000ms) must not be more than 'max' (1000ms)");
    expect_error(GROUP("    retry: {backoff: {max: 10ms}}\n"),
                 "t.yaml:5:28: 'base' (25ms) must not be more than 'max' (10ms)");
    expect_error(GROUP("    retry: {backoff: {max: 10ms, base: 20ms}}\n"),
                 "t.yaml:5:40: 'base' (20ms) must not be more than 'max' (10ms)");
    expect_error(GROUP("    circuit_breaker: {size: 10, min_calls: 11}\n"),
                 "t.yaml:5:44: 'min_calls' (11) must not be more than 'size' (10) "
                 "with window: count");
    expect_error(GROUP("    concurrency: {min_limit: 10, max_limit: 5}\n"),
                 "t.yaml:5:30: 'min_limit' (10) must not be more than 'max_limit' (5)");
    expect_error(GROUP("    concurrency: {max_limit: 0}\n"),
                 "t.yaml:5:30: 'max_limit' must be an integer in 1..1000000, got '0'");
    expect_error(GROUP("    concurrency:\n      min_limit: 2000\n"),
                 "t.yaml:6:18: 'min_limit' (2000) must not be more than 'max_limit' (1000)");
    expect_error(ROUTE("    rate_limit: {rate: 1001, per: 1ms}\n"),
                 "t.yaml:5:24: a rate of 1001 per 1ms is more than one request per microsecond");
    expect_error(ROUTE("    rate_limit: {per: 1s}\n"),
                 "t.yaml:5:17: missing required key 'rate' in 'routes[0].rate_limit'");
    /* The first route is fine, the second is not: the index says which. */
    expect_error(ROUTE("    rate_limit: 5/s\n  - {upstream: b, path: /x, rate_limit: {rate: 5, "
                       "burst: -1}}\n"),
                 "t.yaml:6:58: 'burst' must be an integer in 0..1000000, got '-1'");
    expect_error(ROUTE("  - {upstream: b, path: /x, idempotency: {ttl: 1h, wait: 1}}\n"
                       "  - {upstream: b, path: /y, idempotency: {size: 1}}\n"),
                 "t.yaml:6:43: unknown key 'size' in 'routes[2].idempotency'");
}

/* Every prefix of a valid file either loads or fails with a positioned message: no crash, no
 * leak (the route strings are allocated while loading), no message without its place. */
static void test_every_prefix(void **state)
{
    size_t len = strlen(full_yaml);

    (void)state;
    for (size_t i = 0; i <= len; i++) {
        struct cfg_error err;
        struct config *cfg = config_load_buffer(full_yaml, i, "t.yaml", &err);

        if (cfg) {
            config_unref(cfg);
            continue;
        }
        if (strncmp(err.msg, "t.yaml:", 7) != 0 || !strchr(err.msg + 7, ':'))
            fail_msg("prefix %zu: bad message '%s'", i, err.msg);
    }
}

/* The example file shows each resilience section. */
static void test_example(void **state)
{
    struct cfg_error err;
    struct config *cfg;
    const struct cfg_upstream *u;
    const struct cfg_route *pay = NULL;

    (void)state;
    cfg = config_load_file(WEIR_SOURCE_ROOT "/examples/weir.yaml", &err);
    if (!cfg)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->limits.shed_loop_lag_ms, 500);
    assert_int_equal(cfg->limits.shed_inflight, 0);
    u = &cfg->upstreams[0];
    assert_int_equal(u->retry.attempts, 2);
    assert_int_equal(nstatuses(&u->retry), 3);
    assert_int_equal(u->retry.budget_ratio_pct, 20);
    assert_true(u->breaker.enabled);
    assert_int_equal(u->breaker.window, CFG_BREAKER_COUNT);
    assert_int_equal(u->breaker.status_classes, 1 << 5);
    assert_int_equal(u->concurrency.max, 100);
    for (uint32_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].path, "/pay/") == 0)
            pay = &cfg->routes[i];
    assert_non_null(pay);
    if (!pay) /* cmocka's assert is not visible to the optimizer */
        return;
    assert_true(pay->ratelimit.enabled);
    assert_int_equal(pay->ratelimit.key, CFG_RL_HEADER);
    assert_string_equal(pay->ratelimit.header, "X-Api-Key");
    assert_true(pay->idempotency.enabled);
    assert_string_equal(pay->idempotency.header, "Idempotency-Key");
    assert_int_equal(pay->idempotency.ttl_ms, 86400000);
    config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_full),
        cmocka_unit_test(test_short_forms),   cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),   cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_inconsistent),  cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_example),
    };

    return cmocka_run_group_tests_name("config_resilience", tests, NULL, NULL);
}

/* test_config.c — the YAML configuration loader: every key into the struct, the defaults,
 * every class of error with its exact "t.yaml:line:col:" position, and the value parsers.
 * Runs under ASan/LSan, so each failing load also proves its error path frees everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "config_test_util.h"

#ifndef WEIR_SOURCE_ROOT
#define WEIR_SOURCE_ROOT "."
#endif

/* Enough to load: every other test adds or breaks one thing after these three lines. */
#define REST "upstreams: {b: {servers: [127.0.0.1:9001]}}\nroutes: [{upstream: b}]\n"
#define BASE "listen: [127.0.0.1:8080]\n" REST

static void assert_addr(const struct cfg_addr *a, int family, const char *ip, unsigned port)
{
    char buf[INET6_ADDRSTRLEN];

    assert_int_equal(a->sa.ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;

        assert_int_equal(a->salen, sizeof(*in));
        assert_int_equal(ntohs(in->sin_port), port);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;

        assert_int_equal(a->salen, sizeof(*in6));
        assert_int_equal(ntohs(in6->sin6_port), port);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    }
    assert_string_equal(buf, ip);
}

static const char full_yaml[] =
    "# every key, none at its default\n"
    "workers: 3\n"
    "server_name: edge-1\n"
    "listen:\n"
    "  - 127.0.0.1:8080\n"
    "  - {address: \"[::1]:8443\", backlog: 128}\n"
    "limits: {max_request_line: 4k, max_header_bytes: 32KiB, max_headers: 50, max_body: 1m}\n"
    "timeouts: {client_header: 5s, client_body: 30s, client_send: 45s, keepalive: 2m,\n"
    "           shutdown: 1h}\n"
    "log: {level: debug, access: /var/log/weir/access.log, error: /var/log/weir/error.log}\n"
    "upstreams:\n"
    "  backend:\n"
    "    balance: hash\n"
    "    hash: \"header:X-User-Id\"\n"
    "    sticky_cookie: {name: weir_srv, ttl: 1h}\n"
    "    slow_start: 30s\n"
    "    pool: {max_idle: 16, min_idle: 4, max_requests: 1000, idle_timeout: 90s,\n"
    "           max_lifetime: 10m, acquire_timeout: 250ms}\n"
    "    timeouts: {connect: 500ms, response: 10s, idle: 20s, total: 45s}\n"
    "    health:\n"
    "      active:\n"
    "        interval: 5s\n"
    "        timeout: 2s\n"
    "        method: HEAD\n"
    "        path: /healthz?full=1\n"
    "        host: api.internal:8080\n"
    "        expect: 2xx\n"
    "        rise: 4\n"
    "        fall: 6\n"
    "      passive: {failures: 10, window: 30s, cooldown: 1m, on_5xx: true}\n"
    "    servers:\n"
    "      - 127.0.0.1:9001\n"
    "      - {address: \"10.0.0.2:9002\", weight: 5, backup: false, max_conns: 100}\n"
    "      - {address: \"10.0.0.3:9003\", backup: true}\n"
    "  static.v2:\n"
    "    balance: least_connections\n"
    "    sticky_cookie: srv\n"
    "    health: {active: off, passive: off}\n"
    "    servers: [\"[::1]:9100\"]\n"
    "routes:\n"
    "  - host: \"*.Example.COM\"\n"
    "    path: /api/\n"
    "    methods: [GET, HEAD]\n"
    "    upstream: backend\n"
    "    timeouts: {response: 5s, total: 8s}\n"
    "  - host: \"[2001:DB8::1]\"\n"
    "    upstream: static.v2\n";

static void test_full_config(void **state)
{
    struct config *cfg = expect_ok(full_yaml);
    const struct cfg_upstream *u;
    const struct cfg_route *r;

    (void)state;
    assert_int_equal(atomic_load(&cfg->refcnt), 1);
    assert_string_equal(cfg->source, "t.yaml");
    assert_int_equal(cfg->generation, 0);
    assert_int_equal(cfg->workers, 3);
    assert_string_equal(cfg->server_name, "edge-1");

    assert_int_equal(cfg->nlisteners, 2);
    assert_string_equal(cfg->listeners[0].addr.text, "127.0.0.1:8080");
    assert_addr(&cfg->listeners[0].addr, AF_INET, "127.0.0.1", 8080);
    assert_int_equal(cfg->listeners[0].backlog, 4096);
    assert_string_equal(cfg->listeners[1].addr.text, "[::1]:8443");
    assert_addr(&cfg->listeners[1].addr, AF_INET6, "::1", 8443);
    assert_int_equal(cfg->listeners[1].backlog, 128);

    assert_int_equal(cfg->limits.max_request_line, 4096);
    assert_int_equal(cfg->limits.max_header_bytes, 32768);
    assert_int_equal(cfg->limits.max_headers, 50);
    assert_int_equal(cfg->limits.max_body, 1 << 20);

    assert_int_equal(cfg->timeouts.client_header_ms, 5000);
    assert_int_equal(cfg->timeouts.client_body_ms, 30000);
    assert_int_equal(cfg->timeouts.client_send_ms, 45000);
    assert_int_equal(cfg->timeouts.keepalive_ms, 120000);
    assert_int_equal(cfg->timeouts.shutdown_ms, 3600000);

    assert_int_equal(cfg->log.level, LOG_DEBUG);
    assert_string_equal(cfg->log.access, "/var/log/weir/access.log");
    assert_string_equal(cfg->log.error, "/var/log/weir/error.log");

    assert_int_equal(cfg->nupstreams, 2);
    u = &cfg->upstreams[0];
    assert_string_equal(u->name, "backend");
    assert_string_equal(u->balance, "hash");
    assert_int_equal(u->hash_source, CFG_HASH_HEADER);
    assert_string_equal(u->hash_name, "X-User-Id");
    assert_string_equal(u->sticky_cookie, "weir_srv");
    assert_int_equal(u->sticky_ttl_s, 3600);
    assert_int_equal(u->slow_start_ms, 30000);
    assert_int_equal(u->pool.max_idle, 16);
    assert_int_equal(u->pool.min_idle, 4);
    assert_int_equal(u->pool.max_requests, 1000);
    assert_int_equal(u->pool.idle_timeout_ms, 90000);
    assert_int_equal(u->pool.max_lifetime_ms, 600000);
    assert_int_equal(u->pool.acquire_timeout_ms, 250);
    assert_int_equal(u->connect_timeout_ms, 500);
    assert_int_equal(u->response_timeout_ms, 10000);
    assert_int_equal(u->idle_timeout_ms, 20000);
    assert_int_equal(u->total_timeout_ms, 45000);
    assert_true(u->active.enabled);
    assert_int_equal(u->active.interval_ms, 5000);
    assert_int_equal(u->active.timeout_ms, 2000);
    assert_string_equal(u->active.method, "HEAD");
    assert_string_equal(u->active.path, "/healthz?full=1");
    assert_string_equal(u->active.host, "api.internal:8080");
    assert_int_equal(u->active.status_min, 200);
    assert_int_equal(u->active.status_max, 299);
    assert_int_equal(u->active.rise, 4);
    assert_int_equal(u->active.fall, 6);
    assert_true(u->passive.enabled);
    assert_int_equal(u->passive.failures, 10);
    assert_int_equal(u->passive.window_ms, 30000);
    assert_int_equal(u->passive.cooldown_ms, 60000);
    assert_true(u->passive.on_5xx);
    assert_int_equal(u->nservers, 3);
    assert_addr(&u->servers[0].addr, AF_INET, "127.0.0.1", 9001);
    assert_int_equal(u->servers[0].weight, 1);
    assert_false(u->servers[0].backup);
    assert_int_equal(u->servers[0].max_conns, 0);
    assert_string_equal(u->servers[1].addr.text, "10.0.0.2:9002");
    assert_addr(&u->servers[1].addr, AF_INET, "10.0.0.2", 9002);
    assert_int_equal(u->servers[1].weight, 5);
    assert_false(u->servers[1].backup);
    assert_int_equal(u->servers[1].max_conns, 100);
    assert_addr(&u->servers[2].addr, AF_INET, "10.0.0.3", 9003);
    assert_true(u->servers[2].backup);
    u = &cfg->upstreams[1];
    assert_string_equal(u->name, "static.v2");
    assert_string_equal(u->balance, "least_connections");
    assert_int_equal(u->hash_source, CFG_HASH_CLIENT_IP);
    assert_null(u->hash_name);
    assert_string_equal(u->sticky_cookie, "srv");
    assert_int_equal(u->sticky_ttl_s, 0);
    assert_false(u->active.enabled);
    assert_false(u->passive.enabled);
    assert_int_equal(u->nservers, 1);
    assert_addr(&u->servers[0].addr, AF_INET6, "::1", 9100);

    assert_int_equal(cfg->nroutes, 2);
    r = &cfg->routes[0];
    assert_string_equal(r->host, "*.example.com");
    assert_string_equal(r->path, "/api/");
    assert_int_equal(r->nmethods, 2);
    assert_string_equal(r->methods[0], "GET");
    assert_string_equal(r->methods[1], "HEAD");
    assert_string_equal(r->upstream_name, "backend");
    assert_ptr_equal(r->upstream, &cfg->upstreams[0]);
    assert_int_equal(r->response_timeout_ms, 5000);
    assert_int_equal(r->total_timeout_ms, 8000);
    r = &cfg->routes[1];
    assert_string_equal(r->host, "[2001:db8::1]");
    assert_string_equal(r->path, "/");
    assert_null(r->methods);
    assert_int_equal(r->nmethods, 0);
    assert_ptr_equal(r->upstream, &cfg->upstreams[1]);
    assert_int_equal(r->response_timeout_ms, 0);
    assert_int_equal(r->total_timeout_ms, 0);
    config_unref(cfg);
}

/* Every field of a group written as just `servers: [...]`. */
static void assert_default_upstream(const struct cfg_upstream *u)
{
    assert_string_equal(u->name, "b");
    assert_string_equal(u->balance, "round_robin");
    assert_int_equal(u->hash_source, CFG_HASH_CLIENT_IP);
    assert_null(u->hash_name);
    assert_null(u->sticky_cookie);
    assert_int_equal(u->sticky_ttl_s, 0);
    assert_int_equal(u->slow_start_ms, 0);
    assert_int_equal(u->nservers, 1);
    assert_non_null(u->servers);
    assert_int_equal(u->pool.max_idle, 64);
    assert_int_equal(u->pool.min_idle, 0);
    assert_int_equal(u->pool.max_requests, 0);
    assert_int_equal(u->pool.idle_timeout_ms, 60000);
    assert_int_equal(u->pool.max_lifetime_ms, 0);
    assert_int_equal(u->pool.acquire_timeout_ms, 1000);
    assert_false(u->active.enabled);
    assert_int_equal(u->active.interval_ms, 2000);
    assert_int_equal(u->active.timeout_ms, 1000);
    assert_string_equal(u->active.method, "GET");
    assert_string_equal(u->active.path, "/");
    assert_null(u->active.host);
    assert_int_equal(u->active.status_min, 200);
    assert_int_equal(u->active.status_max, 399);
    assert_int_equal(u->active.rise, 2);
    assert_int_equal(u->active.fall, 3);
    assert_true(u->passive.enabled);
    assert_int_equal(u->passive.failures, 5);
    assert_int_equal(u->passive.window_ms, 10000);
    assert_int_equal(u->passive.cooldown_ms, 10000);
    assert_false(u->passive.on_5xx);
    assert_int_equal(u->connect_timeout_ms, 3000);
    assert_int_equal(u->response_timeout_ms, 30000);
    assert_int_equal(u->idle_timeout_ms, 60000);
    assert_int_equal(u->total_timeout_ms, 60000);
}

static void test_defaults(void **state)
{
    struct config *cfg = expect_ok(BASE);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const struct cfg_upstream *u;

    (void)state;
    assert_int_equal(cfg->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
    assert_string_equal(cfg->server_name, "weir");
    assert_int_equal(cfg->nlisteners, 1);
    assert_int_equal(cfg->listeners[0].backlog, 4096);
    assert_int_equal(cfg->limits.max_request_line, 8192);
    assert_int_equal(cfg->limits.max_header_bytes, 16384);
    assert_int_equal(cfg->limits.max_headers, 100);
    assert_int_equal(cfg->limits.max_body, 0);
    assert_int_equal(cfg->timeouts.client_header_ms, 10000);
    assert_int_equal(cfg->timeouts.client_body_ms, 60000);
    assert_int_equal(cfg->timeouts.client_send_ms, 60000);
    assert_int_equal(cfg->timeouts.keepalive_ms, 75000);
    assert_int_equal(cfg->timeouts.shutdown_ms, 30000);
    assert_int_equal(cfg->log.level, LOG_INFO);
    assert_null(cfg->log.access);
    assert_string_equal(cfg->log.error, "stderr");
    u = &cfg->upstreams[0];
    assert_default_upstream(u);
    assert_int_equal(u->servers[0].weight, 1);
    assert_false(u->servers[0].backup);
    assert_int_equal(u->servers[0].max_conns, 0);
    assert_null(cfg->routes[0].host);
    assert_string_equal(cfg->routes[0].path, "/");
    assert_null(cfg->routes[0].methods);
    assert_ptr_equal(cfg->routes[0].upstream, u);
    assert_int_equal(cfg->routes[0].response_timeout_ms, 0);
    assert_int_equal(cfg->routes[0].total_timeout_ms, 0);
    config_unref(cfg);

    /* Partial sections keep the defaults of the keys they leave out. */
    cfg = expect_ok(BASE "limits: {max_headers: 10}\ntimeouts: {shutdown: 1s}\nlog: {}\n");
    assert_int_equal(cfg->limits.max_headers, 10);
    assert_int_equal(cfg->limits.max_header_bytes, 16384);
    assert_int_equal(cfg->timeouts.shutdown_ms, 1000);
    assert_int_equal(cfg->timeouts.keepalive_ms, 75000);
    assert_string_equal(cfg->log.error, "stderr");
    config_unref(cfg);

    /* A smaller head limit lowers the request line's default with it. */
    cfg = expect_ok(BASE "limits: {max_header_bytes: 4k}\n");
    assert_int_equal(cfg->limits.max_request_line, 4096);
    config_unref(cfg);
}

static void test_values(void **state)
{
    struct config *cfg;

    (void)state;
    cfg = expect_ok("workers: auto\n" BASE);
    assert_true(cfg->workers >= 1 && cfg->workers <= 256);
    config_unref(cfg);
    cfg = expect_ok("workers: 256\n" BASE "log: {access: stdout}\n");
    assert_int_equal(cfg->workers, 256);
    assert_string_equal(cfg->log.access, "stdout");
    config_unref(cfg);
    cfg = expect_ok(BASE "log: {access: off, level: error}\n");
    assert_null(cfg->log.access);
    assert_int_equal(cfg->log.level, LOG_ERROR);
    config_unref(cfg);
    /* Bare numbers are milliseconds and bytes; integers are accepted where sizes are. */
    cfg = expect_ok(BASE "timeouts: {client_header: 1500}\nlimits: {max_request_line: 64,"
                         " max_header_bytes: 1048576, max_body: 3GiB}\n");
    assert_int_equal(cfg->timeouts.client_header_ms, 1500);
    assert_int_equal(cfg->limits.max_request_line, 64);
    assert_int_equal(cfg->limits.max_header_bytes, 1 << 20);
    assert_int_equal(cfg->limits.max_body, 3ull << 30);
    config_unref(cfg);
    /* An upstream no route uses is fine; listen items may be mappings without a backlog. */
    cfg = expect_ok("listen: [{address: ':80'}, '*:81', 'localhost:82']\n"
                    "upstreams: {a: {servers: [1.2.3.4:5]}, unused: {servers: [1.2.3.4:6]}}\n"
                    "routes: [{upstream: a, path: /x, methods: [GET]},\n"
                    "         {upstream: a, path: /x, methods: [POST]},\n"
                    "         {upstream: a, path: /x, host: a.example}]\n");
    assert_int_equal(cfg->nupstreams, 2);
    assert_addr(&cfg->listeners[0].addr, AF_INET, "0.0.0.0", 80);
    assert_addr(&cfg->listeners[1].addr, AF_INET, "0.0.0.0", 81);
    assert_addr(&cfg->listeners[2].addr, AF_INET, "127.0.0.1", 82);
    config_unref(cfg);
}

static void test_refcount(void **state)
{
    struct config *cfg = expect_ok(BASE);

    (void)state;
    config_ref(cfg);
    config_ref(cfg);
    assert_int_equal(atomic_load(&cfg->refcnt), 3);
    config_unref(cfg);
    config_unref(cfg);
    assert_int_equal(atomic_load(&cfg->refcnt), 1);
    config_unref(cfg); /* LSan reports anything this leaves behind */
    config_unref(NULL);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("foo: 1\n" BASE, "t.yaml:1:1: unknown key 'foo' at the top level");
    expect_error(BASE "limits: {max_body: 1, foo: 2}\n",
                 "t.yaml:4:23: unknown key 'foo' in 'limits'");
    expect_error(BASE "timeouts:\n  client_header: 1s\n  idle: 2s\n",
                 "t.yaml:6:3: unknown key 'idle' in 'timeouts'");
    expect_error(BASE "log: {file: x}\n", "t.yaml:4:7: unknown key 'file' in 'log'");
    expect_error("listen: [{address: ':80', reuseport: true}]\n" REST,
                 "t.yaml:1:27: unknown key 'reuseport' in 'listen[0]'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5], retries: 3}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:39: unknown key 'retries' in 'upstreams.b'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5], timeouts: {read: 1s}}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:50: unknown key 'read' in 'upstreams.b.timeouts'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5, {address: 1.2.3.4:6, "
                 "down: true}]}}\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:59: unknown key 'down' in 'upstreams.b.servers[1]'");
    expect_error(BASE "routes: [{upstream: b, prefix: /}]\n",
                 "t.yaml:4:1: duplicate key 'routes' at the top level (first at line 3)");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                 "routes:\n  - upstream: b\n  - upstream: b\n    prefix: /x\n",
                 "t.yaml:6:5: unknown key 'prefix' in 'routes[1]'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                 "routes: [{upstream: b, timeouts: {connect: 1s}}]\n",
                 "t.yaml:3:35: unknown key 'connect' in 'routes[0].timeouts'");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_error("- a\n- b\n", "t.yaml:1:1: expected a mapping at the top level, found a list");
    expect_error(BASE "limits: [1]\n",
                 "t.yaml:4:9: expected a mapping for 'limits', found a list");
    expect_error(BASE "limits:\n",
                 "t.yaml:4:8: expected a mapping for 'limits', found an empty value");
    expect_error("listen: 127.0.0.1:80\n" REST,
                 "t.yaml:1:9: expected a list for 'listen', found a scalar");
    expect_error(BASE "server_name: [a]\n",
                 "t.yaml:4:14: expected a scalar for 'server_name', found a list");
    expect_error(BASE "workers: {n: 1}\n",
                 "t.yaml:4:10: expected a scalar for 'workers', found a mapping");
    expect_error("listen: [[':80']]\n" REST,
                 "t.yaml:1:10: expected an address or a mapping in 'listen', found a list");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [[1.2.3.4:5]]}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:27: expected an address or a mapping in 'servers', found a list");
    expect_error("listen: [':80']\nupstreams: {b: {servers: 1.2.3.4:5}}\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:26: expected a list for 'servers', found a scalar");
    expect_error("listen: [':80']\nupstreams: [b]\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:12: expected a mapping for 'upstreams', found a list");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: {upstream: b}\n",
                 "t.yaml:3:9: expected a list for 'routes', found a mapping");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: [b]\n",
                 "t.yaml:3:10: expected a mapping for 'routes[0]', found a scalar");
    expect_error(BASE "? [a]\n: 1\n",
                 "t.yaml:4:3: expected a scalar as a key at the top level, found a list");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                 "routes: [{upstream: b, methods: GET}]\n",
                 "t.yaml:3:33: expected a list for 'methods', found a scalar");
    expect_error(BASE "log: {level: ''}\n", "t.yaml:4:14: 'level' must not be empty");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("workers: 0\n" BASE, "t.yaml:1:10: workers must be 'auto' or 1..256, got '0'");
    expect_error("workers: 257\n" BASE, "t.yaml:1:10: workers must be 'auto' or 1..256, got '257'");
    expect_error("workers: many\n" BASE,
                 "t.yaml:1:10: workers must be 'auto' or 1..256, got 'many'");
    expect_error("server_name: \"we ir\"\n" BASE,
                 "t.yaml:1:14: server_name 'we ir' is not a valid HTTP token");
    expect_error(BASE "timeouts: {client_header: 10x}\n",
                 "t.yaml:4:27: invalid duration '10x' for 'client_header' "
                 "(use e.g. 250ms, 10s, 2m, 1h)");
    expect_error(BASE "timeouts: {keepalive: 0s}\n",
                 "t.yaml:4:23: 'keepalive' must be more than 0 and less than 24h, got '0s'");
    expect_error(BASE "timeouts: {shutdown: 24h}\n",
                 "t.yaml:4:22: 'shutdown' must be more than 0 and less than 24h, got '24h'");
    expect_error(BASE "limits: {max_body: 1x}\n",
                 "t.yaml:4:20: invalid size '1x' for 'max_body' (use e.g. 512, 16k, 1m)");
    expect_error(BASE "limits: {max_header_bytes: 2m}\n",
                 "t.yaml:4:28: 'max_header_bytes' must be 1k..1m, got '2m'");
    expect_error(BASE "limits: {max_header_bytes: 1000}\n",
                 "t.yaml:4:28: 'max_header_bytes' must be 1k..1m, got '1000'");
    expect_error(BASE "limits: {max_request_line: 63}\n",
                 "t.yaml:4:28: 'max_request_line' must be 64..16k, got '63'");
    expect_error(BASE "limits: {max_header_bytes: 8k, max_request_line: 9k}\n",
                 "t.yaml:4:50: 'max_request_line' must be 64..8k, got '9k'");
    expect_error(BASE "limits: {max_headers: 129}\n",
                 "t.yaml:4:23: 'max_headers' must be an integer in 1..128, got '129'");
    expect_error(BASE "limits: {max_headers: 1k}\n",
                 "t.yaml:4:23: 'max_headers' must be an integer in 1..128, got '1k'");
    expect_error(BASE "log: {level: verbose}\n",
                 "t.yaml:4:14: unknown log level 'verbose' "
                 "(expected one of: debug, info, warn, error)");
    expect_error(BASE "log: {error: off}\n",
                 "t.yaml:4:14: 'error' must be 'stderr' or a file path, got 'off'");
    expect_error("listen: ['127.0.0.1:99999']\n" REST,
                 "t.yaml:1:10: invalid address '127.0.0.1:99999': "
                 "the port must be a number in 1..65535");
    expect_error("listen: [{address: 'example.com:80', backlog: 0}]\n" REST,
                 "t.yaml:1:47: 'backlog' must be an integer in 1..65535, got '0'");
    expect_error("listen: [{address: 'example.com:80'}]\n" REST,
                 "t.yaml:1:20: invalid address 'example.com:80': "
                 "not a numeric IPv4 address (host names are not resolved)");
    expect_error("listen: [':80']\nupstreams: {b: {balance: fastest, servers: [1.2.3.4:5]}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:26: unknown balance strategy 'fastest' (expected one of: "
                 "round_robin, random, least_connections, weighted, hash)");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [{address: 1.2.3.4:5, weight: 1001}]}}"
                 "\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:56: 'weight' must be an integer in 1..1000, got '1001'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [{address: 1.2.3.4:5, backup: yes}]}}"
                 "\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:56: 'backup' must be true or false, got 'yes'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [{address: '::1:5'}]}}"
                 "\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:37: invalid address '::1:5': "
                 "an IPv6 address must be in brackets, as in [::1]:8080");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [{address: 1.2.3.4:5, backup: true}]}}"
                 "\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:26: every server of 'b' is a backup; at least one must not be");
    expect_error("listen: [':80']\nupstreams: {'b/c': {servers: [1.2.3.4:5]}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:13: invalid upstream name 'b/c' "
                 "(use letters, digits, '_', '.' and '-')");
}

/* One group `b` with one server; g adds lines at its level (4 spaces in), from line 5. */
#define GROUP(g)                                                                               \
    "listen: [':80']\nupstreams:\n  b:\n    servers: [1.2.3.4:5]\n" g "routes: [{upstream: b}]\n"
/* Keys of health.active, the first of them at column 23 of line 5. */
#define ACTIVE(a) GROUP("    health: {active: {" a "}}\n")

static void test_upstream_values(void **state)
{
    static const struct {
        const char *expect;
        unsigned lo, hi;
    } statuses[] = {
        {"200", 200, 200}, {"200-399", 200, 399}, {"5XX", 500, 599}, {"1xx", 100, 199},
        {"100-599", 100, 599}, {"404-404", 404, 404}, {"0204", 204, 204},
    };
    static const char *const hosts[] = {"api.internal", "10.0.0.1:8080", "'[::1]'",
                                        "'[::1]:8080'", "a_b-c.d"};
    struct config *cfg;
    const struct cfg_upstream *u;

    (void)state;
    cfg = expect_ok(GROUP("    balance: hash\n    hash: client_ip\n"));
    u = &cfg->upstreams[0];
    assert_int_equal(u->hash_source, CFG_HASH_CLIENT_IP);
    assert_null(u->hash_name);
    config_unref(cfg);
    /* Unquoted, in block style, the colon is part of the scalar. */
    cfg = expect_ok(GROUP("    balance: hash\n    hash: cookie:session\n"));
    u = &cfg->upstreams[0];
    assert_int_equal(u->hash_source, CFG_HASH_COOKIE);
    assert_string_equal(u->hash_name, "session");
    config_unref(cfg);
    cfg = expect_ok(GROUP("    balance: hash\n    hash: 'header:x-user'\n"
                          "    sticky_cookie: {name: s}\n    slow_start: 0\n"));
    u = &cfg->upstreams[0];
    assert_int_equal(u->hash_source, CFG_HASH_HEADER);
    assert_string_equal(u->hash_name, "x-user");
    assert_string_equal(u->sticky_cookie, "s");
    assert_int_equal(u->sticky_ttl_s, 0);
    assert_int_equal(u->slow_start_ms, 0);
    config_unref(cfg);

    cfg = expect_ok(GROUP("    sticky_cookie: off\n    slow_start: 1500\n"));
    assert_null(cfg->upstreams[0].sticky_cookie);
    assert_int_equal(cfg->upstreams[0].slow_start_ms, 1500);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    sticky_cookie: {name: a, ttl: 9600h}\n"));
    assert_string_equal(cfg->upstreams[0].sticky_cookie, "a");
    assert_int_equal(cfg->upstreams[0].sticky_ttl_s, 9600u * 3600u);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    sticky_cookie: {name: a, ttl: 0}\n"));
    assert_int_equal(cfg->upstreams[0].sticky_ttl_s, 0);
    config_unref(cfg);

    cfg = expect_ok(GROUP("    pool: {max_idle: 0, max_lifetime: 0, max_requests: 4294967295}\n"));
    u = &cfg->upstreams[0];
    assert_int_equal(u->pool.max_idle, 0);
    assert_int_equal(u->pool.min_idle, 0);
    assert_int_equal(u->pool.max_requests, UINT32_MAX);
    assert_int_equal(u->pool.max_lifetime_ms, 0);
    assert_int_equal(u->pool.idle_timeout_ms, 60000);
    assert_int_equal(u->pool.acquire_timeout_ms, 1000);
    config_unref(cfg);
    cfg = expect_ok(
        GROUP("    pool: {max_idle: 65535, min_idle: 65535, max_lifetime: 86399999}\n"));
    assert_int_equal(cfg->upstreams[0].pool.min_idle, 65535);
    assert_int_equal(cfg->upstreams[0].pool.max_lifetime_ms, 86399999);
    config_unref(cfg);

    /* No cross-checks between the group's timeouts: total may be below connect. */
    cfg = expect_ok(GROUP("    timeouts: {total: 1s, connect: 5s}\n"));
    assert_int_equal(cfg->upstreams[0].total_timeout_ms, 1000);
    assert_int_equal(cfg->upstreams[0].connect_timeout_ms, 5000);
    assert_int_equal(cfg->upstreams[0].response_timeout_ms, 30000);
    config_unref(cfg);

    /* An empty `active` mapping turns checks on with every default. */
    cfg = expect_ok(GROUP("    health: {active: {}}\n"));
    u = &cfg->upstreams[0];
    assert_true(u->active.enabled);
    assert_int_equal(u->active.interval_ms, 2000);
    assert_int_equal(u->active.timeout_ms, 1000);
    assert_string_equal(u->active.method, "GET");
    assert_string_equal(u->active.path, "/");
    assert_null(u->active.host);
    assert_int_equal(u->active.status_min, 200);
    assert_int_equal(u->active.status_max, 399);
    assert_int_equal(u->active.rise, 2);
    assert_int_equal(u->active.fall, 3);
    assert_true(u->passive.enabled);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    health: {}\n"));
    assert_default_upstream(&cfg->upstreams[0]);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    health: {active: off, passive: {}}\n"));
    assert_default_upstream(&cfg->upstreams[0]);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    health:\n      passive: off\n"));
    u = &cfg->upstreams[0];
    assert_false(u->passive.enabled);
    assert_int_equal(u->passive.failures, 5);
    assert_int_equal(u->passive.window_ms, 10000);
    assert_int_equal(u->passive.cooldown_ms, 10000);
    assert_false(u->passive.on_5xx);
    config_unref(cfg);
    cfg = expect_ok(ACTIVE("interval: 500ms, timeout: 499ms, rise: 100, fall: 1"));
    u = &cfg->upstreams[0];
    assert_int_equal(u->active.interval_ms, 500);
    assert_int_equal(u->active.timeout_ms, 499);
    assert_int_equal(u->active.rise, 100);
    assert_int_equal(u->active.fall, 1);
    config_unref(cfg);
    cfg = expect_ok(GROUP("    health: {passive: {failures: 1000, on_5xx: false}}\n"));
    assert_int_equal(cfg->upstreams[0].passive.failures, 1000);
    config_unref(cfg);

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        char yaml[256];

        snprintf(yaml, sizeof(yaml), ACTIVE("expect: %s"), statuses[i].expect);
        cfg = expect_ok(yaml);
        assert_int_equal(cfg->upstreams[0].active.status_min, statuses[i].lo);
        assert_int_equal(cfg->upstreams[0].active.status_max, statuses[i].hi);
        config_unref(cfg);
    }
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        char yaml[256];

        snprintf(yaml, sizeof(yaml), ACTIVE("host: %s"), hosts[i]);
        cfg = expect_ok(yaml);
        assert_non_null(cfg->upstreams[0].active.host);
        config_unref(cfg);
    }

    /* A route's total overrides the group's; its response stays the group's. */
    cfg = expect_ok("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                    "routes: [{upstream: b, timeouts: {total: 2s}}]\n");
    assert_int_equal(cfg->routes[0].total_timeout_ms, 2000);
    assert_int_equal(cfg->routes[0].response_timeout_ms, 0);
    config_unref(cfg);
}

static void test_bad_upstreams(void **state)
{
    (void)state;
    /* Unknown keys at every level, and the keys that moved say where to. */
    expect_error(GROUP("    pool: {max_idle: 5, size: 3}\n"),
                 "t.yaml:5:25: unknown key 'size' in 'upstreams.b.pool'");
    expect_error(GROUP("    health: {active: {}, aggressive: true}\n"),
                 "t.yaml:5:26: unknown key 'aggressive' in 'upstreams.b.health'");
    expect_error(GROUP("    health:\n      active:\n        interval: 1s\n        port: 80\n"),
                 "t.yaml:8:9: unknown key 'port' in 'upstreams.b.health.active'");
    expect_error(GROUP("    health: {passive: {failures: 2, timeout: 1s}}\n"),
                 "t.yaml:5:37: unknown key 'timeout' in 'upstreams.b.health.passive'");
    expect_error(GROUP("    sticky_cookie: {name: s, path: /}\n"),
                 "t.yaml:5:30: unknown key 'path' in 'upstreams.b.sticky_cookie'");
    expect_error(GROUP("    timeouts: {connect: 1s, keepalive: 60s}\n"),
                 "t.yaml:5:29: unknown key 'keepalive' in 'upstreams.b.timeouts' "
                 "(moved to pool.idle_timeout)");
    expect_error(GROUP("    keepalive: 64\n"),
                 "t.yaml:5:5: unknown key 'keepalive' in 'upstreams.b' (moved to pool.max_idle)");
    expect_error(GROUP("    keepalive_requests: 100\n"),
                 "t.yaml:5:5: unknown key 'keepalive_requests' in 'upstreams.b' "
                 "(moved to pool.max_requests)");

    /* Wrong kinds. */
    expect_error(GROUP("    health: off\n"),
                 "t.yaml:5:13: expected a mapping for 'upstreams.b.health', found a scalar");
    expect_error(GROUP("    health: {active: on}\n"),
                 "t.yaml:5:22: expected a mapping or 'off' for 'upstreams.b.health.active', "
                 "found a scalar");
    expect_error(GROUP("    health: {passive: []}\n"),
                 "t.yaml:5:23: expected a mapping or 'off' for 'upstreams.b.health.passive', "
                 "found a list");
    expect_error(GROUP("    pool: [1]\n"),
                 "t.yaml:5:11: expected a mapping for 'upstreams.b.pool', found a list");
    expect_error(GROUP("    sticky_cookie: [a]\n"),
                 "t.yaml:5:20: expected a cookie name or a mapping for 'sticky_cookie', "
                 "found a list");
    expect_error(GROUP("    sticky_cookie: ''\n"),
                 "t.yaml:5:20: 'sticky_cookie' must not be empty");

    /* balance and hash. */
    expect_error(GROUP("    balance: random\n    hash: client_ip\n"),
                 "t.yaml:6:11: 'hash' is only used with balance: hash");
    expect_error(GROUP("    hash: client_ip\n"),
                 "t.yaml:5:11: 'hash' is only used with balance: hash");
    expect_error(GROUP("    balance: hash\n    hash: ip\n"),
                 "t.yaml:6:11: invalid hash 'ip' (expected client_ip, header:NAME or cookie:NAME)");
    expect_error(GROUP("    balance: hash\n    hash: 'Header:X'\n"),
                 "t.yaml:6:11: invalid hash 'Header:X' "
                 "(expected client_ip, header:NAME or cookie:NAME)");
    expect_error(GROUP("    balance: hash\n    hash: 'header:'\n"),
                 "t.yaml:6:11: invalid hash 'header:': the header name is missing");
    expect_error(GROUP("    balance: hash\n    hash: 'header:X User'\n"),
                 "t.yaml:6:11: invalid hash 'header:X User': 'X User' is not a valid header name");
    expect_error(GROUP("    balance: hash\n    hash: 'cookie:a=b'\n"),
                 "t.yaml:6:11: invalid hash 'cookie:a=b': 'a=b' is not a valid cookie name");

    /* sticky_cookie and slow_start. */
    expect_error(GROUP("    sticky_cookie: 'a;b'\n"),
                 "t.yaml:5:20: invalid cookie name 'a;b': not an HTTP token");
    expect_error(GROUP("    sticky_cookie: {name: 'a b'}\n"),
                 "t.yaml:5:27: invalid cookie name 'a b': not an HTTP token");
    expect_error(GROUP("    sticky_cookie: {ttl: 1h}\n"),
                 "t.yaml:5:20: missing required key 'name' in 'upstreams.b.sticky_cookie'");
    expect_error(GROUP("    sticky_cookie: {name: s, ttl: 1500ms}\n"),
                 "t.yaml:5:35: 'ttl' must be a whole number of seconds, got '1500ms'");
    expect_error(GROUP("    sticky_cookie: {name: s, ttl: 9601h}\n"),
                 "t.yaml:5:35: 'ttl' must be 0..9600h (400 days), got '9601h'");
    expect_error(GROUP("    slow_start: 24h\n"),
                 "t.yaml:5:17: 'slow_start' must be 0 or less than 24h, got '24h'");
    expect_error(GROUP("    slow_start: 1d\n"),
                 "t.yaml:5:17: invalid duration '1d' for 'slow_start' "
                 "(use e.g. 250ms, 10s, 2m, 1h)");

    /* pool. */
    expect_error(GROUP("    pool: {max_idle: 5, min_idle: 6}\n"),
                 "t.yaml:5:35: 'min_idle' (6) must not be more than 'max_idle' (5)");
    expect_error(GROUP("    pool: {min_idle: 65}\n"),
                 "t.yaml:5:22: 'min_idle' (65) must not be more than 'max_idle' (64)");
    expect_error(GROUP("    pool: {max_idle: 65536}\n"),
                 "t.yaml:5:22: 'max_idle' must be an integer in 0..65535, got '65536'");
    expect_error(GROUP("    pool: {acquire_timeout: 0}\n"),
                 "t.yaml:5:29: 'acquire_timeout' must be more than 0 and less than 24h, got '0'");
    expect_error(GROUP("    pool: {max_lifetime: 24h}\n"),
                 "t.yaml:5:26: 'max_lifetime' must be 0 or less than 24h, got '24h'");
    expect_error(GROUP("    pool: {idle_timeout: 0s}\n"),
                 "t.yaml:5:26: 'idle_timeout' must be more than 0 and less than 24h, got '0s'");
    expect_error(GROUP("    timeouts: {total: 0s}\n"),
                 "t.yaml:5:23: 'total' must be more than 0 and less than 24h, got '0s'");

    /* health.active. */
    expect_error(ACTIVE("expect: 600"), "t.yaml:5:31: invalid expect '600': statuses are 100..599");
    expect_error(ACTIVE("expect: 99-200"),
                 "t.yaml:5:31: invalid expect '99-200': statuses are 100..599");
    expect_error(ACTIVE("expect: 300-200"),
                 "t.yaml:5:31: invalid expect '300-200': 300 is more than 200");
    expect_error(ACTIVE("expect: 2x"),
                 "t.yaml:5:31: invalid expect '2x' (use a status like 200, a range like 200-399 "
                 "or a class like 2xx)");
    expect_error(ACTIVE("expect: 6xx"),
                 "t.yaml:5:31: invalid expect '6xx' (use a status like 200, a range like 200-399 "
                 "or a class like 2xx)");
    expect_error(ACTIVE("expect: 2xx-3xx"),
                 "t.yaml:5:31: invalid expect '2xx-3xx' (use a status like 200, a range like "
                 "200-399 or a class like 2xx)");
    expect_error(ACTIVE("expect: '200-'"),
                 "t.yaml:5:31: invalid expect '200-' (use a status like 200, a range like 200-399 "
                 "or a class like 2xx)");
    expect_error(ACTIVE("interval: 1s, timeout: 1s"),
                 "t.yaml:5:46: 'timeout' must be less than 'interval' (1000ms >= 1000ms)");
    /* The default timeout (1s) against a shorter interval: reported at the interval. */
    expect_error(ACTIVE("interval: 500ms"),
                 "t.yaml:5:33: 'timeout' must be less than 'interval' (1000ms >= 500ms)");
    expect_error(ACTIVE("method: get"),
                 "t.yaml:5:31: invalid method 'get': methods are upper-case");
    expect_error(ACTIVE("method: 'G T'"), "t.yaml:5:31: invalid method 'G T': not an HTTP token");
    expect_error(ACTIVE("path: healthz"),
                 "t.yaml:5:29: invalid path 'healthz': must start with '/'");
    expect_error(ACTIVE("path: '/a b'"),
                 "t.yaml:5:29: invalid path '/a b': no spaces, control or non-ASCII characters, "
                 "or '#'");
    expect_error(ACTIVE("path: '/a#b'"),
                 "t.yaml:5:29: invalid path '/a#b': no spaces, control or non-ASCII characters, "
                 "or '#'");
    expect_error(ACTIVE("host: 'a/b'"),
                 "t.yaml:5:29: invalid host 'a/b': unexpected character '/'");
    expect_error(ACTIVE("host: 'a:0'"),
                 "t.yaml:5:29: invalid host 'a:0': the port must be a number in 1..65535");
    expect_error(ACTIVE("host: 'a:'"),
                 "t.yaml:5:29: invalid host 'a:': the port must be a number in 1..65535");
    expect_error(ACTIVE("host: ':80'"), "t.yaml:5:29: invalid host ':80': empty host name");
    expect_error(ACTIVE("host: '[zz]:80'"),
                 "t.yaml:5:29: invalid host '[zz]:80': not an IPv6 address");
    expect_error(ACTIVE("host: '[::1'"),
                 "t.yaml:5:29: invalid host '[::1': expected an IPv6 address in brackets");
    expect_error(ACTIVE("rise: 0"), "t.yaml:5:29: 'rise' must be an integer in 1..100, got '0'");
    expect_error(ACTIVE("fall: 101"),
                 "t.yaml:5:29: 'fall' must be an integer in 1..100, got '101'");
    expect_error(ACTIVE("interval: 0"),
                 "t.yaml:5:33: 'interval' must be more than 0 and less than 24h, got '0'");

    /* health.passive. */
    expect_error(GROUP("    health: {passive: {failures: 0}}\n"),
                 "t.yaml:5:34: 'failures' must be an integer in 1..1000, got '0'");
    expect_error(GROUP("    health: {passive: {on_5xx: yes}}\n"),
                 "t.yaml:5:32: 'on_5xx' must be true or false, got 'yes'");
    expect_error(GROUP("    health: {passive: {cooldown: 10x}}\n"),
                 "t.yaml:5:34: invalid duration '10x' for 'cooldown' "
                 "(use e.g. 250ms, 10s, 2m, 1h)");

    /* The group-level checks still hold with the new keys around them. */
    expect_error("listen: [':80']\nupstreams:\n  b:\n    pool: {max_idle: 1}\n"
                 "    servers: [{address: 1.2.3.4:5, backup: true}]\nroutes: [{upstream: b}]\n",
                 "t.yaml:5:14: every server of 'b' is a backup; at least one must not be");
}
#undef ACTIVE
#undef GROUP

static void test_bad_routes(void **state)
{
    (void)state;
#define ROUTE(r) "listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: [" r "]\n"
    expect_error(ROUTE("{upstream: b, host: 'a.example:8080'}"),
                 "t.yaml:3:30: invalid host 'a.example:8080': a route host has no port");
    expect_error(ROUTE("{upstream: b, host: 'a.*.example'}"),
                 "t.yaml:3:30: invalid host 'a.*.example': '*' is only allowed as a leading '*.'");
    expect_error(ROUTE("{upstream: b, host: 'a..example'}"),
                 "t.yaml:3:30: invalid host 'a..example': empty label");
    expect_error(ROUTE("{upstream: b, host: '*.'}"), "t.yaml:3:30: invalid host '*.': empty label");
    expect_error(ROUTE("{upstream: b, host: 'a/b'}"),
                 "t.yaml:3:30: invalid host 'a/b': unexpected character '/'");
    expect_error(ROUTE("{upstream: b, host: '[zz]'}"),
                 "t.yaml:3:30: invalid host '[zz]': not an IPv6 address");
    expect_error(ROUTE("{upstream: b, path: api}"),
                 "t.yaml:3:30: invalid path 'api': must start with '/'");
    expect_error(ROUTE("{upstream: b, path: '/a b'}"),
                 "t.yaml:3:30: invalid path '/a b': no spaces, controls, '?' or '#'");
    expect_error(ROUTE("{upstream: b, methods: [get]}"),
                 "t.yaml:3:34: invalid method 'get': methods are upper-case");
    expect_error(ROUTE("{upstream: b, methods: ['GE T']}"),
                 "t.yaml:3:34: invalid method 'GE T': not an HTTP token");
    expect_error(ROUTE("{upstream: b, methods: [GET, PUT, GET]}"),
                 "t.yaml:3:44: duplicate method 'GET'");
    expect_error(ROUTE("{upstream: b, methods: []}"),
                 "t.yaml:3:33: 'methods' is empty; leave it out to allow any method");
    expect_error(ROUTE("{upstream: b, timeouts: {response: 1d}}"),
                 "t.yaml:3:45: invalid duration '1d' for 'response' (use e.g. 250ms, 10s, 2m, 1h)");
    expect_error(ROUTE("{upstream: b, timeouts: {total: 0}}"),
                 "t.yaml:3:42: 'total' must be more than 0 and less than 24h, got '0'");
    expect_error(ROUTE("{upstream: b, timeouts: {total: 1s, idle: 1s}}"),
                 "t.yaml:3:46: unknown key 'idle' in 'routes[0].timeouts'");
    expect_error(ROUTE("{upstream: b, path: /a, methods: [PUT, GET]}, "
                       "{upstream: b, path: /a, methods: [GET]}"),
                 "t.yaml:3:56: route clashes with the one at line 3 "
                 "(same host, path and a common method)");
    expect_error(ROUTE("{upstream: b, host: X.example}, {upstream: b, host: x.EXAMPLE}"),
                 "t.yaml:3:42: route clashes with the one at line 3 "
                 "(same host, path and a common method)");
#undef ROUTE
}

static void test_missing_and_unknown_refs(void **state)
{
    (void)state;
    expect_error("upstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: [{upstream: b}]\n",
                 "t.yaml:1:1: missing required key 'listen' at the top level");
    /* upstreams may be left out (routes answered by modules need none): a route naming one
     * is then the error. */
    expect_error("listen: [':80']\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:21: unknown upstream 'b' (not defined in 'upstreams')");
    expect_error("listen: [':80']\nroutes: [{path: /}]\n",
                 "t.yaml:2:10: missing required key 'upstream' in 'routes[0]'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n",
                 "t.yaml:1:1: missing required key 'routes' at the top level");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                 "routes:\n  - path: /\n    host: a\n",
                 "t.yaml:4:5: missing required key 'upstream' in 'routes[0]'");
    expect_error("listen: [':80']\nupstreams:\n  b:\n    balance: random\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:4:5: missing required key 'servers' in 'upstreams.b'");
    expect_error("listen: [{backlog: 5}]\n" REST,
                 "t.yaml:1:10: missing required key 'address' in 'listen[0]'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [{weight: 2}]}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:27: missing required key 'address' in 'upstreams.b.servers[0]'");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\n"
                 "routes:\n  - upstream: b\n  - path: /x\n    upstream: c\n",
                 "t.yaml:6:15: unknown upstream 'c' (not defined in 'upstreams')");
    expect_error("listen: []\n" REST, "t.yaml:1:9: 'listen' must list at least one address");
    expect_error("listen: [':80']\nupstreams: {}\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:12: 'upstreams' must define at least one group");
    expect_error("listen: [':80']\nupstreams: {b: {servers: []}}\nroutes: [{upstream: b}]\n",
                 "t.yaml:2:26: 'servers' must list at least one server");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: []\n",
                 "t.yaml:3:9: 'routes' must list at least one route");
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error(BASE "limits:\n  max_body: 1\n  max_body: 2\n",
                 "t.yaml:6:3: duplicate key 'max_body' in 'limits' (first at line 5)");
    expect_error("listen:\n  - 127.0.0.1:80\n  - {address: 127.0.0.1:80, backlog: 5}\n"
                 "upstreams: {b: {servers: [1.2.3.4:5]}}\nroutes: [{upstream: b}]\n",
                 "t.yaml:3:5: duplicate listen address '127.0.0.1:80' (first at line 2)");
    expect_error("listen: ['*:80', '0.0.0.0:80']\n" REST,
                 "t.yaml:1:18: duplicate listen address '0.0.0.0:80' (first at line 1)");
    expect_error("listen: [':80']\nupstreams:\n  b: {servers: [1.2.3.4:5]}\n"
                 "  b: {servers: [1.2.3.4:6]}\nroutes: [{upstream: b}]\n",
                 "t.yaml:4:3: duplicate key 'b' in 'upstreams' (first at line 3)");
    expect_error("listen: [':80']\nupstreams: {b: {servers: [1.2.3.4:5, '1.2.3.4:5']}}\n"
                 "routes: [{upstream: b}]\n",
                 "t.yaml:2:38: duplicate server '1.2.3.4:5' in 'b' (first at line 2)");
}

static void test_yaml_errors(void **state)
{
    struct cfg_error err;

    (void)state;
    expect_error("", "t.yaml:1:1: empty document");
    expect_error("# nothing here\n\n", "t.yaml:3:1: empty document");
    expect_error("---\n", "t.yaml:2:1: empty document");
    expect_error("~\n", "t.yaml:1:1: empty document");
    expect_error("listen: [a\n", "t.yaml:2:1: did not find expected ',' or ']' "
                                 "(while parsing a flow sequence at line 1)");
    expect_error("a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context");
    expect_error("a: 'x\n", "t.yaml:2:1: found unexpected end of stream "
                            "(while scanning a quoted scalar at line 1)");
    expect_error("a: 1\n b: 2\n", "t.yaml:2:3: mapping values are not allowed in this context");
    expect_error("a: \"\xff\"\n", "t.yaml:1:5: invalid leading UTF-8 octet (0xff)");
    expect_error("listen:\n  - *:80\n" REST,
                 "t.yaml:2:6: did not find expected alphabetic or numeric character (while "
                 "scanning an alias at line 2); "
                 "quote a value that starts with '*', as in \"*:80\"");
    expect_error("\tlisten: [':80']\n" REST,
                 "t.yaml:1:1: found character that cannot start any token (while scanning for "
                 "the next token at line 1); YAML does not allow tabs for indentation");
    expect_error("a: 1\nb:\n\t- c\n",
                 "t.yaml:3:1: found character that cannot start any token (while scanning for "
                 "the next token at line 3); YAML does not allow tabs for indentation");
    expect_error("a: \"\x01\"\n", "t.yaml:1:5: control characters are not allowed (0x01)");
    expect_error(BASE "---\nworkers: 1\n", "t.yaml:4:1: only one YAML document is allowed");
    expect_error("server_name: \"a\\0b\"\n" BASE,
                 "t.yaml:1:14: a NUL byte in a scalar is not allowed");
    /* Aliases are refused where they stand, recursive or not, so nothing can loop or blow up. */
    expect_error("x: &t {client_header: 1s}\ntimeouts: *t\n" BASE,
                 "t.yaml:2:11: YAML aliases are not supported ('*t')");
    expect_error("a: &x [*x]\n", "t.yaml:1:8: YAML aliases are not supported ('*x')");
    /* Anchors alone are harmless. */
    config_unref(expect_ok("server_name: &n weir\n" BASE));

    char deep[200] = "a: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    expect_error(deep, "t.yaml:1:35: nesting deeper than 32 levels");

    /* A whole buffer without a terminating NUL loads as its length says. */
    assert_null(config_load_buffer("listen: [", 9, "t.yaml", &err));
    assert_string_equal(err.msg, "t.yaml:2:1: did not find expected node content "
                                 "(while parsing a flow node at line 2)");
}

/* Every prefix of a valid file either loads or fails with a positioned message: no crash, no
 * leak, no message without its place. */
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

static void test_files(void **state)
{
    char path[] = "/tmp/weir-test-config-XXXXXX";
    struct cfg_error err;
    struct config *cfg;
    int fd;

    (void)state;
    assert_null(config_load_file("/nonexistent/weir.yaml", &err));
    assert_string_equal(err.msg, "/nonexistent/weir.yaml: cannot open: No such file or directory");
    assert_null(config_load_file("/tmp", &err));
    assert_string_equal(err.msg, "/tmp: cannot read: Is a directory");

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, BASE "workers: 2\n", strlen(BASE) + 11), strlen(BASE) + 11);
    close(fd);
    cfg = config_load_file(path, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->source, path);
    assert_int_equal(cfg->workers, 2);
    config_unref(cfg);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, BASE "limits: 1\n", strlen(BASE) + 10), strlen(BASE) + 10);
    close(fd);
    assert_null(config_load_file(path, &err));
    char want[128];
    snprintf(want, sizeof(want), "%s:4:9: expected a mapping for 'limits', found a scalar", path);
    assert_string_equal(err.msg, want);
    unlink(path);
}

static void test_examples(void **state)
{
    struct cfg_error err;
    struct config *cfg;

    (void)state;
    cfg = config_load_file(WEIR_SOURCE_ROOT "/examples/weir.yaml", &err);
    if (!cfg)
        fail_msg("%s", err.msg);
    /* It shows the group features off: weights, a backup, health checks, the pool. */
    assert_string_equal(cfg->upstreams[0].balance, "weighted");
    assert_int_equal(cfg->upstreams[0].servers[1].weight, 3);
    assert_true(cfg->upstreams[0].servers[2].backup);
    assert_true(cfg->upstreams[0].active.enabled);
    assert_string_equal(cfg->upstreams[0].active.path, "/healthz");
    assert_true(cfg->upstreams[0].passive.enabled);
    assert_string_equal(cfg->upstreams[0].sticky_cookie, "weir_srv");
    assert_int_equal(cfg->upstreams[0].pool.max_idle, 64);
    assert_int_equal(cfg->upstreams[1].hash_source, CFG_HASH_HEADER);
    config_unref(cfg);

    /* examples/demo.yaml uses module keys (compress, static) and a site path the demo fills
     * in: tests/integration/test_config_cli.py checks it with the running binary. */
}

static void test_admin_section(void **state)
{
    struct config *cfg;

    (void)state;
    /* Absent: on, at 127.0.0.1:9901, not explicit (a bind failure is then only a warning). */
    cfg = expect_ok(BASE);
    assert_true(cfg->admin.enabled);
    assert_false(cfg->admin.explicit_listen);
    assert_string_equal(cfg->admin.listen.text, "127.0.0.1:9901");
    assert_addr(&cfg->admin.listen, AF_INET, "127.0.0.1", 9901);
    assert_null(cfg->admin.token);
    config_unref(cfg);

    cfg = expect_ok(BASE "admin: {listen: \"[::1]:9000\", token: s3cr3t-T0ken}\n");
    assert_true(cfg->admin.enabled);
    assert_true(cfg->admin.explicit_listen);
    assert_addr(&cfg->admin.listen, AF_INET6, "::1", 9000);
    assert_string_equal(cfg->admin.token, "s3cr3t-T0ken");
    config_unref(cfg);

    /* Present but empty: the defaults, made explicit. */
    cfg = expect_ok(BASE "admin: {}\n");
    assert_true(cfg->admin.enabled);
    assert_true(cfg->admin.explicit_listen);
    assert_string_equal(cfg->admin.listen.text, "127.0.0.1:9901");
    config_unref(cfg);

    cfg = expect_ok(BASE "admin:\n  token: abc\n");
    assert_string_equal(cfg->admin.token, "abc");
    assert_string_equal(cfg->admin.listen.text, "127.0.0.1:9901");
    config_unref(cfg);

    cfg = expect_ok(BASE "admin: off\n");
    assert_false(cfg->admin.enabled);
    config_unref(cfg);
}

static void test_admin_errors(void **state)
{
    (void)state;
    expect_error(BASE "admin: on\n",
                 "t.yaml:4:8: expected 'off' or a mapping for 'admin', found a scalar");
    expect_error(BASE "admin: [x]\n",
                 "t.yaml:4:8: expected 'off' or a mapping for 'admin', found a list");
    expect_error(BASE "admin: {port: 1}\n", "t.yaml:4:9: unknown key 'port' in 'admin'");
    expect_error(BASE "admin: {listen: localhost}\n",
                 "t.yaml:4:17: invalid address 'localhost': missing port (expected host:port)");
    expect_error(BASE "admin: {listen: 127.0.0.1:8080}\n",
                 "t.yaml:4:17: admin listen address '127.0.0.1:8080' is also in 'listen'");
    expect_error(BASE "admin: {token: \"a b\"}\n",
                 "t.yaml:4:16: 'token' must be 1 to 256 visible ASCII characters, without "
                 "spaces");
    expect_error(BASE "admin: {listen: 127.0.0.1:1, listen: 127.0.0.1:2}\n",
                 "t.yaml:4:30: duplicate key 'listen' in 'admin' (first at line 4)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_upstream_values),
        cmocka_unit_test(test_bad_upstreams),
        cmocka_unit_test(test_bad_routes),
        cmocka_unit_test(test_missing_and_unknown_refs),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_admin_section),
        cmocka_unit_test(test_admin_errors),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

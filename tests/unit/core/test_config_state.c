/* test_config_state.c — the `state:` section (issue 15): defaults, every key, and errors with
 * their "t.yaml:line:col:" position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/config.h"
#include "config_test_util.h"

#define HEAD "listen: [127.0.0.1:8080]\nupstreams: {b: {servers: [127.0.0.1:9001]}}\n" \
             "routes: [{upstream: b}]\n"
/* State keys start on line 5, column 3. */
#define STATE(x) HEAD "state:\n" x

static void test_defaults_memory(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(HEAD);
    const struct cfg_state *s = &cfg->state;
    assert_int_equal(s->backend, CFG_STATE_MEMORY);
    assert_null(s->addrs);
    assert_int_equal(s->naddrs, 0);
    assert_int_equal(s->command_timeout_ms, 50);
    assert_int_equal(s->connect_timeout_ms, 1000);
    assert_int_equal(s->pool_size, 1);
    assert_int_equal(s->reconnect_min_ms, 100);
    assert_int_equal(s->reconnect_max_ms, 5000);
    assert_int_equal(s->rate_limit_on_error, CFG_STORE_LOCAL);
    assert_int_equal(s->idempotency_on_error, CFG_STORE_CLOSED);
    assert_int_equal(s->waiting_room_on_error, CFG_STORE_LOCAL);
    assert_true(s->purge_broadcast);
    assert_true(s->breaker_broadcast);
    config_unref(cfg);
}

static void test_every_key(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(STATE(
        "  backend: redis\n  address: 10.0.0.5:6380\n  db: 3\n  user: weir\n  password: s3cret\n"
        "  prefix: shop\n  connect_timeout: 2s\n  command_timeout: 20ms\n  pool_size: 4\n"
        "  tls: off\n  reconnect_min: 10ms\n  reconnect_max: 1s\n"
        "  on_store_error: {rate_limit: open, idempotency: local, waiting_room: closed}\n"
        "  broadcast_purges: false\n  broadcast_breaker: false\n"));
    const struct cfg_state *s = &cfg->state;
    assert_int_equal(s->backend, CFG_STATE_REDIS);
    assert_int_equal(s->naddrs, 1);
    assert_string_equal(s->addrs[0].text, "10.0.0.5:6380");
    assert_string_equal(s->addrs[0].host, "10.0.0.5");
    assert_int_equal(s->addrs[0].port, 6380);
    assert_null(s->addrs[0].unix_path);
    assert_int_equal(s->db, 3);
    assert_string_equal(s->user, "weir");
    assert_string_equal(s->password, "s3cret");
    assert_string_equal(s->prefix, "shop");
    assert_int_equal(s->connect_timeout_ms, 2000);
    assert_int_equal(s->command_timeout_ms, 20);
    assert_int_equal(s->pool_size, 4);
    assert_null(s->tls);
    assert_int_equal(s->reconnect_min_ms, 10);
    assert_int_equal(s->reconnect_max_ms, 1000);
    assert_int_equal(s->rate_limit_on_error, CFG_STORE_OPEN);
    assert_int_equal(s->idempotency_on_error, CFG_STORE_LOCAL);
    assert_int_equal(s->waiting_room_on_error, CFG_STORE_CLOSED);
    assert_false(s->purge_broadcast);
    assert_false(s->breaker_broadcast);
    assert_string_equal(config_store_error_name(s->rate_limit_on_error), "open");
    config_unref(cfg);
}

static void test_addresses(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(STATE("  backend: redis\n  address: /run/redis/redis.sock\n"));
    assert_string_equal(cfg->state.addrs[0].unix_path, "/run/redis/redis.sock");
    assert_null(cfg->state.addrs[0].host);
    assert_string_equal(cfg->state.prefix, "weir");
    config_unref(cfg);
    cfg = expect_ok(STATE("  backend: redis\n  address: localhost:6379\n"));
    assert_string_equal(cfg->state.addrs[0].host, "127.0.0.1");
    config_unref(cfg);
    cfg = expect_ok(STATE("  backend: redis\n  address: \"[::1]:6379\"\n"));
    assert_string_equal(cfg->state.addrs[0].host, "::1");
    assert_int_equal(cfg->state.addrs[0].port, 6379);
    config_unref(cfg);
    /* addresses: every server, in the order they are tried for the primary */
    cfg = expect_ok(STATE("  backend: redis\n  addresses: [10.0.0.1:6379, \"[::1]:6380\", "
                          "localhost:6381, /run/redis.sock]\n"));
    assert_int_equal(cfg->state.naddrs, 4);
    assert_string_equal(cfg->state.addrs[0].text, "10.0.0.1:6379");
    assert_string_equal(cfg->state.addrs[1].host, "::1");
    assert_int_equal(cfg->state.addrs[1].port, 6380);
    assert_string_equal(cfg->state.addrs[2].host, "127.0.0.1");
    assert_int_equal(cfg->state.addrs[2].port, 6381);
    assert_string_equal(cfg->state.addrs[3].unix_path, "/run/redis.sock");
    config_unref(cfg);
    cfg = expect_ok(STATE("  backend: redis\n  addresses:\n    - 10.0.0.1:6379\n"
                          "    - 10.0.0.2:6379\n  tls: on\n"));
    assert_int_equal(cfg->state.naddrs, 2);
    assert_string_equal(cfg->state.addrs[1].text, "10.0.0.2:6379");
    assert_non_null(cfg->state.tls);
    config_unref(cfg);
}

static void test_tls(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(STATE("  backend: redis\n  address: 10.0.0.5:6380\n"
                                         "  tls: on\n"));
    const struct cfg_tls_upstream *t = cfg->state.tls;
    assert_non_null(t);
    assert_true(t->verify);
    assert_true(t->session_reuse);
    assert_null(t->ca);
    assert_null(t->client_cert);
    config_unref(cfg);
    cfg = expect_ok(STATE("  backend: redis\n  address: 10.0.0.5:6380\n"
                          "  tls: {ca: /etc/hostname, client_cert: /etc/hostname, sni: redis.internal,"
                          " verify: false, session_reuse: false}\n"));
    t = cfg->state.tls;
    assert_non_null(t);
    assert_false(t->verify);
    assert_false(t->session_reuse);
    assert_string_equal(t->ca, "/etc/hostname");
    assert_string_equal(t->client_cert, "/etc/hostname");
    assert_string_equal(t->client_key, "/etc/hostname"); /* the key in the same file */
    assert_string_equal(t->sni, "redis.internal");
    config_unref(cfg);
    cfg = expect_ok(STATE("  backend: redis\n  address: 10.0.0.5:6380\n  tls: off\n"));
    assert_null(cfg->state.tls);
    config_unref(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(STATE("  backend: etcd\n"),
                 "t.yaml:5:12: 'backend' must be memory or redis, got 'etcd'");
    expect_error(STATE("  backend: redis\n"), "t.yaml:5:3: backend redis needs 'address' (or 'addresses')");
    expect_error(STATE("  backend: redis\n  address: localhost\n"),
                 "t.yaml:6:12: 'address' must be host:port or an absolute unix socket path, "
                 "got 'localhost'");
    expect_error(STATE("  backend: redis\n  address: redis.internal:6379\n"),
                 "t.yaml:6:12: 'address' must be a numeric IP (or localhost) and a port, or a "
                 "unix socket path, got 'redis.internal:6379'");
    expect_error(STATE("  backend: redis\n  address: h:70000\n"),
                 "t.yaml:6:12: 'address' must be host:port or an absolute unix socket path, "
                 "got 'h:70000'");
    expect_error(STATE("  address: 10.0.0.1:1\n  on_store_error: {rate_limit: maybe}\n"),
                 "t.yaml:6:32: 'rate_limit' must be local, open or closed, got 'maybe'");
    expect_error(STATE("  address: 10.0.0.1:1\n  on_store_error: {lockout: open}\n"),
                 "t.yaml:6:20: unknown key 'lockout' in 'state.on_store_error'");
    expect_error(STATE("  address: /run/redis.sock\n  tls: on\n"),
                 "t.yaml:6:8: 'tls' needs host:port addresses, not a unix socket path");
    expect_error(STATE("  addresses: [10.0.0.1:1, /run/redis.sock]\n  tls: on\n"),
                 "t.yaml:6:8: 'tls' needs host:port addresses, not a unix socket path");
    /* addresses */
    expect_error(STATE("  address: 10.0.0.1:1\n  addresses: [10.0.0.2:1]\n"),
                 "t.yaml:6:14: give 'address' or 'addresses', not both");
    expect_error(STATE("  backend: redis\n  addresses: []\n"),
                 "t.yaml:6:14: 'addresses' needs 1 to 16 entries");
    expect_error(STATE("  addresses: 10.0.0.1:1\n"),
                 "t.yaml:5:14: expected a list for 'addresses', found a scalar");
    expect_error(STATE("  addresses: [10.0.0.1:1, 10.0.0.2]\n"),
                 "t.yaml:5:27: 'address' must be host:port or an absolute unix socket path, "
                 "got '10.0.0.2'");
    expect_error(STATE("  addresses: [10.0.0.1:1, 10.0.0.2:1, 10.0.0.1:1]\n"),
                 "t.yaml:5:39: '10.0.0.1:1' is in 'addresses' twice");
    expect_error(STATE("  addresses: [10.0.0.1:1, {host: x}]\n"),
                 "t.yaml:5:27: expected a scalar for 'address', found a mapping");
    expect_error(STATE("  address: 10.0.0.1:1\n  tls: {verify: maybe}\n"),
                 "t.yaml:6:17: 'verify' must be true or false, got 'maybe'");
    expect_error(STATE("  address: 10.0.0.1:1\n  tls: {sni_name: x}\n"),
                 "t.yaml:6:9: unknown key 'sni_name' in 'state.tls'");
    expect_error(STATE("  address: 10.0.0.1:1\n  tls: {client_key: /etc/hostname}\n"),
                 "t.yaml:6:21: 'client_key' needs 'client_cert'");
    expect_error(STATE("  address: 10.0.0.1:1\n  prefix: \"a{b\"\n"),
                 "t.yaml:6:11: 'prefix' must not contain '{' or '}' (weir adds the hash tags)");
    expect_error(STATE("  address: 10.0.0.1:1\n  pool_size: 65\n"),
                 "t.yaml:6:14: 'pool_size' must be an integer in 1..64, got '65'");
    expect_error(STATE("  address: 10.0.0.1:1\n  pool_size: 0\n"),
                 "t.yaml:6:14: 'pool_size' must be an integer in 1..64, got '0'");
    expect_error(STATE("  address: 10.0.0.1:1\n  reconnect_min: 2s\n  reconnect_max: 1s\n"),
                 "t.yaml:5:3: 'reconnect_max' is below 'reconnect_min'");
    expect_error(STATE("  colour: blue\n"), "t.yaml:5:3: unknown key 'colour' in 'state'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_memory),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

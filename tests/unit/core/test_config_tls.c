/* test_config_tls.c — a listener's `tls` and `redirect_https`, a group's `tls`: defaults,
 * every key, and errors with their "t.yaml:line:col:" position. Files only need to be
 * readable here (their contents are the TLS layer's to check), so /dev/null stands in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "config_test_util.h"

#define TAIL "upstreams: {b: {servers: [127.0.0.1:9001]}}\nroutes: [{upstream: b}]\n"
/* Listener keys start on line 4, column 7. */
#define LISTEN(x) "listen:\n  - address: 127.0.0.1:8443\n    tls:\n" x TAIL

static void test_defaults(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(LISTEN("      certificates: [{cert: /dev/null}]\n"));
    const struct cfg_tls_server *t = cfg->listeners[0].tls;
    assert_non_null(t);
    assert_int_equal(t->ncerts, 1);
    assert_string_equal(t->certs[0].cert, "/dev/null");
    assert_string_equal(t->certs[0].key, "/dev/null"); /* the key may be in the cert file */
    assert_null(t->certs[0].ocsp);
    assert_int_equal(t->protocols, CFG_TLS_V12 | CFG_TLS_V13);
    assert_non_null(strstr(t->ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256"));
    assert_string_equal(t->groups, "X25519:prime256v1:secp384r1");
    assert_int_equal(t->handshake_timeout_ms, 10000);
    assert_true(t->tickets);
    assert_int_equal(t->ticket_rotate_ms, 3600000);
    assert_int_equal(t->session_cache, 20480);
    assert_int_equal(t->verify, CFG_TLS_VERIFY_OFF);
    assert_null(t->hsts);
    assert_false(t->ktls);
    assert_int_equal(cfg->listeners[0].redirect_https, 0);
    config_unref(cfg);
}

static void test_keys(void **state)
{
    (void)state;
    struct config *cfg = expect_ok(
        "listen:\n  - address: 127.0.0.1:8443\n    tls:\n"
        "      certificates:\n"
        "        - {cert: /dev/null, key: /dev/null, ocsp: /dev/null}\n"
        "        - {cert: /dev/null}\n"
        "      protocols: [TLSv1.3]\n"
        "      alpn: [http/1.1]\n"
        "      handshake_timeout: 2s\n"
        "      session_tickets: false\n"
        "      ticket_rotate: 10m\n"
        "      session_cache: 0\n"
        "      hsts: max-age=63072000; includeSubDomains\n"
        "      client_auth: {verify: optional, ca: /dev/null, subject_header: X-Subject}\n"
        "upstreams:\n  u:\n    servers: [127.0.0.1:1]\n"
        "    tls: {verify: false, ca: /dev/null, sni: api.test, client_cert: /dev/null,"
        " session_reuse: false}\n  v: {servers: [127.0.0.1:2], tls: on}\n"
        "routes: [{upstream: u}]\n");
    const struct cfg_tls_server *t = cfg->listeners[0].tls;
    assert_int_equal(t->ncerts, 2);
    assert_string_equal(t->certs[0].ocsp, "/dev/null");
    assert_int_equal(t->protocols, CFG_TLS_V13);
    assert_int_equal(t->handshake_timeout_ms, 2000);
    assert_false(t->tickets);
    assert_int_equal(t->ticket_rotate_ms, 600000);
    assert_int_equal(t->session_cache, 0);
    assert_string_equal(t->hsts, "max-age=63072000; includeSubDomains");
    assert_int_equal(t->verify, CFG_TLS_VERIFY_OPTIONAL);
    assert_string_equal(t->subject_header, "X-Subject");
    const struct cfg_tls_upstream *u = cfg->upstreams[0].tls;
    assert_false(u->verify);
    assert_string_equal(u->sni, "api.test");
    assert_string_equal(u->client_key, "/dev/null");
    assert_false(u->session_reuse);
    u = cfg->upstreams[1].tls;
    assert_true(u->verify && u->session_reuse);
    assert_null(u->ca);
    config_unref(cfg);

    cfg = expect_ok("listen:\n  - {address: 127.0.0.1:80, redirect_https: true}\n"
                    "  - {address: 127.0.0.1:81, redirect_https: 8443}\n" TAIL);
    assert_int_equal(cfg->listeners[0].redirect_https, 443);
    assert_int_equal(cfg->listeners[1].redirect_https, 8443);
    config_unref(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(LISTEN("      protocols: [TLSv1.2]\n"),
                 "t.yaml:4:7: missing required key 'certificates' in 'listen[0].tls'");
    expect_error(LISTEN("      certificates: [{cert: /nonexistent.pem}]\n"),
                 "t.yaml:4:29: cannot read certificate file '/nonexistent.pem': No such file or directory");
    expect_error(LISTEN("      certificates: [{cert: /dev/null}]\n      protocols: [TLSv1.1]\n"),
                 "t.yaml:5:19: unsupported protocol 'TLSv1.1' (use TLSv1.2 and/or TLSv1.3)");
    expect_error(LISTEN("      certificates: [{cert: /dev/null}]\n      alpn: [h2]\n"),
                 "t.yaml:5:14: ALPN 'h2' is not available yet (HTTP/2 is a later issue)");
    expect_error(LISTEN("      certificates: [{cert: /dev/null}]\n"
                        "      client_auth: {verify: sometimes, ca: /dev/null}\n"),
                 "t.yaml:5:29: 'verify' must be required or optional, got 'sometimes'");
    expect_error(LISTEN("      certificates: [{cert: /dev/null}]\n      colour: blue\n"),
                 "t.yaml:5:7: unknown key 'colour' in 'listen[0].tls'");
    expect_error("listen:\n  - {address: 127.0.0.1:80, redirect_https: 0}\n" TAIL,
                 "t.yaml:2:45: 'redirect_https' must be an integer in 1..65535, got '0'");
    expect_error("listen: [127.0.0.1:80]\nupstreams:\n  u:\n    servers: [127.0.0.1:1]\n"
                 "    tls: {client_key: /dev/null}\nroutes: [{upstream: u}]\n",
                 "t.yaml:5:23: 'client_key' needs 'client_cert'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

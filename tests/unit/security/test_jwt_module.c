/* test_jwt_module.c — the `jwt:` module against the fake host: 401 without / with a bad
 * token, claim headers and the token's removal, 403 on `require`, the cache (a second use
 * skips verification but not expiry or revocation), a config error's position. */
#include "module_fixture.h"

#include <time.h>
#include <unistd.h>

#include "jwt_sign.h"
#include "security/jwt_module.h"
#include "security/revocation.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static const char *yaml(void)
{
    return FX_ROUTE_HEAD
        "routes:\n"
        "  - path: /\n"
        "    upstream: g\n"
        "    jwt:\n"
        "      keys: [{alg: HS256, secret: \"" SECRET "\"}]\n"
        "      issuers: [iss1]\n"
        "      claims_to_headers: {sub: X-User, scope: X-Scope}\n"
        "      require: {scope: read}\n";
}

static char tokbuf[2048];

static const char *token(const char *claims_fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *token(const char *claims_fmt, ...)
{
    char claims[512];
    va_list ap;
    va_start(ap, claims_fmt);
    vsnprintf(claims, sizeof(claims), claims_fmt, ap);
    va_end(ap);
    ts_hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims, SECRET, tokbuf);
    return tokbuf;
}

static struct fx_exchange *request(const char *tok, const char *extra)
{
    char head[1000];
    snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\n%s%.900s%s%s\r\n",
             tok ? "Authorization: Bearer " : "", tok ? tok : "", tok ? "\r\n" : "",
             extra ? extra : "");
    return fx_exchange(0, head, NULL);
}

static void test_no_token_and_bad_token(void **state)
{
    (void)state;
    fx_setup(yaml());
    struct fx_exchange *e = request(NULL, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    assert_string_equal(fx_reply_header(e, "WWW-Authenticate"), "Bearer realm=\"weir\"");
    fx_end(e, 401);
    e = request("x.y.z", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    assert_non_null(strstr(fx_reply_header(e, "WWW-Authenticate"), "invalid_token"));
    fx_end(e, 401);
    long long now = (long long)time(NULL);
    e = request(token("{\"iss\":\"other\",\"scope\":\"read\",\"exp\":%lld}", now + 60), NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    fx_end(e, 401);
    e = request(token("{\"iss\":\"iss1\",\"scope\":\"read\",\"exp\":%lld}", now - 3600), NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_non_null(strstr(fx_reply_header(e, "WWW-Authenticate"), "expired"));
    fx_end(e, 401);
    fx_teardown();
}

static void test_pass_headers_and_cache(void **state)
{
    (void)state;
    fx_setup(yaml());
    long long now = (long long)time(NULL);
    const char *tok = token("{\"iss\":\"iss1\",\"sub\":\"alice\",\"jti\":\"j1\","
                            "\"scope\":\"write read\",\"exp\":%lld}", now + 60);
    char saved[2048];
    snprintf(saved, sizeof(saved), "%s", tok);
    for (int round = 0; round < 2; round++) { /* the second is a cache hit */
        struct fx_exchange *e = request(saved, "X-User: mallory\r\n");
        assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
        char add[256];
        snprintf(add, sizeof(add), "%.*s", (int)e->x.upstream_add.len, e->x.upstream_add.ptr);
        assert_string_equal(add, "X-User: alice\r\nX-Scope: write read\r\n");
        bool drops_user = false, drops_auth = false;
        for (uint32_t i = 0; i < e->x.nupstream_drop; i++) {
            drops_user |= str_eq_nocase(e->x.upstream_drop[i], STR_LIT("X-User"));
            drops_auth |= str_eq_nocase(e->x.upstream_drop[i], STR_LIT("Authorization"));
        }
        assert_true(drops_user && drops_auth);
        assert_string_equal(e->x.client_id, "alice");
        fx_end(e, 200);
    }
    /* revoked: the cached outcome is checked against the list every time */
    assert_int_equal(revocation_add(REVOKE_JTI, STR_LIT("j1"), now + 60, now), 0);
    struct fx_exchange *e = request(saved, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    fx_end(e, 401);
    fx_teardown();
}

static void test_require_is_403(void **state)
{
    (void)state;
    fx_setup(yaml());
    long long now = (long long)time(NULL);
    struct fx_exchange *e =
        request(token("{\"iss\":\"iss1\",\"scope\":\"readonly\",\"exp\":%lld}", now + 60), NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 403);
    assert_non_null(strstr(fx_reply_header(e, "WWW-Authenticate"), "insufficient_scope"));
    fx_end(e, 403);
    fx_teardown();
}

static void test_config_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "    jwt: {keys: [{alg: none, secret: x}]}\n",
        "    jwt: {keys: [{alg: HS256, secret: short}]}\n",
        "    jwt: {keys: [{alg: RS256, pem: nonsense}]}\n",
        "    jwt: {issuers: [a]}\n",
        "    jwt: {jwks_url: \"https://x/y\"}\n",
        "    jwt: {keys: [{alg: HS256, secret: \"" SECRET "\"}], claims_to_headers: {sub: \"a b\"}}\n",
        "    jwt: {keys: [{alg: HS256, secret: \"" SECRET "\"}], token_from: {header: X, cookie: c}}\n",
        "    jwt: {keys: [{alg: HS256, secret: \"" SECRET "\"}], leeway: forever}\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n%s",
                 bad[i]);
        struct cfg_error err;
        struct config *c = config_load_buffer(text, strlen(text), "t.yaml", &err);
        assert_null(c);
        if (!strstr(err.msg, "t.yaml:8:"))
            fail_msg("case %zu: %s", i, err.msg);
    }
}

static void test_token_sources(void **state)
{
    (void)state;
    long long now = (long long)time(NULL);
    char tok[600], head[1000];
    snprintf(tok, sizeof(tok), "%s", token("{\"sub\":\"q\",\"exp\":%lld}", now + 60));
    /* a query parameter, kept (the target is not rewritten) */
    fx_setup(FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n    jwt:\n"
             "      keys: [{alg: HS256, secret: \"" SECRET "\"}]\n      token_from: {query: at}\n");
    snprintf(head, sizeof(head), "GET /x?a=1&at=%s HTTP/1.1\r\nHost: a\r\n\r\n", tok);
    struct fx_exchange *e = fx_exchange(0, head, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_string_equal(e->x.client_id, "q");
    fx_end(e, 200);
    fx_teardown();
    /* a header, forwarded when forward_token */
    fx_setup(FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n    jwt:\n"
             "      keys: [{alg: HS256, secret: \"" SECRET "\"}]\n      token_from: {header: X-Token}\n"
             "      forward_token: true\n");
    snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\nX-Token: %s\r\n\r\n", tok);
    e = fx_exchange(0, head, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->x.nupstream_drop, 0);
    fx_end(e, 200);
    e = request(tok, NULL); /* Authorization is not where this route looks */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    fx_end(e, 401);
    fx_teardown();
}

/* --- a JWKS URL: fetched through the host's fetch_reply (faked here) --- */

static void (*jw_cb)(void *arg, const struct fetch_reply *r);
static void *jw_arg;
static int jw_fetches;

static int fake_fetch(struct pipeline_worker *self, const char *req, size_t len, size_t max,
                      void (*done)(void *arg, const struct fetch_reply *r), void *arg)
{
    (void)self;
    (void)max;
    static const char want[] = "GET /keys HTTP/1.1\r\nHost: idp\r\n";
    assert_non_null(memmem(req, len, want, sizeof(want) - 1));
    jw_cb = done;
    jw_arg = arg;
    jw_fetches++;
    return 0;
}

static void jwks_answer(uint16_t status, const char *body)
{
    static struct h1_response head;
    static const char raw[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 8192,
                                         .max_headers = 100};
    assert_true(h1_parse_response(raw, sizeof(raw) - 1, &lim, false, &head) > 0);
    struct fetch_reply r = {.status = status, .head = &head, .body = str_cstr(body)};
    jw_cb(jw_arg, &r);
}

static void test_jwks_url(void **state)
{
    (void)state;
    fx_setup(FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n    jwt:\n"
             "      jwks_url: http://idp/keys\n      jwks_refresh_min: 1s\n");
    fx.workers[0].fetch_reply = fake_fetch;
    EVP_PKEY *pk = ts_ec_key(), *other = ts_ec_key();
    char jwk[512], doc[700], tok[1024];
    ts_ec_jwk(pk, "e1", jwk, sizeof(jwk));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
    long long now = (long long)time(NULL);
    char claims[128];
    snprintf(claims, sizeof(claims), "{\"sub\":\"u\",\"exp\":%lld}", now + 60);
    ts_es256("{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims, pk, tok);

    /* the first token: the set is fetched while the request waits */
    struct fx_exchange *e = request(tok, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    assert_int_equal(jw_fetches, 1);
    jwks_answer(200, doc);
    fx_advance(25);
    assert_int_equal(e->done, PIPELINE_NEXT);
    fx_end(e, 200);

    /* an unknown kid within refresh_min: no new fetch, 401 at once */
    char tok2[1024];
    ts_es256("{\"alg\":\"ES256\",\"kid\":\"e2\"}", claims, other, tok2);
    e = request(tok2, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    assert_int_equal(jw_fetches, 1);
    fx_end(e, 401);

    /* later: the unknown kid fetches again; the issuer fails: the last set stays */
    usleep(1100 * 1000);
    e = request(tok2, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    assert_int_equal(jw_fetches, 2);
    jwks_answer(503, "");
    fx_advance(25);
    assert_int_equal(e->done, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    fx_end(e, 401);
    ts_es256("{\"alg\":\"ES256\",\"kid\":\"e1\"}", "{\"sub\":\"v\",\"exp\":9999999999}", pk,
             tok);
    e = request(tok, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    fx_end(e, 200);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(other);
    fx_teardown();
}

/* Another generation of the same section finds the same keys and cache; a changed one
 * (or a changed secret) does not. */
static void test_shared_across_generations(void **state)
{
    (void)state;
    fx_setup(yaml());
    struct cfg_error err;
    const char *same = yaml();
    char changed[1024], secret[1024];
    snprintf(changed, sizeof(changed), "%s      leeway: 7s\n", yaml());
    snprintf(secret, sizeof(secret), "%s", yaml());
    char *p = strstr(secret, SECRET);
    p[0] = 'X';
    const char *texts[] = {same, changed, secret};
    for (int i = 0; i < 3; i++) {
        struct config *cfg = config_load_buffer(texts[i], strlen(texts[i]), "test.yaml", &err);
        assert_non_null(cfg);
        struct pipeline_chain *ch = pipeline_chain_build(cfg, &cfg->routes[0]);
        assert_non_null(ch);
        const struct pipeline_link *a = NULL, *b = NULL;
        for (uint32_t j = 0; j < ch->n; j++)
            if (ch->links[j].m == &jwt_module)
                a = &ch->links[j];
        for (uint32_t j = 0; j < fx.chain->n; j++)
            if (fx.chain->links[j].m == &jwt_module)
                b = &fx.chain->links[j];
        assert_true(a && b && a->conf != b->conf);
        if (i == 0)
            assert_ptr_equal(a->shared, b->shared);
        else
            assert_ptr_not_equal(a->shared, b->shared);
        pipeline_chain_free(ch);
        config_unref(cfg);
    }
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_token_and_bad_token),
        cmocka_unit_test(test_pass_headers_and_cache),
        cmocka_unit_test(test_require_is_403),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_jwks_url),
        cmocka_unit_test(test_token_sources),
        cmocka_unit_test(test_shared_across_generations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

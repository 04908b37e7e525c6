/* test_cors_headers.c — CORS (preflight answered here, allowed and refused origins, wildcard
 * subdomains, Vary: Origin appended, never * with credentials) and security headers (set,
 * kept, overridden, HSTS over TLS only, CSP modes). */
#include "module_fixture.h"

#define ROUTE FX_ROUTE_HEAD "routes:\n  - {path: /, upstream: g, request_buffering: off, "

/* Runs a request and, when it goes upstream, an upstream response through the hooks. */
static struct fx_exchange *run(const char *head, bool tls, struct response *up)
{
    struct fx_exchange *e = fx_exchange(0, head, NULL);
    e->x.tls = tls;
    enum pipeline_verdict v = pipeline_request(&e->x);
    if (v == PIPELINE_RESPOND) {
        pipeline_response_head(&e->x, &e->x.reply);
    } else {
        assert_int_equal(v, PIPELINE_NEXT);
        e->x.upstream_head = true;
        pipeline_response_head(&e->x, up);
    }
    return e;
}

static const char *hv(const struct response *r, const char *name)
{
    static char tmp[256];
    struct str v = response_get(r, str_cstr(name));
    if (!v.ptr)
        return NULL;
    snprintf(tmp, sizeof(tmp), "%.*s", (int)v.len, v.ptr);
    return tmp;
}

static struct response upstream(struct fx_exchange **keep, const char *vary)
{
    (void)keep;
    static struct arena a;
    static char buf[4096];
    arena_init(&a, buf, sizeof(buf));
    struct response r;
    response_init(&r, &a, 200, 8);
    if (vary)
        response_add(&r, &a, STR_LIT("Vary"), str_cstr(vary));
    response_add(&r, &a, STR_LIT("Access-Control-Allow-Origin"), STR_LIT("*"));
    return r;
}

static void preflight_and_origins(void **state)
{
    (void)state;
    fx_setup(ROUTE "cors: {origins: [\"https://app.example.com\", \"https://*.example.org\"], "
                   "methods: [GET, PUT], headers: [Content-Type, X-Token], credentials: true, "
                   "max_age: 60}}\n");
    struct fx_exchange *e = run("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example.com\r\n"
                                "Access-Control-Request-Method: PUT\r\n\r\n", false, NULL);
    assert_int_equal(e->x.reply.status, 204);
    assert_string_equal(hv(&e->x.reply, "Access-Control-Allow-Origin"), "https://app.example.com");
    assert_string_equal(hv(&e->x.reply, "Access-Control-Allow-Methods"), "GET, PUT");
    assert_string_equal(hv(&e->x.reply, "Access-Control-Allow-Headers"), "Content-Type, X-Token");
    assert_string_equal(hv(&e->x.reply, "Access-Control-Max-Age"), "60");
    assert_string_equal(hv(&e->x.reply, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(hv(&e->x.reply, "Vary"), "Origin");
    fx_end(e, 204);

    e = run("OPTIONS /x HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.com\r\n"
            "Access-Control-Request-Method: PUT\r\n\r\n", false, NULL);
    assert_int_equal(e->x.reply.status, 403);
    assert_null(hv(&e->x.reply, "Access-Control-Allow-Origin"));
    fx_end(e, 403);

    /* a wildcard subdomain; the upstream's * is replaced by the origin (credentials) */
    struct response up = upstream(NULL, "Accept-Encoding");
    e = run("GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://a.b.example.org\r\n\r\n", false, &up);
    assert_string_equal(hv(&up, "Access-Control-Allow-Origin"), "https://a.b.example.org");
    assert_string_equal(hv(&up, "Vary"), "Accept-Encoding, Origin");
    fx_end(e, 200);
    const char *bad[] = {"https://example.org", "http://a.example.org", "https://x.example.org.evil.com",
                         "https://x/y.example.org", "null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char head[256];
        snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\nOrigin: %s\r\n\r\n", bad[i]);
        up = upstream(NULL, "Origin");
        e = run(head, false, &up);
        if (hv(&up, "Access-Control-Allow-Origin"))
            fail_msg("%s allowed", bad[i]);
        assert_string_equal(hv(&up, "Vary"), "Origin"); /* not appended twice */
        fx_end(e, 200);
    }
    fx_teardown();
}

static void star_without_credentials(void **state)
{
    (void)state;
    fx_setup(ROUTE "cors: {origins: [\"*\"]}}\n");
    struct response up = upstream(NULL, NULL);
    struct fx_exchange *e = run("GET / HTTP/1.1\r\nHost: a\r\nOrigin: https://any.net\r\n\r\n",
                                false, &up);
    assert_string_equal(hv(&up, "Access-Control-Allow-Origin"), "*");
    assert_null(hv(&up, "Access-Control-Allow-Credentials"));
    fx_end(e, 200);
    fx_teardown();
    modules_register();
    const char *y = ROUTE "cors: {origins: [\"*\"], credentials: true}}\n";
    struct cfg_error err;
    assert_null(config_load_buffer(y, strlen(y), "test.yaml", &err));
    assert_non_null(strstr(err.msg, "credentials"));
}

static void security_headers(void **state)
{
    (void)state;
    fx_setup(ROUTE "security_headers: on}\n");
    struct response up = upstream(NULL, NULL);
    response_add(&up, &(struct arena){0}, STR_LIT("X-Frame-Options"), STR_LIT("SAMEORIGIN"));
    struct fx_exchange *e = run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, &up);
    assert_null(hv(&up, "Strict-Transport-Security")); /* not over plain HTTP */
    assert_string_equal(hv(&up, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(hv(&up, "Referrer-Policy"), "strict-origin-when-cross-origin");
    assert_string_equal(hv(&up, "X-Frame-Options"), "SAMEORIGIN"); /* the upstream's kept */
    fx_end(e, 200);
    up = upstream(NULL, NULL);
    e = run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, &up);
    assert_string_equal(hv(&up, "Strict-Transport-Security"), "max-age=31536000");
    fx_end(e, 200);
    fx_teardown();

    fx_setup(ROUTE "security_headers: {frame_options: off, csp: \"default-src 'self'\", "
                   "override: true, referrer_policy: no-referrer}}\n");
    up = upstream(NULL, NULL);
    response_add(&up, &(struct arena){0}, STR_LIT("Referrer-Policy"), STR_LIT("unsafe-url"));
    e = run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, &up);
    assert_null(hv(&up, "X-Frame-Options"));
    assert_string_equal(hv(&up, "Content-Security-Policy"), "default-src 'self'");
    assert_string_equal(hv(&up, "Referrer-Policy"), "no-referrer");
    fx_end(e, 200);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preflight_and_origins),
        cmocka_unit_test(star_without_credentials),
        cmocka_unit_test(security_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

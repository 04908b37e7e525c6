/* test_mask_module.c — the `mask:` module through the pipeline: Accept-Encoding dropped
 * upstream, a JSON body masked with a field split across reads, non-JSON left alone, and the
 * fail-closed 502 for a body over max_body or content-coded. */
#include "module_fixture.h"

#define ROUTE FX_ROUTE_HEAD "routes:\n  - {path: /, upstream: g, request_buffering: off, "

static struct fx_exchange *head(uint16_t status, const char *ctype, int64_t len,
                                const char *coding, struct response *r)
{
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(response_init(r, &e->x.arena, status, 8), 0);
    response_add(r, &e->x.arena, STR_LIT("Content-Type"), str_cstr(ctype));
    if (coding)
        response_add(r, &e->x.arena, STR_LIT("Content-Encoding"), str_cstr(coding));
    r->content_length = len;
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, r);
    return e;
}

/* Feeds the body in pieces of `split` bytes; returns what came out (static) or NULL on -1. */
static const char *body(struct fx_exchange *e, const char *in, size_t split)
{
    static char out[4096];
    size_t n = strlen(in), off = 0, o = 0;
    while (off < n || off == 0) {
        size_t take = n - off < split ? n - off : split;
        const char *p = in + off;
        size_t left = take;
        bool fin = off + take == n;
        int r;
        do {
            size_t got = 0;
            r = pipeline_body(&e->x, &p, &left, out + o, 16, &got, fin);
            if (r < 0)
                return NULL;
            o += got;
        } while (r == 1 || left);
        off += take;
        if (fin)
            break;
    }
    out[o] = '\0';
    return out;
}

static void masks_json_split(void **state)
{
    (void)state;
    fx_setup(ROUTE "mask: {fields: [\"$.user.phone\"], keep_head: 3, keep_tail: 4, "
                   "max_body: 200}}\n");
    struct response r;
    struct fx_exchange *e = head(200, "application/json; charset=utf-8", -1, NULL, &r);
    assert_int_equal(e->x.nupstream_drop, 1);
    assert_true(str_eq(e->x.upstream_drop[0], STR_LIT("Accept-Encoding")));
    assert_int_equal(e->x.ntransforms, 1);
    const char *in = "{\"user\":{\"name\":\"kim\",\"phone\":\"010-1234-5678\"}}";
    for (size_t split = 1; split < 12; split++) {
        fx_end(e, 200);
        e = head(200, "application/json", (int64_t)strlen(in), NULL, &r);
        const char *got = body(e, in, split);
        assert_non_null(got);
        assert_string_equal(got, "{\"user\":{\"name\":\"kim\",\"phone\":\"010-****-5678\"}}");
    }
    fx_end(e, 200);
    /* a stream that turns out not to be JSON is cut */
    e = head(200, "application/problem+json", -1, NULL, &r);
    assert_null(body(e, "{\"user\": oops}", 4));
    fx_end(e, 200);
    /* not JSON: untouched, no transform */
    e = head(200, "text/html", -1, NULL, &r);
    assert_int_equal(e->x.ntransforms, 0);
    fx_end(e, 200);
    fx_teardown();
}

/* How many transforms a JSON response turns on for a request with these claims (NULL: none). */
static uint8_t transforms_for(const char *claims)
{
    struct fx_exchange *e = fx_exchange(0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    if (claims)
        e->x.auth_claims = str_cstr(claims);
    struct response r;
    assert_int_equal(response_init(&r, &e->x.arena, 200, 8), 0);
    response_add(&r, &e->x.arena, STR_LIT("Content-Type"), STR_LIT("application/json"));
    r.content_length = -1;
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, &r);
    uint8_t n = e->x.ntransforms;
    fx_end(e, 200);
    return n;
}

/* unless_claim / when_claim: the verified claims jwt left on the exchange decide. */
static void claims_decide_per_token(void **state)
{
    (void)state;
    fx_setup(ROUTE "mask: {fields: [\"$.p\"], unless_claim: {role: admin, scope: read}}}\n");
    assert_int_equal(transforms_for("{\"role\":\"admin\",\"scope\":\"read write\"}"), 0);
    assert_int_equal(transforms_for("{\"role\":[\"user\",\"admin\"],\"scope\":\"read\"}"), 0);
    assert_int_equal(transforms_for("{\"role\":\"admin\"}"), 1); /* scope missing */
    assert_int_equal(transforms_for("{\"role\":\"user\",\"scope\":\"read\"}"), 1);
    assert_int_equal(transforms_for("not json"), 1);
    assert_int_equal(transforms_for(NULL), 1); /* no token: masked */
    fx_teardown();
    fx_setup(ROUTE "mask: {fields: [\"$.p\"], when_claim: {role: user}}}\n");
    assert_int_equal(transforms_for("{\"role\":\"user\"}"), 1);
    assert_int_equal(transforms_for("{\"role\":\"admin\"}"), 0);
    assert_int_equal(transforms_for(NULL), 0); /* no token: not masked */
    fx_teardown();
    struct cfg_error err;
    const char *both = ROUTE "mask: {fields: [\"$.p\"], unless_claim: {a: b},\n"
                             "    when_claim: {a: b}}}\n";
    assert_null(config_load_buffer(both, strlen(both), "test.yaml", &err));
    assert_non_null(strstr(err.msg, "exclude each other"));
}

static void fails_closed_with_502(void **state)
{
    (void)state;
    fx_setup(ROUTE "mask: {fields: [\"$.a\"], max_body: 100}}\n");
    struct response r;
    struct fx_exchange *e = head(200, "application/json", 101, NULL, &r);
    assert_int_equal(r.status, 502);
    const char *got = body(e, "{\"a\":\"secret\"}", 5);
    assert_non_null(got);
    assert_null(strstr(got, "secret"));
    assert_non_null(strstr(got, "cannot be masked"));
    fx_end(e, 502);
    e = head(200, "application/json", 30, "gzip", &r);
    assert_int_equal(r.status, 502);
    assert_false(response_get(&r, STR_LIT("Content-Encoding")).ptr != NULL);
    fx_end(e, 502);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masks_json_split),
        cmocka_unit_test(fails_closed_with_502),
        cmocka_unit_test(claims_decide_per_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

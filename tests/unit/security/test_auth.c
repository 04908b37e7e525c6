/* test_auth.c — the api_key, basic_auth, hmac_auth and forward_auth modules against the fake
 * host (module_fixture.h), one route each. */
#include "module_fixture.h"

#include <crypt.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "security/auth_common.h"
#include "security/auth_hmac.h"

static char yaml_buf[4096];

static const char *route(const char *section)
{
    snprintf(yaml_buf, sizeof(yaml_buf),
             FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n%s", section);
    return yaml_buf;
}

static struct fx_exchange *req(const char *head)
{
    return fx_exchange(0, head, NULL);
}

static bool adds(struct fx_exchange *e, const char *line)
{
    char add[512];
    snprintf(add, sizeof(add), "%.*s", (int)e->x.upstream_add.len, e->x.upstream_add.ptr);
    return strstr(add, line) != NULL;
}

/* --- api_key --- */

static void test_api_key(void **state)
{
    (void)state;
    uint8_t h[32];
    char hex[65];
    SHA256((const uint8_t *)"secret-key", 10, h);
    auth_hex_encode(h, 32, hex);
    char sec[512];
    snprintf(sec, sizeof(sec),
             "    api_key:\n      keys: [{client: app1, sha256: %s}, {client: app2, sha256: %064d}]\n",
             hex, 0);
    fx_setup(route(sec));
    struct fx_exchange *e = req("GET / HTTP/1.1\r\nHost: a\r\nX-API-Key: secret-key\r\n\r\n");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_string_equal(e->x.client_id, "app1");
    assert_true(adds(e, "X-Client-Id: app1\r\n"));
    fx_end(e, 200);
    e = req("GET / HTTP/1.1\r\nHost: a\r\nX-API-Key: secret-kez\r\n\r\n");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    assert_string_equal(fx_reply_header(e, "WWW-Authenticate"), "APIKey realm=\"weir\"");
    fx_end(e, 401);
    fx_teardown();
}

/* --- basic_auth --- */

static void test_basic(void **state)
{
    (void)state;
    char path[] = "/tmp/weir-htpasswd-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char salt[64];
    struct crypt_data cd = {0};
    assert_non_null(crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt)));
    const char *hash = crypt_rn("pw", salt, &cd, sizeof(cd));
    assert_non_null(hash);
    dprintf(fd, "# comment\nbob:%s\n", hash);
    close(fd);
    char sec[512];
    snprintf(sec, sizeof(sec), "    basic_auth: {htpasswd: %s, realm: r, user_header: X-User}\n",
             path);
    fx_setup(route(sec));
    for (int round = 0; round < 2; round++) { /* the second is remembered */
        /* bob:pw */
        struct fx_exchange *e = req("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic Ym9iOnB3\r\n\r\n");
        assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
        assert_string_equal(e->x.client_id, "bob");
        assert_true(adds(e, "X-User: bob\r\n"));
        fx_end(e, 200);
    }
    /* bob:px, eve:pw, no header */
    static const char *const bad[] = {"Authorization: Basic Ym9iOnB4\r\n",
                                      "Authorization: Basic ZXZlOnB3\r\n", ""};
    for (size_t i = 0; i < 3; i++) {
        char head[256];
        snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", bad[i]);
        struct fx_exchange *e = req(head);
        assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
        assert_int_equal(e->x.reply.status, 401);
        assert_string_equal(fx_reply_header(e, "WWW-Authenticate"),
                            "Basic realm=\"r\", charset=\"UTF-8\"");
        fx_end(e, 401);
    }
    fx_teardown();
    /* an MD5 (apr1) line is refused at load, with its position */
    fd = open(path, O_WRONLY | O_TRUNC);
    dprintf(fd, "bob:$apr1$abc$def\n");
    close(fd);
    struct cfg_error err;
    const char *text = route(sec);
    assert_null(config_load_buffer(text, strlen(text), "t.yaml", &err));
    assert_non_null(strstr(err.msg, "line 1"));
    unlink(path);
}

/* --- hmac_auth --- */

#define HSECRET "0123456789abcdef0123456789abcdef"

static void sign_head(char *head, size_t cap, const char *method, const char *target, long ts,
                      const char *body)
{
    /* the canonical string, built the way hmac_auth.h documents it (headers: host) */
    char canon[1024], hex[65];
    uint8_t d[32];
    SHA256((const uint8_t *)body, strlen(body), d);
    auth_hex_encode(d, 32, hex);
    const char *q = strchr(target, '?');
    snprintf(canon, sizeof(canon), "%s\n%.*s\n%s\n%ld\nhost:a\n%s", method,
             (int)(q ? q - target : (long)strlen(target)), target, q ? "a=1&b=2" : "", ts, hex);
    uint8_t mac[32];
    unsigned n;
    HMAC(EVP_sha256(), HSECRET, 32, (const uint8_t *)canon, strlen(canon), mac, &n);
    char sig[65];
    auth_hex_encode(mac, 32, sig);
    snprintf(head, cap,
             "%s %s HTTP/1.1\r\nHost: a\r\nX-Signature-Key: k1\r\nX-Signature-Timestamp: %ld\r\n"
             "X-Signature: %s\r\n%s\r\n",
             method, target, ts, sig, *body ? "Content-Length: 2\r\n" : "");
}

static void test_hmac(void **state)
{
    (void)state;
    fx_setup(route("    hmac_auth: {keys: [{id: k1, secret: \"" HSECRET "\"}], headers: [Host]}\n"));
    long now = (long)time(NULL);
    char head[1024];
    sign_head(head, sizeof(head), "GET", "/p?b=2&a=1", now, "");
    struct fx_exchange *e = req(head);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_string_equal(e->x.client_id, "k1");
    fx_end(e, 200);
    e = req(head); /* replay */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 401);
    fx_end(e, 401);
    sign_head(head, sizeof(head), "GET", "/p", now - 400, ""); /* skew */
    e = req(head);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    fx_end(e, 401);
    /* a body: read through need_body, then checked */
    sign_head(head, sizeof(head), "POST", "/p", now, "hi");
    e = req(head);
    e->body = "hi";
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 1);
    fx_end(e, 200);
    sign_head(head, sizeof(head), "POST", "/p", now + 1, "hi");
    e = req(head);
    e->body = "ho"; /* not what was signed */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    fx_end(e, 401);
    fx_teardown();
}

/* --- forward_auth --- */

static void (*fa_cb)(void *arg, const struct fetch_reply *r);
static void *fa_arg;
static char fa_req[2048];

static int fake_fetch_reply(struct pipeline_worker *self, const char *r, size_t len, size_t max,
                            void (*done)(void *arg, const struct fetch_reply *r), void *arg)
{
    (void)self;
    (void)max;
    snprintf(fa_req, sizeof(fa_req), "%.*s", (int)len, r);
    fa_cb = done;
    fa_arg = arg;
    return 0;
}

static void answer(uint16_t status, const char *raw_head, const char *body)
{
    static struct h1_response head;
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s", raw_head);
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 8192,
                                         .max_headers = 100};
    assert_true(h1_parse_response(buf, strlen(buf), &lim, false, &head) > 0);
    struct fetch_reply r = {.status = status, .head = &head, .body = str_cstr(body)};
    fa_cb(fa_arg, &r);
}

static void test_forward_auth(void **state)
{
    (void)state;
    fx_setup(route("    forward_auth: {url: \"http://auth/check\", copy_headers: [X-User], "
                   "timeout: 1s}\n"));
    fx.workers[0].fetch_reply = fake_fetch_reply;
    struct fx_exchange *e = req("GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: t\r\n\r\n");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    assert_non_null(strstr(fa_req, "GET /check HTTP/1.1\r\nHost: auth\r\n"));
    assert_non_null(strstr(fa_req, "X-Forwarded-Uri: /x\r\n"));
    assert_non_null(strstr(fa_req, "Authorization: t\r\n"));
    answer(200, "HTTP/1.1 200 OK\r\nX-User: u1\r\nContent-Length: 0\r\n\r\n", "");
    assert_int_equal(e->done, PIPELINE_NEXT);
    assert_true(adds(e, "X-User: u1\r\n"));
    fx_end(e, 200);

    e = req("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    answer(403, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n",
           "no\n");
    assert_int_equal(e->done, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 403);
    assert_string_equal(fx_reply_body(e), "no\n");
    fx_end(e, 403);

    e = req("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); /* no answer in time: 503 */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    fx_advance(1100);
    assert_int_equal(e->done, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 503);
    fx_end(e, 503);
    answer(200, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ""); /* late: dropped */

    e = req("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); /* the client leaves first */
    assert_int_equal(pipeline_request(&e->x), PIPELINE_WAIT);
    fx_end(e, 0);
    answer(200, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "");
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_forward_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_h1_request.c — h1_parse_request on valid requests: fields, flags, framing, limits and the
 * restartable-parse contract (every strict prefix gives H1_AGAIN, the full head the same result
 * whatever follows it). Rejections live in test_h1_reject.c. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/h1.h"

static const struct h1_limits lim = {
    .max_request_line = 8192,
    .max_header_bytes = 16384,
    .max_headers = 100,
    .max_body = 0,
};

#define RAW(s) (s), (sizeof(s) - 1)

static int parse(const char *buf, size_t len, struct h1_request *req)
{
    return h1_parse_request(buf, len, &lim, req);
}

/* Parses a copy of buf[0..len) held in a buffer of exactly len bytes, so that ASan catches any
 * read past the end. Slices in req then point into the copy, which is returned (caller frees). */
static char *parse_exact(const char *buf, size_t len, const struct h1_limits *l,
                         struct h1_request *req, int *rc)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, buf, len);
    *rc = h1_parse_request(copy, len, l, req);
    return copy;
}

static void assert_str(struct str s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

/* Two slices are the same when they sit at the same offset of their buffers with equal length. */
static void assert_same_slice(struct str a, const char *base_a, struct str b, const char *base_b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_int_equal(a.ptr - base_a, b.ptr - base_b);
}

static void assert_same_request(const struct h1_request *a, const char *base_a,
                                const struct h1_request *b, const char *base_b)
{
    assert_same_slice(a->method, base_a, b->method, base_b);
    assert_int_equal(a->method_id, b->method_id);
    assert_same_slice(a->target, base_a, b->target, base_b);
    assert_int_equal(a->minor, b->minor);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->framing, b->framing);
    assert_int_equal(a->content_length, b->content_length);
    assert_same_slice(a->host, base_a, b->host, base_b);
    assert_int_equal(a->nheaders, b->nheaders);
    for (uint32_t i = 0; i < a->nheaders; i++) {
        assert_same_slice(a->headers[i].name, base_a, b->headers[i].name, base_b);
        assert_same_slice(a->headers[i].value, base_a, b->headers[i].value, base_b);
    }
}

/* The restartable contract for one message at buf[0..len) whose head is head_len bytes long. */
static void check_every_split(const char *buf, size_t len, int head_len)
{
    struct h1_request *full = calloc(1, sizeof *full), *part = malloc(sizeof *part);
    assert_non_null(full);
    assert_non_null(part);
    memset(part, 0xa5, sizeof *part);

    assert_int_equal(parse(buf, len, full), head_len);
    for (int k = 0; k < head_len; k++) {
        int rc;
        free(parse_exact(buf, (size_t)k, &lim, part, &rc));
        if (rc != H1_AGAIN)
            fail_msg("prefix of %d bytes gave %d (%s)", k, rc, part->error);
    }
    /* The struct is dirty from the partial parses: results must not depend on that. */
    int rc;
    char *copy = parse_exact(buf, (size_t)head_len, &lim, part, &rc);
    assert_int_equal(rc, head_len);
    assert_same_request(full, buf, part, copy);
    free(copy);
    free(full);
    free(part);
}

/* ---- valid requests ---------------------------------------------------------------------- */

static const char get_req[] = "GET /index.html?q=1 HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "User-Agent: test/1.0\r\n"
                              "Accept: */*\r\n"
                              "X-Spaces: \t padded value \t \r\n"
                              "X-Empty:\r\n"
                              "\r\n";

static void get_with_headers(void **state)
{
    (void)state;
    struct h1_request req;
    assert_int_equal(parse(RAW(get_req), &req), (int)sizeof(get_req) - 1);
    assert_str(req.method, "GET");
    assert_int_equal(req.method_id, H1_M_GET);
    assert_str(req.target, "/index.html?q=1");
    assert_int_equal(req.minor, 1);
    assert_str(req.host, "example.com");
    assert_int_equal(req.framing, H1_FRAME_NONE);
    assert_int_equal(req.flags, 0);
    assert_null(req.error);
    assert_int_equal(req.nheaders, 5);
    assert_str(req.headers[0].name, "Host");
    assert_str(req.headers[1].value, "test/1.0");
    assert_str(req.headers[3].name, "X-Spaces");
    assert_str(req.headers[3].value, "padded value");
    assert_str(req.headers[4].name, "X-Empty");
    assert_str(req.headers[4].value, "");
}

static void get_every_split(void **state)
{
    (void)state;
    check_every_split(RAW(get_req), (int)sizeof(get_req) - 1);
}

static const char post_req[] = "POST /submit HTTP/1.1\r\n"
                               "Host: example.com:8080\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 11\r\n"
                               "\r\n"
                               "hello world";

static void post_with_length(void **state)
{
    (void)state;
    struct h1_request req;
    int head = (int)sizeof(post_req) - 1 - 11;
    assert_int_equal(parse(RAW(post_req), &req), head);
    assert_int_equal(req.method_id, H1_M_POST);
    assert_int_equal(req.framing, H1_FRAME_LENGTH);
    assert_int_equal(req.content_length, 11);
    assert_int_equal(req.flags, H1F_HAS_CL);
    assert_str(req.host, "example.com:8080");
    check_every_split(RAW(post_req), head);
}

static void content_length_zero(void **state)
{
    (void)state;
    struct h1_request req;
    static const char r[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse(RAW(r), &req), (int)sizeof(r) - 1);
    assert_int_equal(req.framing, H1_FRAME_LENGTH);
    assert_int_equal(req.content_length, 0);
}

static void content_length_max(void **state)
{
    (void)state;
    struct h1_request req;
    static const char r[] = "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 4611686018427387904\r\n\r\n";
    assert_int_equal(parse(RAW(r), &req), (int)sizeof(r) - 1);
    assert_int_equal(req.content_length, UINT64_C(1) << 62);
    static const char z[] = "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Content-Length: 00000000000000000000007\r\n\r\n";
    assert_int_equal(parse(RAW(z), &req), (int)sizeof(z) - 1);
    assert_int_equal(req.content_length, 7);
}

static const char chunked_req[] = "POST /upload HTTP/1.1\r\n"
                                  "Host: example.com\r\n"
                                  "Transfer-Encoding: chunked\r\n"
                                  "Trailer: X-Checksum\r\n"
                                  "\r\n"
                                  "5\r\nhello\r\n"
                                  "6;ext=\"v\"\r\n world\r\n"
                                  "0\r\n"
                                  "X-Checksum: abc\r\n"
                                  "\r\n";

static void chunked_post_with_trailers(void **state)
{
    (void)state;
    struct h1_request req;
    const char *body = strstr(chunked_req, "\r\n\r\n") + 4;
    int head = (int)(body - chunked_req);
    assert_int_equal(parse(RAW(chunked_req), &req), head);
    assert_int_equal(req.framing, H1_FRAME_CHUNKED);
    assert_int_equal(req.flags, H1F_HAS_TE);
    check_every_split(RAW(chunked_req), head);

    char copy[sizeof chunked_req];
    memcpy(copy, chunked_req, sizeof copy);
    struct h1_chunked c;
    size_t dec;
    h1_chunked_init(&c);
    size_t blen = sizeof(chunked_req) - 1 - (size_t)head;
    assert_int_equal(h1_chunked_feed(&c, copy + head, blen, &dec), (ssize_t)blen);
    assert_true(c.done);
    assert_int_equal(dec, 11);
    assert_memory_equal(copy + head, "hello world", 11);
}

static void transfer_codings_before_chunked(void **state)
{
    (void)state;
    struct h1_request req;
    static const char a[] = "POST / HTTP/1.1\r\nHost: a\r\n"
                            "Transfer-Encoding: gzip, chunked\r\n\r\n";
    assert_int_equal(parse(RAW(a), &req), (int)sizeof(a) - 1);
    assert_int_equal(req.framing, H1_FRAME_CHUNKED);
    static const char b[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                            "Transfer-Encoding: CHUNKED\r\n\r\n";
    assert_int_equal(parse(RAW(b), &req), (int)sizeof(b) - 1);
    assert_int_equal(req.framing, H1_FRAME_CHUNKED);
    static const char c[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: deflate,,"
                            " compress ,identity,chunked\r\n\r\n";
    assert_int_equal(parse(RAW(c), &req), (int)sizeof(c) - 1);
}

static const char http10_req[] = "GET /old HTTP/1.0\r\n"
                                 "User-Agent: legacy\r\n"
                                 "\r\n";

static void http10_without_host(void **state)
{
    (void)state;
    struct h1_request req;
    assert_int_equal(parse(RAW(http10_req), &req), (int)sizeof(http10_req) - 1);
    assert_int_equal(req.minor, 0);
    assert_int_equal(req.host.len, 0);
    assert_int_equal(req.framing, H1_FRAME_NONE);
    check_every_split(RAW(http10_req), (int)sizeof(http10_req) - 1);
}

static const char pipelined[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                                "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";

static void pipelined_requests(void **state)
{
    (void)state;
    struct h1_request req;
    size_t len = sizeof(pipelined) - 1;
    int r1 = parse(pipelined, len, &req);
    assert_int_equal(r1, 28);
    assert_str(req.target, "/a");
    check_every_split(pipelined, len, r1);

    const char *second = pipelined + r1;
    int r2 = parse(second, len - (size_t)r1, &req);
    assert_true(r2 > 0);
    assert_str(req.target, "/b");
    assert_int_equal(req.content_length, 3);
    check_every_split(second, len - (size_t)r1, r2);

    const char *third = second + r2 + 3;
    int r3 = parse(third, (size_t)(pipelined + len - third), &req);
    assert_int_equal(r3, (int)(pipelined + len - third));
    assert_str(req.target, "/c");
    check_every_split(third, (size_t)r3, r3);
}

static void leading_empty_lines(void **state)
{
    (void)state;
    struct h1_request req;
    static const char r[] = "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(RAW(r), &req), (int)sizeof(r) - 1);
    assert_str(req.target, "/");
    check_every_split(RAW(r), (int)sizeof(r) - 1);
}

static void method_ids(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        enum h1_method id;
    } cases[] = {
        {"GET", H1_M_GET},         {"HEAD", H1_M_HEAD},   {"POST", H1_M_POST},
        {"PUT", H1_M_PUT},         {"DELETE", H1_M_DELETE}, {"OPTIONS", H1_M_OPTIONS},
        {"PATCH", H1_M_PATCH},     {"TRACE", H1_M_TRACE}, {"PURGE", H1_M_OTHER},
        {"get", H1_M_OTHER},       {"GETS", H1_M_OTHER},  {"X-Custom_1!", H1_M_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[128];
        struct h1_request req;
        int n = snprintf(buf, sizeof buf, "%s / HTTP/1.1\r\nHost: a\r\n\r\n", cases[i].m);
        assert_int_equal(parse(buf, (size_t)n, &req), n);
        assert_int_equal(req.method_id, cases[i].id);
        assert_str(req.method, cases[i].m);
    }
}

static void target_forms(void **state)
{
    (void)state;
    struct h1_request req;
    static const char abs[] = "GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_int_equal(parse(RAW(abs), &req), (int)sizeof(abs) - 1);
    assert_true(req.flags & H1F_ABSOLUTE_FORM);
    static const char star[] = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(RAW(star), &req), (int)sizeof(star) - 1);
    assert_false(req.flags & H1F_ABSOLUTE_FORM);
    static const char conn[] = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    assert_int_equal(parse(RAW(conn), &req), (int)sizeof(conn) - 1);
    assert_int_equal(req.method_id, H1_M_CONNECT);
    assert_str(req.target, "example.com:443");
    static const char conn6[] = "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n";
    assert_int_equal(parse(RAW(conn6), &req), (int)sizeof(conn6) - 1);
}

static void connection_and_upgrade_flags(void **state)
{
    (void)state;
    struct h1_request req;
    static const char ws[] = "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                             "Upgrade: WebSocket\r\n\r\n";
    assert_true(parse(RAW(ws), &req) > 0);
    assert_int_equal(req.flags, H1F_CONN_KEEPALIVE | H1F_CONN_UPGRADE | H1F_CONN_OTHER |
                                    H1F_UPGRADE | H1F_UPGRADE_WEBSOCKET);
    static const char h2c[] = "GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade, HTTP2-Settings\r\n"
                              "upgrade: foo/2, h2c\r\nConnection: CLOSE\r\n\r\n";
    assert_true(parse(RAW(h2c), &req) > 0);
    assert_int_equal(req.flags, H1F_CONN_UPGRADE | H1F_CONN_OTHER | H1F_CONN_CLOSE | H1F_UPGRADE |
                                    H1F_UPGRADE_H2C);
    /* Tokens that name fields (the proxy drops them) set H1F_CONN_OTHER; close and
     * keep-alive alone do not. */
    static const char none[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                               "Connection: closed, xkeep-alive\r\n\r\n";
    assert_true(parse(RAW(none), &req) > 0);
    assert_int_equal(req.flags, H1F_CONN_OTHER);
    static const char plain[] = "GET / HTTP/1.1\r\nHost: a\r\n"
                                "Connection: Keep-Alive ,, close\r\n\r\n";
    assert_true(parse(RAW(plain), &req) > 0);
    assert_int_equal(req.flags, H1F_CONN_KEEPALIVE | H1F_CONN_CLOSE);
}

static void expect_continue(void **state)
{
    (void)state;
    struct h1_request req;
    static const char a[] = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                            "Content-Length: 1\r\n\r\n";
    assert_true(parse(RAW(a), &req) > 0);
    assert_int_equal(req.flags, H1F_EXPECT_CONTINUE | H1F_HAS_CL);
    static const char b[] = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n";
    assert_true(parse(RAW(b), &req) > 0);
    assert_int_equal(req.flags, 0);
}

static void value_bytes_allowed(void **state)
{
    (void)state;
    struct h1_request req;
    static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: caf\xc3\xa9\r\n"
                            "X-Tab: a\tb\r\nX-Punct: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n";
    assert_int_equal(parse(RAW(r), &req), (int)sizeof(r) - 1);
    assert_str(req.headers[1].value, "caf\xc3\xa9");
    assert_str(req.headers[2].value, "a\tb");
    check_every_split(RAW(r), (int)sizeof(r) - 1);
}

/* An empty read buffer may have no storage yet: NULL with length 0 is just "need more". */
static void null_empty_buffer(void **state)
{
    (void)state;
    struct h1_request req;
    struct h1_response resp;
    struct h1_chunked c;
    size_t dec = 1;
    assert_int_equal(h1_parse_request(NULL, 0, &lim, &req), H1_AGAIN);
    assert_int_equal(h1_parse_response(NULL, 0, &lim, false, &resp), H1_AGAIN);
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, NULL, 0, &dec), 0);
    assert_int_equal(dec, 0);
}

/* ---- limits ------------------------------------------------------------------------------ */

static int parse_lim(const char *buf, size_t len, struct h1_limits l)
{
    struct h1_request req;
    int rc;
    free(parse_exact(buf, len, &l, &req, &rc));
    if (rc < 0)
        assert_non_null(req.error);
    return rc;
}

static void request_line_limit(void **state)
{
    (void)state;
    static const char r[] = "GET /abcdef HTTP/1.1\r\nHost: a\r\n\r\n"; /* line is 20 bytes */
    struct h1_limits l = lim;
    l.max_request_line = 20;
    assert_int_equal(parse_lim(RAW(r), l), (int)sizeof(r) - 1);
    l.max_request_line = 19;
    assert_int_equal(parse_lim(RAW(r), l), -414);
    /* Too long before its CRLF arrived: no need to wait. */
    assert_int_equal(parse_lim(r, 20, l), -414);
    assert_int_equal(parse_lim(r, 19, l), H1_AGAIN);
    l.max_request_line = 8;
    assert_int_equal(parse_lim(r, 9, l), -414); /* still in the target */
    assert_int_equal(parse_lim(r, 8, l), H1_AGAIN);
}

static void request_line_limit_leading_crlf(void **state)
{
    (void)state;
    static const char r[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"; /* line is 14 bytes */
    struct h1_limits l = lim;
    l.max_request_line = 14;
    assert_int_equal(parse_lim(RAW(r), l), (int)sizeof(r) - 1);
    assert_int_equal(parse_lim(r, 19, l), H1_AGAIN); /* ends in the CR of the CRLF */
}

static void header_bytes_limit(void **state)
{
    (void)state;
    static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\n\r\nBODY";
    size_t head = sizeof(r) - 1 - 4;
    struct h1_limits l = lim;
    l.max_header_bytes = (uint32_t)head;
    assert_int_equal(parse_lim(RAW(r), l), (int)head); /* body bytes beyond the limit are fine */
    l.max_header_bytes = (uint32_t)head - 1;
    assert_int_equal(parse_lim(RAW(r), l), -431);
    assert_int_equal(parse_lim(r, head - 1, l), H1_AGAIN);
    assert_int_equal(parse_lim(r, head, l), -431); /* incomplete and already over the limit */
    l.max_header_bytes = 10;
    assert_int_equal(parse_lim(r, 11, l), -431); /* detected inside the request line */
}

static void header_count_limit(void **state)
{
    (void)state;
    static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    struct h1_limits l = lim;
    l.max_headers = 3;
    assert_int_equal(parse_lim(RAW(r), l), (int)sizeof(r) - 1);
    l.max_headers = 2;
    assert_int_equal(parse_lim(RAW(r), l), -431);
}

static void header_count_capacity(void **state)
{
    (void)state;
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < H1_MAX_HEADERS; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "H%d: v\r\n", i);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n");
    struct h1_limits l = lim;
    l.max_headers = 1000; /* clamped to the array's capacity */
    assert_int_equal(parse_lim(buf, (size_t)n, l), n);
    memcpy(buf + n - 2, "Z: 1\r\n\r\n", 8);
    assert_int_equal(parse_lim(buf, (size_t)n + 6, l), -431);
}

static void body_limit(void **state)
{
    (void)state;
    static const char r[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
    struct h1_limits l = lim;
    l.max_body = 100;
    assert_int_equal(parse_lim(RAW(r), l), (int)sizeof(r) - 1);
    l.max_body = 99;
    assert_int_equal(parse_lim(RAW(r), l), -413);
    l.max_body = 0;
    assert_int_equal(parse_lim(RAW(r), l), (int)sizeof(r) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_with_headers),
        cmocka_unit_test(get_every_split),
        cmocka_unit_test(post_with_length),
        cmocka_unit_test(content_length_zero),
        cmocka_unit_test(content_length_max),
        cmocka_unit_test(chunked_post_with_trailers),
        cmocka_unit_test(transfer_codings_before_chunked),
        cmocka_unit_test(http10_without_host),
        cmocka_unit_test(pipelined_requests),
        cmocka_unit_test(leading_empty_lines),
        cmocka_unit_test(method_ids),
        cmocka_unit_test(target_forms),
        cmocka_unit_test(connection_and_upgrade_flags),
        cmocka_unit_test(expect_continue),
        cmocka_unit_test(value_bytes_allowed),
        cmocka_unit_test(null_empty_buffer),
        cmocka_unit_test(request_line_limit),
        cmocka_unit_test(request_line_limit_leading_crlf),
        cmocka_unit_test(header_bytes_limit),
        cmocka_unit_test(header_count_limit),
        cmocka_unit_test(header_count_capacity),
        cmocka_unit_test(body_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_h1_response.c — h1_parse_response: status lines, header strictness (every error is -502),
 * the framing rules of RFC 9112 §6.3 and the restartable-parse contract. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static int parse_exact(const char *buf, size_t len, bool head, struct h1_response *resp)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    int rc = h1_parse_response(copy, len, &lim, head, resp);
    free(copy);
    return rc;
}

static void assert_str(struct str s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

/* ---- valid responses --------------------------------------------------------------------- */

static const char ok_resp[] = "HTTP/1.1 200 OK\r\n"
                              "Content-Type: text/html\r\n"
                              "Content-Length: 5\r\n"
                              "Connection: keep-alive\r\n"
                              "\r\n"
                              "hello";

static void ok_with_length(void **state)
{
    (void)state;
    struct h1_response r;
    int head = (int)sizeof(ok_resp) - 1 - 5;
    assert_int_equal(h1_parse_response(RAW(ok_resp), &lim, false, &r), head);
    assert_int_equal(r.minor, 1);
    assert_int_equal(r.status, 200);
    assert_str(r.reason, "OK");
    assert_int_equal(r.framing, H1_FRAME_LENGTH);
    assert_int_equal(r.content_length, 5);
    assert_int_equal(r.flags, H1F_HAS_CL | H1F_CONN_KEEPALIVE);
    assert_int_equal(r.nheaders, 3);
    assert_str(r.headers[1].value, "5");
    assert_null(r.error);
}

static void every_split(void **state)
{
    (void)state;
    struct h1_response r;
    int head = (int)sizeof(ok_resp) - 1 - 5;
    for (int k = 0; k < head; k++) {
        int rc = parse_exact(ok_resp, (size_t)k, false, &r);
        if (rc != H1_AGAIN)
            fail_msg("prefix of %d bytes gave %d (%s)", k, rc, r.error);
    }
    assert_int_equal(parse_exact(ok_resp, (size_t)head, false, &r), head);
    assert_int_equal(r.content_length, 5);
}

static void status_line_variants(void **state)
{
    (void)state;
    struct h1_response r;
    static const char no_reason[] = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_exact(RAW(no_reason), false, &r), (int)sizeof(no_reason) - 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.reason.len, 0);
    static const char empty_reason[] = "HTTP/1.0 404 \r\n\r\n";
    assert_int_equal(parse_exact(RAW(empty_reason), false, &r), (int)sizeof(empty_reason) - 1);
    assert_int_equal(r.minor, 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.reason.len, 0);
    static const char long_reason[] = "HTTP/1.1 503 Service\tUnavailable (caf\xc3\xa9)\r\n\r\n";
    assert_int_equal(parse_exact(RAW(long_reason), false, &r), (int)sizeof(long_reason) - 1);
    assert_str(r.reason, "Service\tUnavailable (caf\xc3\xa9)");
    static const char edges[][24] = {"HTTP/1.1 100 X\r\n\r\n", "HTTP/1.1 599 X\r\n\r\n"};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(parse_exact(edges[i], strlen(edges[i]), false, &r), 18);
}

static void framing_no_body(void **state)
{
    (void)state;
    struct h1_response r;
    /* Content-Length and even conflicting framing are ignored where no body can follow. */
    static const char *const cases[] = {
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_exact(cases[i], strlen(cases[i]), false, &r), (int)strlen(cases[i]));
        assert_int_equal(r.framing, H1_FRAME_NONE);
        assert_int_equal(r.content_length, 0);
    }
    static const char ws[] =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    assert_true(parse_exact(RAW(ws), false, &r) > 0);
    assert_int_equal(r.flags, H1F_CONN_UPGRADE | H1F_CONN_OTHER | H1F_UPGRADE |
                                  H1F_UPGRADE_WEBSOCKET);
}

static void framing_head_request(void **state)
{
    (void)state;
    struct h1_response r;
    assert_int_equal(parse_exact(RAW(ok_resp) - 5, true, &r), (int)sizeof(ok_resp) - 6);
    assert_int_equal(r.framing, H1_FRAME_NONE);
    assert_true(r.flags & H1F_HAS_CL);
}

static void framing_chunked(void **state)
{
    (void)state;
    struct h1_response r;
    static const char a[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(parse_exact(RAW(a), false, &r), (int)sizeof(a) - 1);
    assert_int_equal(r.framing, H1_FRAME_CHUNKED);
    assert_int_equal(r.flags, H1F_HAS_TE);
    static const char b[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, br, Chunked\r\n\r\n";
    assert_int_equal(parse_exact(RAW(b), false, &r), (int)sizeof(b) - 1);
    assert_int_equal(r.framing, H1_FRAME_CHUNKED);
}

static void framing_eof(void **state)
{
    (void)state;
    struct h1_response r;
    static const char none[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    assert_int_equal(parse_exact(RAW(none), false, &r), (int)sizeof(none) - 1);
    assert_int_equal(r.framing, H1_FRAME_EOF);
    static const char gzip[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_int_equal(parse_exact(RAW(gzip), false, &r), (int)sizeof(gzip) - 1);
    assert_int_equal(r.framing, H1_FRAME_EOF);
    static const char cg[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
    assert_int_equal(parse_exact(RAW(cg), false, &r), (int)sizeof(cg) - 1);
    assert_int_equal(r.framing, H1_FRAME_EOF);
    static const char v10[] = "HTTP/1.0 200 OK\r\n\r\n";
    assert_int_equal(parse_exact(RAW(v10), false, &r), (int)sizeof(v10) - 1);
    assert_int_equal(r.framing, H1_FRAME_EOF);
}

static void framing_length_duplicates(void **state)
{
    (void)state;
    struct h1_response r;
    static const char same[] = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n";
    assert_int_equal(parse_exact(RAW(same), false, &r), (int)sizeof(same) - 1);
    assert_int_equal(r.framing, H1_FRAME_LENGTH);
    assert_int_equal(r.content_length, 7);
    static const char list[] = "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n";
    assert_int_equal(parse_exact(RAW(list), false, &r), (int)sizeof(list) - 1);
    assert_int_equal(r.content_length, 7);
    static const char zero[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_exact(RAW(zero), false, &r), (int)sizeof(zero) - 1);
    assert_int_equal(r.framing, H1_FRAME_LENGTH);
    assert_int_equal(r.content_length, 0);
}

/* ---- rejections: one named test each, all -502 ------------------------------------------- */

#define OK200 "HTTP/1.1 200 OK\r\n"

#define VECTORS(X)                                                                                \
    X(r_version_2, "HTTP/2.0 200 OK\r\n\r\n")                                                     \
    X(r_version_1_2, "HTTP/1.2 200 OK\r\n\r\n")                                                   \
    X(r_version_lower, "http/1.1 200 OK\r\n\r\n")                                                 \
    X(r_version_short, "HTTP/1 200 OK\r\n\r\n")                                                   \
    X(r_leading_crlf, "\r\nHTTP/1.1 200 OK\r\n\r\n")                                              \
    X(r_status_099, "HTTP/1.1 099 X\r\n\r\n")                                                     \
    X(r_status_600, "HTTP/1.1 600 X\r\n\r\n")                                                     \
    X(r_status_two_digits, "HTTP/1.1 20 OK\r\n\r\n")                                              \
    X(r_status_four_digits, "HTTP/1.1 2000 OK\r\n\r\n")                                           \
    X(r_status_letters, "HTTP/1.1 2x0 OK\r\n\r\n")                                                \
    X(r_status_missing, "HTTP/1.1 \r\n\r\n")                                                      \
    X(r_two_spaces, "HTTP/1.1  200 OK\r\n\r\n")                                                   \
    X(r_no_space, "HTTP/1.1200 OK\r\n\r\n")                                                       \
    X(r_reason_ctl, "HTTP/1.1 200 O\x01K\r\n\r\n")                                                \
    X(r_reason_del, "HTTP/1.1 200 O\x7fK\r\n\r\n")                                                \
    X(r_bare_lf_status, "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")                             \
    X(r_bare_lf_status_no_reason, "HTTP/1.1 200\n\r\n")                                           \
    X(r_bare_cr_status, "HTTP/1.1 200 OK\rX\r\n\r\n")                                             \
    X(r_bare_lf_header, OK200 "Content-Length: 0\n\r\n")                                          \
    X(r_bare_lf_final, OK200 "Content-Length: 0\r\n\n")                                           \
    X(r_bare_cr_header, OK200 "X: a\rb\r\n\r\n")                                                  \
    X(r_space_before_colon, OK200 "Content-Length : 0\r\n\r\n")                                   \
    X(r_obs_fold, OK200 "X: a\r\n b\r\n\r\n")                                                     \
    X(r_empty_name, OK200 ": a\r\n\r\n")                                                          \
    X(r_bad_name, OK200 "X[1]: a\r\n\r\n")                                                        \
    X(r_value_nul, OK200 "X: a\0b\r\n\r\n")                                                       \
    X(r_value_ctl, OK200 "X: a\x1f"                                                               \
                         "b\r\n\r\n")                                                             \
    X(r_te_and_cl, OK200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")               \
    X(r_cl_and_te_not_chunked, OK200 "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n")      \
    X(r_te_chunked_twice, OK200 "Transfer-Encoding: chunked, chunked\r\n\r\n")                    \
    X(r_te_parameter, OK200 "Transfer-Encoding: chunked;x=1\r\n\r\n")                             \
    X(r_te_http10, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")                       \
    X(r_cl_differing, OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n")                     \
    X(r_cl_list_differing, OK200 "Content-Length: 5, 6\r\n\r\n")                                  \
    X(r_cl_list_empty_element, OK200 "Content-Length: 5,\r\n\r\n")                               \
    X(r_cl_sign, OK200 "Content-Length: +5\r\n\r\n")                                              \
    X(r_cl_empty, OK200 "Content-Length:\r\n\r\n")                                                \
    X(r_cl_overflow, OK200 "Content-Length: 99999999999999999999\r\n\r\n")                        \
    X(r_cl_bad_then_good, OK200 "Content-Length: x\r\nContent-Length: 5\r\n\r\n")

static void check_reject(const char *raw, size_t len)
{
    struct h1_response r;
    int rc = parse_exact(raw, len, false, &r);
    if (rc != -502)
        fail_msg("got %d (%s), want -502", rc, r.error ? r.error : "no error");
    assert_non_null(r.error);
    for (size_t k = 0; k < len; k++)
        assert_true(parse_exact(raw, k, false, &r) <= 0);
}

#define DEFINE(name, raw)                                                                         \
    static void name(void **state)                                                                \
    {                                                                                             \
        (void)state;                                                                              \
        check_reject(raw, sizeof(raw) - 1);                                                       \
    }
VECTORS(DEFINE)

static void limits(void **state)
{
    (void)state;
    struct h1_response r;
    struct h1_limits l = lim;
    l.max_header_bytes = (uint32_t)sizeof(ok_resp) - 1 - 5;
    assert_int_equal(h1_parse_response(RAW(ok_resp), &l, false, &r), (int)l.max_header_bytes);
    l.max_header_bytes--;
    assert_int_equal(h1_parse_response(RAW(ok_resp), &l, false, &r), -502);
    assert_int_equal(h1_parse_response(ok_resp, l.max_header_bytes + 1, &l, false, &r), -502);
    assert_int_equal(h1_parse_response(ok_resp, l.max_header_bytes, &l, false, &r), H1_AGAIN);
    l = lim;
    l.max_headers = 2;
    assert_int_equal(h1_parse_response(RAW(ok_resp), &l, false, &r), -502);
    assert_non_null(r.error);
}

#define ENTRY(name, raw) cmocka_unit_test(name),

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ok_with_length),
        cmocka_unit_test(every_split),
        cmocka_unit_test(status_line_variants),
        cmocka_unit_test(framing_no_body),
        cmocka_unit_test(framing_head_request),
        cmocka_unit_test(framing_chunked),
        cmocka_unit_test(framing_eof),
        cmocka_unit_test(framing_length_duplicates),
        cmocka_unit_test(limits),
        VECTORS(ENTRY)
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_h1_reject.c — every request h1_parse_request must refuse, one named test per vector.
 *
 * Each vector is parsed from a buffer of exactly its length (ASan catches over-reads) and must
 * give the listed status with a reason set; no prefix of it may parse as a complete head. */

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
    .max_body = 1000000,
};

static int parse_exact(const char *buf, size_t len, struct h1_request *req)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    int rc = h1_parse_request(copy, len, &lim, req);
    free(copy);
    return rc;
}

static void check_reject(const char *raw, size_t len, int status)
{
    struct h1_request *req = malloc(sizeof *req);
    assert_non_null(req);
    int rc = parse_exact(raw, len, req);
    if (rc != status)
        fail_msg("got %d (%s), want %d", rc, req->error ? req->error : "no error", status);
    assert_non_null(req->error);
    print_message("    %d: %s\n", rc, req->error);
    for (size_t k = 0; k < len; k++) {
        rc = parse_exact(raw, k, req);
        if (rc > 0)
            fail_msg("prefix of %zu bytes parsed as a complete head", k);
    }
    free(req);
}

/* Prefixes that make the vectors below short. */
#define GET11 "GET / HTTP/1.1\r\n"
#define POST11 "POST / HTTP/1.1\r\nHost: a\r\n"
#define END "\r\n"

#define VECTORS(X)                                                                                \
    /* framing: Content-Length (RFC 9112 §6.2, §6.3; RFC 9110 §8.6) */                            \
    X(cl_with_te, -400, POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n" END)         \
    X(te_with_cl, -400, POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n" END)         \
    X(cl_duplicate_identical, -400, POST11 "Content-Length: 5\r\nContent-Length: 5\r\n" END)      \
    X(cl_duplicate_different, -400, POST11 "Content-Length: 5\r\nContent-Length: 6\r\n" END)      \
    X(cl_comma_list, -400, POST11 "Content-Length: 5, 5\r\n" END)                                 \
    X(cl_plus_sign, -400, POST11 "Content-Length: +5\r\n" END)                                    \
    X(cl_minus_sign, -400, POST11 "Content-Length: -5\r\n" END)                                   \
    X(cl_inner_space, -400, POST11 "Content-Length: 1 2\r\n" END)                                 \
    X(cl_empty, -400, POST11 "Content-Length:\r\n" END)                                           \
    X(cl_hex, -400, POST11 "Content-Length: 0x5\r\n" END)                                         \
    X(cl_decimal_point, -400, POST11 "Content-Length: 5.0\r\n" END)                               \
    X(cl_trailing_letter, -400, POST11 "Content-Length: 5a\r\n" END)                              \
    X(cl_overflow_u64, -400, POST11 "Content-Length: 18446744073709551616\r\n" END)               \
    X(cl_over_2_62, -400, POST11 "Content-Length: 4611686018427387905\r\n" END)                   \
    X(cl_over_max_body, -413, POST11 "Content-Length: 1000001\r\n" END)                           \
    /* framing: Transfer-Encoding (RFC 9112 §6.1, §6.3, §7) */                                    \
    X(te_gzip_only, -400, POST11 "Transfer-Encoding: gzip\r\n" END)                               \
    X(te_chunked_then_gzip, -400, POST11 "Transfer-Encoding: chunked, gzip\r\n" END)              \
    X(te_identity_only, -400, POST11 "Transfer-Encoding: identity\r\n" END)                       \
    X(te_empty, -400, POST11 "Transfer-Encoding:\r\n" END)                                        \
    X(te_only_commas, -400, POST11 "Transfer-Encoding: , ,\r\n" END)                              \
    X(te_chunked_twice, -400, POST11 "Transfer-Encoding: chunked, chunked\r\n" END)               \
    X(te_chunked_twice_two_fields, -400,                                                          \
      POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n" END)                  \
    X(te_chunked_then_gzip_two_fields, -400,                                                      \
      POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n" END)                     \
    X(te_unknown, -501, POST11 "Transfer-Encoding: foo\r\n" END)                                  \
    X(te_unknown_before_chunked, -501, POST11 "Transfer-Encoding: br, chunked\r\n" END)           \
    X(te_unknown_xchunked, -501, POST11 "Transfer-Encoding: xchunked\r\n" END)                    \
    X(te_parameter, -400, POST11 "Transfer-Encoding: chunked;q=1\r\n" END)                        \
    X(te_inner_space, -400, POST11 "Transfer-Encoding: chunked x\r\n" END)                        \
    X(te_in_http10, -400,                                                                         \
      "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" END)                         \
    /* field lines (RFC 9112 §5.1, §5.2) */                                                       \
    X(space_before_colon, -400, GET11 "Host : a\r\n" END)                                         \
    X(tab_before_colon, -400, GET11 "Host\t: a\r\n" END)                                          \
    X(space_before_colon_cl, -400, POST11 "Content-Length : 5\r\n" END)                           \
    X(obs_fold, -400, GET11 "Host: a\r\nX-A: b\r\n c\r\n" END)                                    \
    X(obs_fold_tab, -400, GET11 "Host: a\r\nX-A: b\r\n\tc\r\n" END)                               \
    X(whitespace_after_start_line, -400, GET11 " Host: a\r\n" END)                                \
    X(empty_field_name, -400, GET11 "Host: a\r\n: v\r\n" END)                                     \
    X(field_name_paren, -400, GET11 "Host: a\r\nX(y): v\r\n" END)                                 \
    X(field_name_slash, -400, GET11 "Host: a\r\nX/y: v\r\n" END)                                  \
    X(field_name_at, -400, GET11 "Host: a\r\nX@y: v\r\n" END)                                     \
    X(field_name_utf8, -400, GET11 "Host: a\r\nX\xc3\xa9: v\r\n" END)                             \
    X(field_name_nul, -400, GET11 "Host: a\r\nX\0y: v\r\n" END)                                   \
    X(field_without_colon, -400, GET11 "Host: a\r\nNoColon\r\n" END)                              \
    X(value_nul, -400, GET11 "Host: a\r\nX: a\0b\r\n" END)                                        \
    X(value_ctl_01, -400, GET11 "Host: a\r\nX: a\x01"                                             \
                                "b\r\n" END)                                                      \
    X(value_vtab, -400, GET11 "Host: a\r\nX: a\vb\r\n" END)                                       \
    X(value_formfeed, -400, GET11 "Host: a\r\nX: a\fb\r\n" END)                                   \
    X(value_escape, -400, GET11 "Host: a\r\nX: a\x1b"                                             \
                                "b\r\n" END)                                                      \
    X(value_del, -400, GET11 "Host: a\r\nX: a\x7f"                                                \
                             "b\r\n" END)                                                         \
    X(value_long_ctl, -400, GET11 "Host: a\r\nX: 0123456789abcdef0123456789\x02tail\r\n" END)     \
    /* line endings (RFC 9112 §2.2) */                                                            \
    X(bare_lf_request_line, -400, "GET / HTTP/1.1\nHost: a\r\n" END)                              \
    X(bare_lf_header, -400, GET11 "Host: a\n" END)                                                \
    X(bare_lf_final_line, -400, GET11 "Host: a\r\n\n")                                            \
    X(bare_lf_all, -400, "GET / HTTP/1.1\nHost: a\n\n")                                           \
    X(bare_lf_leading, -400, "\nGET / HTTP/1.1\r\nHost: a\r\n" END)                               \
    X(bare_cr_request_line, -400, "GET / HTTP/1.1\rHost: a\r\n" END)                              \
    X(bare_cr_header_value, -400, GET11 "Host: a\rb\r\n" END)                                     \
    X(bare_cr_final_line, -400, GET11 "Host: a\r\n\rX")                                           \
    X(bare_cr_leading, -400, "\rGET / HTTP/1.1\r\nHost: a\r\n" END)                               \
    X(cr_cr_lf, -400, GET11 "Host: a\r\r\n" END)                                                  \
    X(too_many_leading_crlf, -400, "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n" END)       \
    /* request line (RFC 9112 §3) */                                                              \
    X(method_invalid_char, -400, "G(ET / HTTP/1.1\r\nHost: a\r\n" END)                            \
    X(method_ctl, -400, "GE\x01T / HTTP/1.1\r\nHost: a\r\n" END)                                  \
    X(method_empty, -400, " / HTTP/1.1\r\nHost: a\r\n" END)                                       \
    X(method_only, -400, "GET\r\nHost: a\r\n" END)                                                \
    X(two_spaces_after_method, -400, "GET  / HTTP/1.1\r\nHost: a\r\n" END)                        \
    X(two_spaces_before_version, -400, "GET /  HTTP/1.1\r\nHost: a\r\n" END)                      \
    X(tab_separator, -400, "GET\t/ HTTP/1.1\r\nHost: a\r\n" END)                                  \
    X(trailing_space_after_version, -400, "GET / HTTP/1.1 \r\nHost: a\r\n" END)                   \
    X(http09_request, -400, "GET /\r\n" END)                                                      \
    X(version_2_0, -400, "GET / HTTP/2.0\r\nHost: a\r\n" END)                                     \
    X(version_1_2, -400, "GET / HTTP/1.2\r\nHost: a\r\n" END)                                     \
    X(version_0_9, -400, "GET / HTTP/0.9\r\nHost: a\r\n" END)                                     \
    X(version_lowercase, -400, "GET / http/1.1\r\nHost: a\r\n" END)                               \
    X(version_leading_zero, -400, "GET / HTTP/01.1\r\nHost: a\r\n" END)                           \
    X(version_two_digit_minor, -400, "GET / HTTP/1.10\r\nHost: a\r\n" END)                        \
    X(version_no_minor, -400, "GET / HTTP/1\r\nHost: a\r\n" END)                                  \
    X(version_garbage, -400, "GET / XTTP/1.1\r\nHost: a\r\n" END)                                 \
    X(target_ctl, -400, "GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n" END)                             \
    X(target_del, -400, "GET /a\x7f" "b HTTP/1.1\r\nHost: a\r\n" END)                             \
    X(target_high_byte, -400, "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n" END)                     \
    X(target_nul, -400, "GET /a\0b HTTP/1.1\r\nHost: a\r\n" END)                                  \
    X(target_tab, -400, "GET /a\tb HTTP/1.1\r\nHost: a\r\n" END)                                  \
    X(target_inner_space, -400, "GET /a b HTTP/1.1\r\nHost: a\r\n" END)                           \
    X(target_long_high_byte, -400, "GET /0123456789abcdef\x80 HTTP/1.1\r\nHost: a\r\n" END)       \
    X(target_empty, -400, "GET  HTTP/1.1\r\nHost: a\r\n" END)                                     \
    X(target_relative, -400, "GET index.html HTTP/1.1\r\nHost: a\r\n" END)                        \
    X(target_asterisk_not_options, -400, "GET * HTTP/1.1\r\nHost: a\r\n" END)                     \
    X(target_absolute_empty_authority, -400, "GET http:///x HTTP/1.1\r\nHost: a\r\n" END)         \
    X(target_connect_origin_form, -400, "CONNECT / HTTP/1.1\r\nHost: a\r\n" END)                  \
    X(target_connect_no_port, -400, "CONNECT example.com HTTP/1.1\r\nHost: a\r\n" END)            \
    X(target_connect_userinfo, -400, "CONNECT u@example.com:443 HTTP/1.1\r\nHost: a\r\n" END)     \
    /* Host (RFC 9112 §3.2) */                                                                    \
    X(host_missing_http11, -400, GET11 "Accept: */*\r\n" END)                                     \
    X(host_missing_no_fields, -400, GET11 END)                                                    \
    X(host_twice, -400, GET11 "Host: a\r\nHost: a\r\n" END)                                       \
    X(host_twice_different, -400, GET11 "Host: a\r\nhost: b\r\n" END)                             \
    X(host_twice_http10, -400, "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n" END)                    \
    X(host_space, -400, GET11 "Host: a b\r\n" END)                                                \
    X(host_slash, -400, GET11 "Host: a/b\r\n" END)                                                \
    X(host_at, -400, GET11 "Host: user@a\r\n" END)                                                \
    X(host_tab, -400, GET11 "Host: a\tb\r\n" END)                                                 \
    X(host_ctl, -400, GET11 "Host: a\x01"                                                         \
                            "b\r\n" END)                                                          \
    X(host_high_byte, -400, GET11 "Host: caf\xc3\xa9\r\n" END)                                    \
    X(host_question, -400, GET11 "Host: a?b\r\n" END)

#define DEFINE(name, status, raw)                                                                 \
    static void name(void **state)                                                                \
    {                                                                                             \
        (void)state;                                                                              \
        check_reject(raw, sizeof(raw) - 1, status);                                               \
    }
VECTORS(DEFINE)

/* The method is known as soon as the request line names it, so the error reply to a HEAD
 * request can leave its body out. */
static void method_known_on_error(void **state)
{
    (void)state;
    static const char *const raw[] = {
        "HEAD /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
        "HEAD / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        struct h1_request req;
        assert_true(parse_exact(raw[i], strlen(raw[i]), &req) < 0);
        assert_int_equal(req.method_id, H1_M_HEAD);
    }
}

#define ENTRY(name, status, raw) cmocka_unit_test(name),

int main(void)
{
    const struct CMUnitTest tests[] = {VECTORS(ENTRY) cmocka_unit_test(method_known_on_error)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_h1_chunked.c — h1_chunked_feed: decoding, validate-only mode, every split of the input,
 * stopping exactly at the end of the message, limits, and one named test per malformed body. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/h1.h"

#define RAW(s) (s), (sizeof(s) - 1)

/* A body with extensions (token, quoted with an escaped quote), an uppercase size, trailers, and
 * the next pipelined request right behind it. */
static const char body[] = "4\r\nWiki\r\n"
                           "5;ext=1\r\npedia\r\n"
                           "E;a;b=\"q\\\"x\"\r\n in\r\n\r\nchunks.\r\n"
                           "0;last\r\n"
                           "X-Trailer: yes\r\n"
                           "X-Empty:\r\n"
                           "\r\n";
static const char next[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
static const char payload[] = "Wikipedia in\r\n\r\nchunks.";

#define BODY_LEN (sizeof(body) - 1)
#define PAYLOAD_LEN (sizeof(payload) - 1)

/* body + next in one writable buffer. */
static char *stream(size_t *len)
{
    *len = BODY_LEN + sizeof(next) - 1;
    char *s = malloc(*len);
    assert_non_null(s);
    memcpy(s, body, BODY_LEN);
    memcpy(s + BODY_LEN, next, sizeof(next) - 1);
    return s;
}

/* Feeds src[0..n) from a buffer of exactly n bytes; appends decoded bytes to out (if non-NULL). */
static ssize_t feed_piece(struct h1_chunked *c, const char *src, size_t n, char *out,
                          size_t *out_len)
{
    char *piece = malloc(n ? n : 1);
    assert_non_null(piece);
    memcpy(piece, src, n);
    size_t dec = 12345;
    ssize_t rc = h1_chunked_feed(c, piece, n, out ? &dec : NULL);
    if (out && rc >= 0) {
        assert_true(dec <= (size_t)rc);
        memcpy(out + *out_len, piece, dec);
        *out_len += dec;
    }
    free(piece);
    return rc;
}

static void decode_whole(void **state)
{
    (void)state;
    size_t len, dec;
    char *s = stream(&len);
    struct h1_chunked c;
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, s, len, &dec), (ssize_t)BODY_LEN);
    assert_true(c.done);
    assert_int_equal(dec, PAYLOAD_LEN);
    assert_memory_equal(s, payload, PAYLOAD_LEN);
    assert_memory_equal(s + BODY_LEN, next, sizeof(next) - 1); /* pipelined bytes untouched */
    /* Once done, nothing more is consumed. */
    assert_int_equal(h1_chunked_feed(&c, s + BODY_LEN, len - BODY_LEN, &dec), 0);
    assert_int_equal(dec, 0);
    free(s);
}

static void validate_whole(void **state)
{
    (void)state;
    size_t len;
    char *s = stream(&len);
    struct h1_chunked c;
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, s, len, NULL), (ssize_t)BODY_LEN);
    assert_true(c.done);
    assert_memory_equal(s, body, BODY_LEN); /* validate mode never writes */
    free(s);
}

static void zeroed_state_is_initial(void **state)
{
    (void)state;
    char b[] = "0\r\n\r\n";
    struct h1_chunked c = {0};
    assert_int_equal(h1_chunked_feed(&c, b, 5, NULL), 5);
    assert_true(c.done);
}

/* Splits the stream at k, feeds both halves, and checks the decoded bytes and counts. */
static void run_split(size_t k, bool decode)
{
    size_t len;
    char *s = stream(&len);
    char out[sizeof body];
    size_t out_len = 0;
    struct h1_chunked c;
    h1_chunked_init(&c);

    ssize_t a = feed_piece(&c, s, k, decode ? out : NULL, &out_len);
    if (k <= BODY_LEN) {
        assert_int_equal(a, (ssize_t)k); /* not done yet: everything is consumed */
        assert_int_equal(c.done, k == BODY_LEN);
    } else {
        assert_int_equal(a, (ssize_t)BODY_LEN);
        assert_true(c.done);
    }
    ssize_t b = feed_piece(&c, s + a, len - (size_t)a, decode ? out : NULL, &out_len);
    assert_int_equal(a + b, (ssize_t)BODY_LEN);
    assert_true(c.done);
    if (decode) {
        assert_int_equal(out_len, PAYLOAD_LEN);
        assert_memory_equal(out, payload, PAYLOAD_LEN);
    }
    free(s);
}

static void every_split_decode(void **state)
{
    (void)state;
    size_t len = BODY_LEN + sizeof(next) - 1;
    for (size_t k = 0; k <= len; k++)
        run_split(k, true);
}

static void every_split_validate(void **state)
{
    (void)state;
    size_t len = BODY_LEN + sizeof(next) - 1;
    for (size_t k = 0; k <= len; k++)
        run_split(k, false);
}

static void byte_by_byte(void **state)
{
    (void)state;
    for (int decode = 0; decode < 2; decode++) {
        char out[sizeof body];
        size_t out_len = 0, consumed = 0;
        struct h1_chunked c;
        h1_chunked_init(&c);
        size_t len;
        char *s = stream(&len);
        for (size_t i = 0; i < len; i++) {
            ssize_t rc = feed_piece(&c, s + i, 1, decode ? out : NULL, &out_len);
            assert_int_equal(rc, i < BODY_LEN ? 1 : 0);
            consumed += (size_t)rc;
            assert_int_equal(c.done, i + 1 >= BODY_LEN);
        }
        assert_int_equal(consumed, BODY_LEN);
        if (decode) {
            assert_int_equal(out_len, PAYLOAD_LEN);
            assert_memory_equal(out, payload, PAYLOAD_LEN);
        }
        free(s);
    }
}

static void hex_digits(void **state)
{
    (void)state;
    char b[] = "a\r\n0123456789\r\nA\r\n0123456789\r\n00\r\n\r\n";
    struct h1_chunked c;
    size_t dec;
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, b, sizeof b - 1, &dec), (ssize_t)sizeof b - 1);
    assert_true(c.done);
    assert_int_equal(dec, 20);
    assert_memory_equal(b, "01234567890123456789", 20);
}

static void largest_size(void **state)
{
    (void)state;
    char b[] = "FFFFFFFFFFFFFFF\r\nabc";
    struct h1_chunked c;
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, b, sizeof b - 1, NULL), (ssize_t)sizeof b - 1);
    assert_false(c.done);
    assert_int_equal(c.remaining, (UINT64_C(1) << 60) - 4);
}

static void empty_input(void **state)
{
    (void)state;
    struct h1_chunked c;
    size_t dec = 7;
    h1_chunked_init(&c);
    char b[1];
    assert_int_equal(h1_chunked_feed(&c, b, 0, &dec), 0);
    assert_int_equal(dec, 0);
    assert_false(c.done);
}

/* A trailer section of exactly `size` bytes (including its final CRLF). */
static ssize_t feed_trailer_of(size_t size)
{
    char *b = malloc(size + 3);
    assert_non_null(b);
    memcpy(b, "0\r\n", 3);
    size_t line = size - 2; /* "X: aaaa...\r\n" then "\r\n" */
    memcpy(b + 3, "X: ", 3);
    memset(b + 6, 'a', line - 5);
    memcpy(b + 3 + line - 2, "\r\n\r\n", 4);
    struct h1_chunked c;
    h1_chunked_init(&c);
    ssize_t rc = h1_chunked_feed(&c, b, size + 3, NULL);
    if (rc >= 0)
        assert_true(c.done);
    free(b);
    return rc;
}

static void trailer_limit(void **state)
{
    (void)state;
    assert_int_equal(feed_trailer_of(16384), 16384 + 3);
    assert_int_equal(feed_trailer_of(16385), -400);
}

static void size_line_limit(void **state)
{
    (void)state;
    char b[5000];
    for (size_t total = 4095; total <= 4097; total++) {
        /* "1;x=aaa...\r\n": the line including its CRLF is `total` bytes */
        memcpy(b, "1;x=", 4);
        memset(b + 4, 'a', total - 6);
        memcpy(b + total - 2, "\r\n", 2);
        struct h1_chunked c;
        h1_chunked_init(&c);
        ssize_t rc = h1_chunked_feed(&c, b, total, NULL);
        assert_int_equal(rc, total <= 4096 ? (ssize_t)total : -400);
    }
}

static void error_is_sticky(void **state)
{
    (void)state;
    char bad[] = "5 \r\n";
    char good[] = "0\r\n\r\n";
    struct h1_chunked c;
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, bad, 4, NULL), -400);
    assert_int_equal(h1_chunked_feed(&c, good, 5, NULL), -400);
    assert_false(c.done);
}

/* ---- malformed bodies: one named test each, all -400 ------------------------------------- */

#define VECTORS(X)                                                                                \
    X(c_no_digits, "\r\nhello\r\n0\r\n\r\n")                                                      \
    X(c_bad_hex, "g\r\n")                                                                         \
    X(c_0x_prefix, "0x5\r\nhello\r\n0\r\n\r\n")                                                   \
    X(c_plus_sign, "+5\r\nhello\r\n0\r\n\r\n")                                                    \
    X(c_minus_sign, "-5\r\nhello\r\n0\r\n\r\n")                                                   \
    X(c_space_before_size, " 5\r\nhello\r\n0\r\n\r\n")                                            \
    X(c_space_after_size, "5 \r\nhello\r\n0\r\n\r\n")                                             \
    X(c_tab_after_size, "5\t\r\nhello\r\n0\r\n\r\n")                                              \
    X(c_16_digits, "0000000000000005\r\nhello\r\n0\r\n\r\n")                                      \
    X(c_overflow, "10000000000000000\r\nhello\r\n0\r\n\r\n")                                      \
    X(c_bare_lf_size, "5\nhello\r\n0\r\n\r\n")                                                    \
    X(c_bare_cr_size, "5\rhello\r\n0\r\n\r\n")                                                    \
    X(c_data_too_long, "3\r\nhello\r\n0\r\n\r\n")                                                 \
    X(c_data_no_crlf, "5\r\nhello0\r\n\r\n")                                                      \
    X(c_data_bare_lf, "5\r\nhello\n0\r\n\r\n")                                                    \
    X(c_data_bare_cr, "5\r\nhello\r0\r\n\r\n")                                                    \
    X(c_ext_space_before_semicolon, "5 ;a\r\nhello\r\n0\r\n\r\n")                                 \
    X(c_ext_space_after_semicolon, "5; a\r\nhello\r\n0\r\n\r\n")                                  \
    X(c_ext_space_around_equals, "5;a = b\r\nhello\r\n0\r\n\r\n")                                 \
    X(c_ext_empty_name, "5;\r\nhello\r\n0\r\n\r\n")                                               \
    X(c_ext_no_name, "5;=b\r\nhello\r\n0\r\n\r\n")                                                \
    X(c_ext_empty_value, "5;a=\r\nhello\r\n0\r\n\r\n")                                            \
    X(c_ext_ctl_in_name, "5;a\x01"                                                                \
                         "b\r\nhello\r\n0\r\n\r\n")                                               \
    X(c_ext_ctl_in_quoted, "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n")                                 \
    X(c_ext_del_in_quoted, "5;a=\"x\x7f\"\r\nhello\r\n0\r\n\r\n")                                 \
    X(c_ext_unterminated_quote, "5;a=\"x\r\nhello\r\n0\r\n\r\n")                                  \
    X(c_ext_after_quote, "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n")                                      \
    X(c_ext_value_space, "5;a=b c\r\nhello\r\n0\r\n\r\n")                                         \
    X(c_ext_bare_lf, "5;a=b\nhello\r\n0\r\n\r\n")                                                 \
    X(c_last_chunk_bare_lf, "0\n\r\n")                                                            \
    X(c_final_bare_lf, "0\r\n\n")                                                                 \
    X(c_final_bare_cr, "0\r\n\rX")                                                                \
    X(c_trailer_obs_fold, "0\r\nX: a\r\n b\r\n\r\n")                                              \
    X(c_trailer_space_before_colon, "0\r\nX : a\r\n\r\n")                                         \
    X(c_trailer_no_colon, "0\r\nX\r\n\r\n")                                                       \
    X(c_trailer_empty_name, "0\r\n: a\r\n\r\n")                                                   \
    X(c_trailer_bad_name, "0\r\nX/Y: a\r\n\r\n")                                                  \
    X(c_trailer_ctl, "0\r\nX: a\x01\r\n\r\n")                                                     \
    X(c_trailer_nul, "0\r\nX: a\0\r\n\r\n")                                                       \
    X(c_trailer_bare_lf, "0\r\nX: a\n\r\n")                                                       \
    X(c_trailer_bare_cr, "0\r\nX: a\rb\r\n\r\n")

static void check_reject(const char *raw, size_t len)
{
    size_t dec;
    struct h1_chunked c;
    char *b = malloc(len);
    assert_non_null(b);
    /* Whole, in decode mode. */
    memcpy(b, raw, len);
    h1_chunked_init(&c);
    assert_int_equal(h1_chunked_feed(&c, b, len, &dec), -400);
    assert_false(c.done);
    /* Byte by byte, in validate mode: an error at some byte, never success. */
    h1_chunked_init(&c);
    ssize_t rc = 0;
    for (size_t i = 0; i < len && rc >= 0; i++)
        rc = h1_chunked_feed(&c, b + i, 1, NULL);
    assert_int_equal(rc, -400);
    assert_false(c.done);
    free(b);
}

#define DEFINE(name, raw)                                                                         \
    static void name(void **state)                                                                \
    {                                                                                             \
        (void)state;                                                                              \
        check_reject(raw, sizeof(raw) - 1);                                                       \
    }
VECTORS(DEFINE)

#define ENTRY(name, raw) cmocka_unit_test(name),

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_whole),
        cmocka_unit_test(validate_whole),
        cmocka_unit_test(zeroed_state_is_initial),
        cmocka_unit_test(every_split_decode),
        cmocka_unit_test(every_split_validate),
        cmocka_unit_test(byte_by_byte),
        cmocka_unit_test(hex_digits),
        cmocka_unit_test(largest_size),
        cmocka_unit_test(empty_input),
        cmocka_unit_test(trailer_limit),
        cmocka_unit_test(size_line_limit),
        cmocka_unit_test(error_is_sticky),
        VECTORS(ENTRY)
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

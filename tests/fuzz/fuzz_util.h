/* fuzz_util.h — invariant checks shared by the h1 fuzz drivers (test code, not part of weir).
 *
 * Every check aborts on failure so libFuzzer records the input as a crash. Buffers handed to
 * the parser are exact-size heap copies, so ASan flags any read past the end. */
#ifndef WEIR_FUZZ_UTIL_H
#define WEIR_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond))                                                                              \
            abort();                                                                              \
    } while (0)

static inline char *fuzz_dup(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    CHECK(c != NULL);
    if (n)
        memcpy(c, p, n);
    return c;
}

/* The slice lies inside base[0..n) (an empty slice may point anywhere). */
static inline bool fuzz_slice_in(struct str s, const char *base, size_t n)
{
    if (s.len == 0)
        return true;
    return s.ptr >= base && s.len <= n && (size_t)(s.ptr - base) <= n - s.len;
}

/* Same position and length relative to two different buffers. */
static inline bool fuzz_slice_same(struct str a, const char *ba, struct str b, const char *bb)
{
    return a.len == b.len && (a.len == 0 || a.ptr - ba == b.ptr - bb);
}

/* A complete head contains CR only as part of CRLF and LF only after CR, ends in CRLF CRLF. */
static inline void fuzz_check_crlf(const char *p, size_t n)
{
    CHECK(n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r')
            CHECK(i + 1 < n && p[i + 1] == '\n');
        if (p[i] == '\n')
            CHECK(i > 0 && p[i - 1] == '\r');
        CHECK(p[i] != '\0');
    }
}

static inline void fuzz_check_header(const struct h1_header *h, const char *base, size_t n)
{
    CHECK(h->name.len > 0);
    CHECK(fuzz_slice_in(h->name, base, n) && fuzz_slice_in(h->value, base, n));
    if (h->value.len) {
        char first = h->value.ptr[0], last = h->value.ptr[h->value.len - 1];
        CHECK(first != ' ' && first != '\t' && last != ' ' && last != '\t');
        CHECK(memchr(h->value.ptr, '\r', h->value.len) == NULL);
        CHECK(memchr(h->value.ptr, '\n', h->value.len) == NULL);
    }
}

/* Runs the chunked codec over body[0..n) in validate mode, decode mode, split in two at `split`,
 * and one byte at a time; all must agree on the outcome, the count and the decoded bytes. */
static inline void fuzz_chunked(const char *body, size_t n, size_t split)
{
    struct h1_chunked c;
    char *a = fuzz_dup(body, n);
    char *b = fuzz_dup(body, n);
    char *out = malloc(n ? n : 1);
    CHECK(out != NULL);

    /* validate mode: consumes everything unless done, never writes */
    h1_chunked_init(&c);
    ssize_t v = h1_chunked_feed(&c, a, n, NULL);
    CHECK(v == -400 || (v >= 0 && (size_t)v <= n));
    CHECK(v < 0 || (size_t)v == n || c.done);
    CHECK(n == 0 || memcmp(a, body, n) == 0);
    bool v_done = v >= 0 && c.done;

    /* decode mode, whole */
    size_t dec = 0;
    h1_chunked_init(&c);
    ssize_t d = h1_chunked_feed(&c, b, n, &dec);
    CHECK(d == v && (d < 0 || c.done == v_done));
    CHECK(d < 0 ? dec == 0 : dec <= (size_t)d);

    /* decode mode, two pieces */
    if (split > n)
        split = n;
    size_t out_len = 0;
    h1_chunked_init(&c);
    char *p1 = fuzz_dup(body, split);
    size_t dec1 = 0;
    ssize_t x = h1_chunked_feed(&c, p1, split, &dec1);
    if (x < 0) {
        CHECK(v < 0);
    } else {
        CHECK((size_t)x == split || c.done);
        memcpy(out, p1, dec1);
        out_len = dec1;
        char *p2 = fuzz_dup(body + x, n - (size_t)x);
        size_t dec2 = 0;
        ssize_t y = h1_chunked_feed(&c, p2, n - (size_t)x, &dec2);
        if (y < 0) {
            CHECK(v < 0);
        } else {
            CHECK(v == x + y && c.done == v_done);
            memcpy(out + out_len, p2, dec2);
            out_len += dec2;
            CHECK(out_len == dec && (dec == 0 || memcmp(out, b, dec) == 0));
        }
        free(p2);
    }
    free(p1);

    /* one byte at a time, validate mode */
    h1_chunked_init(&c);
    ssize_t total = 0, r = 0;
    for (size_t i = 0; i < n && !c.done; i++) {
        char byte = body[i];
        r = h1_chunked_feed(&c, &byte, 1, NULL);
        if (r < 0)
            break;
        CHECK(r == 1);
        total += r;
    }
    if (r < 0)
        CHECK(v < 0);
    else
        CHECK(v == total && c.done == v_done);

    free(a);
    free(b);
    free(out);
}

#endif

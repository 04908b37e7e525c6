/* fuzz_h1_request.c — libFuzzer driver for h1_parse_request (and the chunked codec behind it).
 *
 * Each input is parsed under generous and under tight limits. Checked: the return value is one
 * of the documented ones; a complete head is well-formed (slices inside it, CRLF only, framing
 * consistent with the flags); re-parsing exactly the head gives the same result; its strict
 * prefixes give H1_AGAIN. The bytes after the head go through h1_chunked_feed in every mode. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct h1_limits wide = {
    .max_request_line = 8192, .max_header_bytes = 65536, .max_headers = 128, .max_body = 0};
static const struct h1_limits tight = {
    .max_request_line = 40, .max_header_bytes = 200, .max_headers = 6, .max_body = 1000};

static void check_complete(const struct h1_request *r, int rc, const char *buf,
                           const struct h1_limits *lim)
{
    size_t n = (size_t)rc;
    CHECK(n <= lim->max_header_bytes);
    fuzz_check_crlf(buf, n);
    CHECK(r->error == NULL);
    CHECK(r->method.len > 0 && fuzz_slice_in(r->method, buf, n));
    CHECK(r->target.len > 0 && fuzz_slice_in(r->target, buf, n));
    CHECK(r->method.len + r->target.len + 10 <= lim->max_request_line);
    for (size_t i = 0; i < r->target.len; i++)
        CHECK(r->target.ptr[i] > 0x20 && r->target.ptr[i] < 0x7f);
    CHECK(r->minor <= 1);
    CHECK(r->nheaders <= lim->max_headers && r->nheaders <= H1_MAX_HEADERS);
    for (uint32_t i = 0; i < r->nheaders; i++)
        fuzz_check_header(&r->headers[i], buf, n);
    CHECK(fuzz_slice_in(r->host, buf, n));
    if (r->minor == 1)
        CHECK(h1_find_header(r->headers, r->nheaders, STR_LIT("host")) >= 0);

    switch (r->framing) {
    case H1_FRAME_NONE:
        CHECK(!(r->flags & (H1F_HAS_CL | H1F_HAS_TE)));
        break;
    case H1_FRAME_LENGTH:
        CHECK((r->flags & H1F_HAS_CL) && !(r->flags & H1F_HAS_TE));
        CHECK(r->content_length <= (UINT64_C(1) << 62));
        CHECK(lim->max_body == 0 || r->content_length <= lim->max_body);
        break;
    case H1_FRAME_CHUNKED:
        CHECK((r->flags & H1F_HAS_TE) && !(r->flags & H1F_HAS_CL) && r->minor == 1);
        break;
    default:
        abort();
    }
}

static void check_same(const struct h1_request *a, const char *ba, const struct h1_request *b,
                       const char *bb)
{
    CHECK(fuzz_slice_same(a->method, ba, b->method, bb));
    CHECK(fuzz_slice_same(a->target, ba, b->target, bb));
    CHECK(fuzz_slice_same(a->host, ba, b->host, bb));
    CHECK(a->method_id == b->method_id && a->minor == b->minor && a->flags == b->flags);
    CHECK(a->framing == b->framing && a->content_length == b->content_length);
    CHECK(a->nheaders == b->nheaders);
    for (uint32_t i = 0; i < a->nheaders; i++) {
        CHECK(fuzz_slice_same(a->headers[i].name, ba, b->headers[i].name, bb));
        CHECK(fuzz_slice_same(a->headers[i].value, ba, b->headers[i].value, bb));
    }
}

static void one(const uint8_t *data, size_t size, const struct h1_limits *lim,
                struct h1_request *r, struct h1_request *r2)
{
    char *buf = fuzz_dup(data, size);
    int rc = h1_parse_request(buf, size, lim, r);
    CHECK(rc >= 0 || rc == -400 || rc == -413 || rc == -414 || rc == -431 || rc == -501);
    CHECK(rc >= 0 || r->error != NULL);
    CHECK(rc <= 0 || (size_t)rc <= size);

    if (rc > 0) {
        check_complete(r, rc, buf, lim);
        /* The head alone parses the same; its strict prefixes are incomplete. */
        char *head = fuzz_dup(data, (size_t)rc);
        CHECK(h1_parse_request(head, (size_t)rc, lim, r2) == rc);
        check_same(r, buf, r2, head);
        free(head);
        size_t cuts[2] = {(size_t)rc - 1, (size_t)rc / 2};
        for (int i = 0; i < 2; i++) {
            char *pre = fuzz_dup(data, cuts[i]);
            CHECK(h1_parse_request(pre, cuts[i], lim, r2) == H1_AGAIN);
            free(pre);
        }
        size_t rest = size - (size_t)rc;
        fuzz_chunked(buf + rc, rest, rest ? data[size - 1] % (rest + 1) : 0);
    } else if (rc == H1_AGAIN && size > 0) {
        char *pre = fuzz_dup(data, size / 2);
        CHECK(h1_parse_request(pre, size / 2, lim, r2) == H1_AGAIN);
        free(pre);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct h1_request r, r2; /* large: kept off the stack; the driver is single-threaded */
    one(data, size, &wide, &r, &r2);
    one(data, size, &tight, &r, &r2);
    return 0;
}

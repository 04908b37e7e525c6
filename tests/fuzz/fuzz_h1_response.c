/* fuzz_h1_response.c — libFuzzer driver for h1_parse_response (and the chunked codec behind it).
 *
 * Each input is parsed as the answer to a GET and to a HEAD, under generous and tight limits.
 * Checked: every error is -502; a complete head is well-formed and its framing follows RFC 9112
 * §6.3; re-parsing exactly the head gives the same result; its strict prefixes give H1_AGAIN.
 * The bytes after the head go through h1_chunked_feed in every mode. */

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

static void check_complete(const struct h1_response *r, int rc, const char *buf,
                           const struct h1_limits *lim, bool head)
{
    size_t n = (size_t)rc;
    CHECK(n <= lim->max_header_bytes);
    fuzz_check_crlf(buf, n);
    CHECK(r->error == NULL);
    CHECK(r->minor <= 1 && r->status >= 100 && r->status <= 599);
    CHECK(fuzz_slice_in(r->reason, buf, n));
    CHECK(r->nheaders <= lim->max_headers && r->nheaders <= H1_MAX_HEADERS);
    for (uint32_t i = 0; i < r->nheaders; i++)
        fuzz_check_header(&r->headers[i], buf, n);

    bool no_body = head || r->status < 200 || r->status == 204 || r->status == 304;
    switch (r->framing) {
    case H1_FRAME_NONE:
        CHECK(no_body);
        break;
    case H1_FRAME_LENGTH:
        CHECK(!no_body && (r->flags & H1F_HAS_CL) && !(r->flags & H1F_HAS_TE));
        CHECK(r->content_length <= (UINT64_C(1) << 62));
        break;
    case H1_FRAME_CHUNKED:
        CHECK(!no_body && (r->flags & H1F_HAS_TE) && !(r->flags & H1F_HAS_CL) && r->minor == 1);
        break;
    case H1_FRAME_EOF:
        CHECK(!no_body && !(r->flags & H1F_HAS_CL));
        break;
    default:
        abort();
    }
}

static void check_same(const struct h1_response *a, const char *ba, const struct h1_response *b,
                       const char *bb)
{
    CHECK(a->minor == b->minor && a->status == b->status && a->flags == b->flags);
    CHECK(fuzz_slice_same(a->reason, ba, b->reason, bb));
    CHECK(a->framing == b->framing && a->content_length == b->content_length);
    CHECK(a->nheaders == b->nheaders);
    for (uint32_t i = 0; i < a->nheaders; i++) {
        CHECK(fuzz_slice_same(a->headers[i].name, ba, b->headers[i].name, bb));
        CHECK(fuzz_slice_same(a->headers[i].value, ba, b->headers[i].value, bb));
    }
}

static void one(const uint8_t *data, size_t size, const struct h1_limits *lim, bool head,
                struct h1_response *r, struct h1_response *r2)
{
    char *buf = fuzz_dup(data, size);
    int rc = h1_parse_response(buf, size, lim, head, r);
    CHECK(rc >= 0 || (rc == -502 && r->error != NULL));
    CHECK(rc <= 0 || (size_t)rc <= size);

    if (rc > 0) {
        check_complete(r, rc, buf, lim, head);
        char *hd = fuzz_dup(data, (size_t)rc);
        CHECK(h1_parse_response(hd, (size_t)rc, lim, head, r2) == rc);
        check_same(r, buf, r2, hd);
        free(hd);
        size_t cuts[2] = {(size_t)rc - 1, (size_t)rc / 2};
        for (int i = 0; i < 2; i++) {
            char *pre = fuzz_dup(data, cuts[i]);
            CHECK(h1_parse_response(pre, cuts[i], lim, head, r2) == H1_AGAIN);
            free(pre);
        }
        if (!head) {
            size_t rest = size - (size_t)rc;
            fuzz_chunked(buf + rc, rest, rest ? data[size - 1] % (rest + 1) : 0);
        }
    } else if (rc == H1_AGAIN && size > 0) {
        char *pre = fuzz_dup(data, size / 2);
        CHECK(h1_parse_response(pre, size / 2, lim, head, r2) == H1_AGAIN);
        free(pre);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct h1_response r, r2; /* large: kept off the stack; the driver is single-threaded */
    one(data, size, &wide, false, &r, &r2);
    one(data, size, &wide, true, &r, &r2);
    one(data, size, &tight, false, &r, &r2);
    return 0;
}

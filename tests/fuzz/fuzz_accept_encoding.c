/* fuzz_accept_encoding.c — libFuzzer driver for the Accept-Encoding parser and negotiation, and
 * the compress policy's value parsers (media type, Vary, ETag, Content-Encoding lists).
 *
 * Input: byte 0 picks the server's preference list (which of gzip/br/zstd, in which order);
 * the rest, split at '\n', is up to 8 Accept-Encoding field values. Checked: every element the
 * iterator yields is a non-empty token inside the input with q in 0..1000; the single-pass
 * negotiation agrees with the rules restated through accept_encoding_q (highest q wins, ties
 * to the earlier preference, identity only on a strictly higher q, NONE only when identity is
 * excluded and nothing has q > 0); the same bytes as one value give the same answer as the
 * joined list when they hold no '\n'. The policy helpers run on the same bytes and must
 * return slices inside the input or the scratch buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "modules/compress/accept_encoding.h"
#include "modules/compress/compress_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct str all_prefs[] = {STR_LIT("gzip"), STR_LIT("br"), STR_LIT("zstd")};

static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_items(const struct str *v, size_t n, const char *buf, size_t len)
{
    struct accept_encoding_iter it;
    struct accept_encoding_item item;
    accept_encoding_iter_init(&it, v, n);
    size_t count = 0;
    while (accept_encoding_next(&it, &item)) {
        CHECK(item.coding.len > 0 && fuzz_slice_in(item.coding, buf, len));
        for (size_t i = 0; i < item.coding.len; i++)
            CHECK(tchar((unsigned char)item.coding.ptr[i]));
        CHECK(item.q >= 0 && item.q <= ACCEPT_ENCODING_Q_MAX);
        CHECK(++count <= len);
    }
}

/* The negotiation's contract, restated with accept_encoding_q. */
static void check_negotiation(const struct str *v, size_t n, const struct str *prefs, size_t np)
{
    int got = accept_encoding_negotiate(v, n, prefs, np);
    CHECK(got >= ACCEPT_ENCODING_NONE && got < (int)np);
    if (n == 0) {
        CHECK(got == ACCEPT_ENCODING_IDENTITY);
        return;
    }
    int q[3];
    int best = -1, best_q = 0;
    for (size_t i = 0; i < np; i++) {
        q[i] = accept_encoding_q(v, n, prefs[i]);
        CHECK(q[i] >= -1 && q[i] <= ACCEPT_ENCODING_Q_MAX);
        if (q[i] > best_q) {
            best = (int)i;
            best_q = q[i];
        }
    }
    int ident = accept_encoding_q(v, n, STR_LIT("identity"));
    if (best >= 0 && best_q >= ident)
        CHECK(got == best);
    else if (ident != 0)
        CHECK(got == ACCEPT_ENCODING_IDENTITY);
    else
        CHECK(got == ACCEPT_ENCODING_NONE);
}

static void check_policy_helpers(const char *buf, size_t len)
{
    struct str s = str_from(buf, len);
    struct compress_config cfg;
    compress_config_defaults(&cfg);
    (void)compress_policy_type_allowed(&cfg, s);
    (void)compress_policy_vary_covers(s);
    char scratch[64];
    struct str w = compress_policy_weak_etag(s, scratch, sizeof(scratch));
    CHECK(w.ptr == NULL || fuzz_slice_in(w, buf, len) ||
          fuzz_slice_in(w, scratch, sizeof(scratch)));

    /* The same bytes as every header of a response head, then the edits. */
    static const char *const names[] = {"Content-Type", "Content-Encoding", "Cache-Control",
                                        "Content-Length", "ETag", "Vary", "Accept-Ranges"};
    struct compress_header hv[16];
    for (size_t i = 0; i < 7; i++)
        hv[i] = (struct compress_header){.name = str_cstr(names[i]), .value = s};
    struct compress_facts f;
    compress_policy_facts(&f, STR_LIT("GET"), 200, hv, 7);
    CHECK(fuzz_slice_in(f.content_type, buf, len));
    CHECK(fuzz_slice_in(f.content_encoding, buf, len));
    (void)compress_policy_decide(&cfg, &f);
    (void)compress_policy_decoder(&cfg, &f, &s, 1);
    char big[2 * 4096 + 64];
    struct compress_headers h = {.v = hv, .n = 7, .cap = 16, .scratch = big,
                                 .scratch_cap = len > 4096 ? 0 : sizeof(big)};
    if (compress_policy_encode_headers(&h, STR_LIT("br")) == 0) {
        CHECK(h.n <= h.cap && h.scratch_used <= h.scratch_cap);
        for (size_t i = 0; i < h.n; i++)
            CHECK(!str_eq_nocase(hv[i].name, STR_LIT("content-length")));
    } else {
        CHECK(h.n == 7 && h.scratch_used == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* byte 0: how many preferences (1..3) and their order (one of 6) */
    static const unsigned char perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                              {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    size_t np = 1 + (data[0] & 3) % 3;
    const unsigned char *perm = perms[(data[0] >> 2) % 6];
    struct str prefs[3];
    for (size_t i = 0; i < np; i++)
        prefs[i] = all_prefs[perm[i]];

    char *buf = fuzz_dup(data + 1, size - 1);
    size_t len = size - 1;
    struct str v[8];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len && n < 8; i++) {
        if (i == len || buf[i] == '\n') {
            v[n++] = str_from(buf + start, i - start);
            start = i + 1;
        }
    }
    check_items(v, n, buf, len);
    check_negotiation(v, n, prefs, np);
    check_negotiation(v, 0, prefs, np);
    if (n == 1) { /* no '\n': the one value, also as the first of two with an empty second */
        struct str two[2] = {v[0], STR_NULL};
        CHECK(accept_encoding_negotiate(two, 2, prefs, np) ==
              accept_encoding_negotiate(v, 1, prefs, np));
    }
    check_policy_helpers(buf, len);
    free(buf);
    return 0;
}

/* fuzz_decode.c — libFuzzer driver for the streaming decoders (gzip, br, zstd), the path that
 * decodes upstream bodies for clients that do not accept their coding.
 *
 * Input: byte 0 picks the codec (% 3) and, with byte 1, the input piece and output buffer
 * sizes of a second pass; the rest is the coded stream. Each input is decoded twice, with
 * different chunking, under a 1 MiB memory cap and with output capped at 1 MiB per run (a
 * decompression bomb just stops there). Checked: every call stays inside its buffers and
 * returns a documented status, makes progress or asks for more, and never exceeds the cap;
 * both runs agree on whether the stream ended, where, and on the bytes (one run's output is a
 * prefix of the other's when they stop early for different reasons).
 *
 * The coding libraries are Debian's shared builds, not instrumented, so libFuzzer sees only
 * weir's wrapper for coverage: this checks the contract and memory/output bounds around the
 * libraries more than it explores them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "modules/compress/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_CAP ((size_t)1 << 20)
#define OUT_CAP ((size_t)1 << 20)

struct run {
    enum compress_status last;
    size_t in_used;
    size_t out_len;
    unsigned char *out; /* first OUT_CAP bytes of the output */
};

static void decode(const struct compress_codec_ops *ops, const unsigned char *in, size_t n,
                   size_t piece, size_t outsz, struct run *r)
{
    struct compress_ctx *d = ops->dec_create(MEM_CAP);
    CHECK(d != NULL);
    unsigned char *buf = malloc(outsz);
    CHECK(buf != NULL);
    *r = (struct run){.last = COMPRESS_OK, .out = malloc(OUT_CAP)};
    CHECK(r->out != NULL);
    size_t off = 0;
    while (r->last == COMPRESS_OK && off < n && r->out_len < OUT_CAP) {
        size_t len = n - off < piece ? n - off : piece;
        char *copy = fuzz_dup(in + off, len); /* exact size: ASan sees any overread */
        struct compress_io io = {.in = (unsigned char *)copy, .in_len = len, .out = buf,
                                 .out_cap = outsz};
        do {
            size_t before_in = io.in_used;
            io.out_len = 0;
            r->last = ops->decode(d, &io);
            CHECK(r->last >= COMPRESS_OK && r->last <= COMPRESS_ERROR);
            CHECK(io.in_used <= io.in_len && io.out_len <= io.out_cap);
            CHECK(d->mem_peak <= MEM_CAP && d->mem_used <= d->mem_peak);
            /* MORE must mean progress, or a full output buffer to drain */
            if (r->last == COMPRESS_MORE)
                CHECK(io.out_len > 0 || io.in_used > before_in || io.out_len == io.out_cap);
            if (r->last == COMPRESS_OK)
                CHECK(io.in_used == io.in_len);
            size_t keep = io.out_len < OUT_CAP - r->out_len ? io.out_len : OUT_CAP - r->out_len;
            memcpy(r->out + r->out_len, buf, keep);
            r->out_len += keep;
        } while (r->last == COMPRESS_MORE && r->out_len < OUT_CAP);
        off += io.in_used;
        free(copy);
    }
    r->in_used = off;
    ops->destroy(d);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const struct compress_codec_ops *const codecs[] = {
        &compress_codec_gzip, &compress_codec_br, &compress_codec_zstd};
    const struct compress_codec_ops *ops = codecs[data[0] % 3];
    size_t piece = 1 + (size_t)(data[0] >> 2) * 7 + data[1] % 13;
    size_t outsz = 1 + (size_t)data[1] * 3;
    const unsigned char *in = data + 2;
    size_t n = size - 2;

    struct run a, b;
    decode(ops, in, n, n ? n : 1, 65536, &a);
    decode(ops, in, n, piece, outsz, &b);
    bool a_full = a.out_len == OUT_CAP, b_full = b.out_len == OUT_CAP;
    if (a.last == COMPRESS_END && b.last == COMPRESS_END) {
        CHECK(a.in_used == b.in_used && a.out_len == b.out_len);
        CHECK(memcmp(a.out, b.out, a.out_len) == 0);
    } else if (!a_full && !b_full) {
        /* at least one did not end: neither may claim an end the other disagrees on, unless
         * it ran into an error first */
        CHECK(!(a.last == COMPRESS_END && b.last == COMPRESS_OK));
        CHECK(!(b.last == COMPRESS_END && a.last == COMPRESS_OK));
    }
    size_t common = a.out_len < b.out_len ? a.out_len : b.out_len;
    CHECK(memcmp(a.out, b.out, common) == 0);
    free(a.out);
    free(b.out);
    return 0;
}

/* codec_br.c — the br content coding (RFC 7932) with libbrotli's streaming API.
 *
 * Encoder: quality = level (0–11), lgwin 16 (a 64 KiB window, twice gzip's), lgblock 16.
 * The window sets most of the memory: brotli's metablocks grow to 2^(1 + lgwin) bytes and its
 * command buffer with them (at most max_metablock/8 commands are held), and qualities 5–9 use
 * the small H40–H42 hashers only up to lgwin 16. With lgwin 18 the measured worst cases were
 * 5.1 MiB at quality 4 and 36 MiB at 9; on the bench corpora lgwin 16 and 18 give the same
 * ratio within 0.1% (bench/RESULTS.md).
 *
 * libbrotli's encoder exits the process when an allocation fails (its default
 * BROTLI_ENCODER_EXIT_ON_OOM build), so its allocations are counted but never refused, and the
 * bound below is partly empirical:
 * - qualities 0–1 (the "fast" paths) by design: per call a hash table of at most 2^15 (q0) /
 *   2^16 (q1) ints for a block of at most 2^lgwin bytes, output storage 2 * 64 KiB + 503, and
 *   at quality 1 a command and a literal buffer of 5 bytes per input byte (at most 320 KiB);
 * - qualities 2–11: the worst peak seen over 120 random 2 MiB streams per quality (mixes of
 *   text, random, constant and short-match input; piece sizes 1 B – 256 KiB; no, every-piece and
 *   random sync flushes) × 1.5. tests/unit/modules/compress/test_codec.c checks every quality
 *   against it on its own inputs. Typical peaks are lower: ~1.9 MiB at quality 4.
 *
 * Decoder: the stream's own window (up to 16 MiB; large windows stay off) sets its ring buffer,
 * so the cap does the bounding: a refused allocation ends the stream with COMPRESS_ERROR. */
#include <brotli/decode.h>
#include <brotli/encode.h>

#include "modules/compress/codec.h"

#define BR_LGWIN 16
#define BR_LGBLOCK 16
#define KIB 1024u

struct br_ctx {
    struct compress_ctx base;
    BrotliEncoderState *enc;
    BrotliDecoderState *dec;
};

/* Heap bound per quality at lgwin 16 / lgblock 16 (see the top comment for how it was found). */
static const size_t enc_bound[12] = {
    [0] = 320 * KIB,   [1] = 800 * KIB,   [2] = 1920 * KIB,  [3] = 1920 * KIB,
    [4] = 3456 * KIB,  [5] = 3456 * KIB,  [6] = 3456 * KIB,  [7] = 3456 * KIB,
    [8] = 4096 * KIB,  [9] = 4864 * KIB,  [10] = 5664 * KIB, [11] = 8768 * KIB,
};

static size_t br_enc_mem_bound(int level)
{
    return enc_bound[level];
}

static void br_destroy(struct compress_ctx *c)
{
    struct br_ctx *b = (struct br_ctx *)c;
    if (!b)
        return;
    if (b->enc)
        BrotliEncoderDestroyInstance(b->enc);
    if (b->dec)
        BrotliDecoderDestroyInstance(b->dec);
    compress_codec_ctx_free(c);
}

static struct compress_ctx *br_enc_create(int level, size_t mem_limit)
{
    if (level < 0 || level > 11 || br_enc_mem_bound(level) > mem_limit)
        return NULL;
    struct br_ctx *b = compress_codec_ctx_new(&compress_codec_br, sizeof(*b), mem_limit, false);
    if (!b)
        return NULL;
    b->enc = BrotliEncoderCreateInstance(compress_codec_alloc_cb, compress_codec_free_cb, b);
    if (!b->enc || !BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_QUALITY, (uint32_t)level) ||
        !BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_LGWIN, BR_LGWIN) ||
        !BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_LGBLOCK, BR_LGBLOCK)) {
        br_destroy(&b->base);
        return NULL;
    }
    return &b->base;
}

static enum compress_status br_encode(struct compress_ctx *c, struct compress_io *io,
                                      enum compress_flush flush)
{
    struct br_ctx *b = (struct br_ctx *)c;
    if (compress_codec_flush_idle(c, io, flush))
        return COMPRESS_OK;
    size_t avail_in = compress_io_in_left(io), avail_out = compress_io_out_room(io);
    const uint8_t *next_in = io->in + io->in_used;
    uint8_t *next_out = io->out + io->out_len;
    BrotliEncoderOperation op = flush == COMPRESS_FLUSH_NONE   ? BROTLI_OPERATION_PROCESS
                                : flush == COMPRESS_FLUSH_SYNC ? BROTLI_OPERATION_FLUSH
                                                               : BROTLI_OPERATION_FINISH;
    BROTLI_BOOL ok =
        BrotliEncoderCompressStream(b->enc, op, &avail_in, &next_in, &avail_out, &next_out, NULL);
    io->in_used = io->in_len - avail_in;
    io->out_len = io->out_cap - avail_out;
    if (!ok)
        return COMPRESS_ERROR;
    if (flush == COMPRESS_FLUSH_FINISH)
        return BrotliEncoderIsFinished(b->enc) ? COMPRESS_END : COMPRESS_MORE;
    if (avail_in > 0 || BrotliEncoderHasMoreOutput(b->enc))
        return COMPRESS_MORE;
    if (flush == COMPRESS_FLUSH_SYNC)
        c->unflushed = false;
    return COMPRESS_OK;
}

static struct compress_ctx *br_dec_create(size_t mem_limit)
{
    struct br_ctx *b = compress_codec_ctx_new(&compress_codec_br, sizeof(*b), mem_limit, true);
    if (!b)
        return NULL;
    b->dec = BrotliDecoderCreateInstance(compress_codec_alloc_cb, compress_codec_free_cb, b);
    if (!b->dec) {
        br_destroy(&b->base);
        return NULL;
    }
    return &b->base;
}

static enum compress_status br_decode(struct compress_ctx *c, struct compress_io *io)
{
    struct br_ctx *b = (struct br_ctx *)c;
    size_t avail_in = compress_io_in_left(io), avail_out = compress_io_out_room(io);
    const uint8_t *next_in = io->in + io->in_used;
    uint8_t *next_out = io->out + io->out_len;
    BrotliDecoderResult r =
        BrotliDecoderDecompressStream(b->dec, &avail_in, &next_in, &avail_out, &next_out, NULL);
    io->in_used = io->in_len - avail_in;
    io->out_len = io->out_cap - avail_out;
    switch (r) {
    case BROTLI_DECODER_RESULT_SUCCESS:
        return COMPRESS_END;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
        return COMPRESS_MORE;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
        return COMPRESS_OK;
    default:
        return COMPRESS_ERROR;
    }
}

const struct compress_codec_ops compress_codec_br = {
    .name = "br",
    .level_min = 0,
    .level_max = 11,
    .level_default = 4,
    .enc_mem_bound = br_enc_mem_bound,
    .enc_create = br_enc_create,
    .encode = br_encode,
    .dec_create = br_dec_create,
    .decode = br_decode,
    .destroy = br_destroy,
};

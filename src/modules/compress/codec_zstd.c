/* codec_zstd.c — the zstd content coding (RFC 8878) with libzstd's ZSTD_CStream/ZSTD_DStream.
 *
 * Encoder: level 1–19 (the "ultra" levels need windows past what HTTP clients accept), the
 * level's parameters with windowLog 18 (256 KiB: RFC 8878 asks encoders for HTTP to stay
 * within 8 MiB; 256 KiB matches br and a client's cost). No checksum (TCP/TLS already guard
 * the bytes; saves a hash per byte). Memory = ZSTD_estimateCStreamSize_usingCParams for those
 * parameters, which libzstd allocates in full on the first call; enc_create makes that call,
 * so the figure is exact from the start (test_codec.c compares it with the measured peak).
 *
 * Decoder: the largest windowLogMax whose ZSTD_estimateDStreamSize fits the cap; a frame that
 * declares a larger window fails with COMPRESS_ERROR before anything is allocated for it.
 *
 * The custom allocator and the estimate functions are in zstd.h's "static linking only"
 * section; Debian's libzstd exports them, and the versions are pinned by the distribution. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "modules/compress/codec.h"

#define ZS_WINDOWLOG 18
#define ZS_LEVEL_MAX 19
#define ZS_DEC_WINDOWLOG_MIN 10
#define ZS_DEC_WINDOWLOG_MAX 27 /* libzstd's own default limit */

struct zstd_ctx {
    struct compress_ctx base;
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
};

static size_t zstd_enc_mem_bound(int level)
{
    ZSTD_compressionParameters p = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, 0);
    p.windowLog = ZS_WINDOWLOG;
    return sizeof(struct zstd_ctx) + ZSTD_estimateCStreamSize_usingCParams(p);
}

static void zstd_destroy(struct compress_ctx *c)
{
    struct zstd_ctx *z = (struct zstd_ctx *)c;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cc); /* both accept NULL */
    ZSTD_freeDCtx(z->dc);
    compress_codec_ctx_free(c);
}

static struct zstd_ctx *zstd_ctx_new(size_t mem_limit)
{
    struct zstd_ctx *z =
        compress_codec_ctx_new(&compress_codec_zstd, sizeof(*z), mem_limit, true);
    return z;
}

static struct compress_ctx *zstd_enc_create(int level, size_t mem_limit)
{
    if (level < 1 || level > ZS_LEVEL_MAX || zstd_enc_mem_bound(level) > mem_limit)
        return NULL;
    struct zstd_ctx *z = zstd_ctx_new(mem_limit);
    if (!z)
        return NULL;
    z->cc = ZSTD_createCCtx_advanced((ZSTD_customMem){compress_codec_alloc_cb, compress_codec_free_cb, z});
    if (!z->cc || ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_windowLog, ZS_WINDOWLOG)))
        goto fail;
    /* An empty call sets the stream up: its whole workspace is allocated now, not mid-body. */
    unsigned char none;
    ZSTD_inBuffer in = {.src = &none, .size = 0, .pos = 0};
    ZSTD_outBuffer out = {.dst = &none, .size = 0, .pos = 0};
    if (ZSTD_isError(ZSTD_compressStream2(z->cc, &out, &in, ZSTD_e_continue)))
        goto fail;
    return &z->base;
fail:
    zstd_destroy(&z->base);
    return NULL;
}

static bool zstd_enc_reset(struct compress_ctx *c)
{
    c->unflushed = false;
    /* Session only: level and window stay, and so does the workspace. */
    return !ZSTD_isError(ZSTD_CCtx_reset(((struct zstd_ctx *)c)->cc, ZSTD_reset_session_only));
}

static enum compress_status zstd_encode(struct compress_ctx *c, struct compress_io *io,
                                        enum compress_flush flush)
{
    struct zstd_ctx *z = (struct zstd_ctx *)c;
    ZSTD_inBuffer in = {.src = io->in + io->in_used, .size = compress_io_in_left(io), .pos = 0};
    ZSTD_outBuffer out = {.dst = io->out + io->out_len, .size = compress_io_out_room(io), .pos = 0};
    ZSTD_EndDirective e = flush == COMPRESS_FLUSH_NONE   ? ZSTD_e_continue
                          : flush == COMPRESS_FLUSH_SYNC ? ZSTD_e_flush
                                                         : ZSTD_e_end;
    /* A flush with nothing buffered returns 0 at once and writes nothing: no empty block. */
    size_t r = ZSTD_compressStream2(z->cc, &out, &in, e);
    io->in_used += in.pos;
    io->out_len += out.pos;
    if (ZSTD_isError(r))
        return COMPRESS_ERROR;
    if (flush == COMPRESS_FLUSH_FINISH)
        return r == 0 ? COMPRESS_END : COMPRESS_MORE;
    if (compress_io_in_left(io) > 0 || (flush == COMPRESS_FLUSH_SYNC && r != 0))
        return COMPRESS_MORE;
    return COMPRESS_OK;
}

static struct compress_ctx *zstd_dec_create(size_t mem_limit)
{
    int wlog = ZS_DEC_WINDOWLOG_MAX;
    while (wlog >= ZS_DEC_WINDOWLOG_MIN &&
           sizeof(struct zstd_ctx) + ZSTD_estimateDStreamSize((size_t)1 << wlog) > mem_limit)
        wlog--;
    if (wlog < ZS_DEC_WINDOWLOG_MIN)
        return NULL;
    struct zstd_ctx *z = zstd_ctx_new(mem_limit);
    if (!z)
        return NULL;
    z->dc = ZSTD_createDCtx_advanced((ZSTD_customMem){compress_codec_alloc_cb, compress_codec_free_cb, z});
    if (!z->dc || ZSTD_isError(ZSTD_DCtx_setParameter(z->dc, ZSTD_d_windowLogMax, wlog))) {
        zstd_destroy(&z->base);
        return NULL;
    }
    return &z->base;
}

static enum compress_status zstd_decode(struct compress_ctx *c, struct compress_io *io)
{
    struct zstd_ctx *z = (struct zstd_ctx *)c;
    ZSTD_inBuffer in = {.src = io->in + io->in_used, .size = compress_io_in_left(io), .pos = 0};
    ZSTD_outBuffer out = {.dst = io->out + io->out_len, .size = compress_io_out_room(io), .pos = 0};
    size_t r = ZSTD_decompressStream(z->dc, &out, &in);
    io->in_used += in.pos;
    io->out_len += out.pos;
    if (ZSTD_isError(r))
        return COMPRESS_ERROR;
    if (r == 0) /* a frame ended and is fully flushed; the call stops there */
        return COMPRESS_END;
    if (compress_io_out_room(io) == 0 || compress_io_in_left(io) > 0)
        return COMPRESS_MORE;
    return COMPRESS_OK;
}

const struct compress_codec_ops compress_codec_zstd = {
    .name = "zstd",
    .level_min = 1,
    .level_max = ZS_LEVEL_MAX,
    .level_default = 3,
    .enc_mem_bound = zstd_enc_mem_bound,
    .enc_create = zstd_enc_create,
    .enc_reset = zstd_enc_reset,
    .encode = zstd_encode,
    .dec_create = zstd_dec_create,
    .decode = zstd_decode,
    .destroy = zstd_destroy,
};

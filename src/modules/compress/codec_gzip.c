/* codec_gzip.c — the gzip content coding: ISA-L's igzip or zlib to encode, zlib to decode.
 *
 * Levels are zlib's 1–9, the scale operators know from nginx's gzip_comp_level. Each level is
 * served by the cheaper of two backends that reaches at least zlib's ratio at that level on
 * bench/compress_bench.sh's corpora (bench/RESULTS.md, "Compression"):
 *   1 → igzip level 2, 2 → igzip level 3  (4–5× less CPU than zlib, ratio as good or better);
 *   3–9 → zlib deflate at that level     (igzip has no setting that reaches these ratios).
 * Both write a standard gzip member (RFC 1952) that zlib and `gzip -d` decode.
 *
 * Memory by design: igzip = struct isal_zstream (80.5 KiB, its 32 KiB history inside) + the
 * level buffer at ISA-L's "SMALL" size (level 2: 132 KiB, level 3: 148 KiB); zlib deflate with
 * windowBits 15, memLevel 8 = 128 KiB window+chains + 128 KiB hash+pending + ~6 KiB state;
 * zlib inflate = ~7 KiB state + a 32 KiB window. */
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "modules/compress/codec.h"

/* igzip detours through a 16-byte internal buffer when the output room is small, and then
 * neither "room left" nor its state says reliably whether a sync flush is out (with 3 bytes of
 * room it even emits flush blocks forever). Below this much room it writes into our stage. */
#define ISAL_STAGE 256

struct gzip_ctx {
    struct compress_ctx base;
    bool use_isal;
    bool decoder;
    z_stream z;
    struct isal_zstream *is;
    unsigned char *level_buf;
    uint16_t stage_pos, stage_len; /* stage[stage_pos..stage_len) still to be handed out */
    bool stage_settled; /* the call that filled the stage did all it was asked (a new call would
                         * start another flush block) */
    unsigned char stage[ISAL_STAGE];
};

struct gzip_level {
    bool isal;
    int lib_level;
    uint32_t level_buf; /* ISA-L only */
};

static const struct gzip_level levels[10] = {
    [1] = {.isal = true, .lib_level = 2, .level_buf = ISAL_DEF_LVL2_SMALL},
    [2] = {.isal = true, .lib_level = 3, .level_buf = ISAL_DEF_LVL3_SMALL},
    [3] = {.lib_level = 3}, [4] = {.lib_level = 4}, [5] = {.lib_level = 5},
    [6] = {.lib_level = 6}, [7] = {.lib_level = 7}, [8] = {.lib_level = 8},
    [9] = {.lib_level = 9},
};

#define ZLIB_WBITS 15
#define ZLIB_MEMLEVEL 8
#define GZIP_FLAG 16       /* added to windowBits: gzip wrapper, not zlib's */
#define ZSTATE_SLACK 8192u /* deflate_state / inflate_state and their rounding, measured < 6 KiB */
#define INFLATE_MEM ((1u << ZLIB_WBITS) + ZSTATE_SLACK + sizeof(struct gzip_ctx))

static size_t gzip_enc_mem_bound(int level)
{
    const struct gzip_level *l = &levels[level];
    if (l->isal)
        return sizeof(struct gzip_ctx) + sizeof(struct isal_zstream) + l->level_buf;
    return sizeof(struct gzip_ctx) + (1u << (ZLIB_WBITS + 2)) + (1u << (ZLIB_MEMLEVEL + 9)) +
           ZSTATE_SLACK;
}

static voidpf gzip_zalloc(voidpf opaque, uInt items, uInt size)
{
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return compress_codec_alloc(opaque, (size_t)items * size);
}

static void gzip_zfree(voidpf opaque, voidpf p)
{
    compress_codec_free(opaque, p);
}

static struct gzip_ctx *gzip_ctx_new(size_t size_limit, bool decoder)
{
    struct gzip_ctx *g =
        compress_codec_ctx_new(&compress_codec_gzip, sizeof(*g), size_limit, true);
    if (!g)
        return NULL;
    g->decoder = decoder;
    g->z.zalloc = gzip_zalloc;
    g->z.zfree = gzip_zfree;
    g->z.opaque = g;
    return g;
}

static void gzip_destroy(struct compress_ctx *c)
{
    struct gzip_ctx *g = (struct gzip_ctx *)c;
    if (!g)
        return;
    if (g->decoder)
        inflateEnd(&g->z);
    else if (g->use_isal) {
        compress_codec_free(c, g->level_buf);
        compress_codec_free(c, g->is);
    } else
        deflateEnd(&g->z);
    compress_codec_ctx_free(c);
}

static struct compress_ctx *gzip_enc_create(int level, size_t mem_limit)
{
    if (level < 1 || level > 9 || gzip_enc_mem_bound(level) > mem_limit)
        return NULL;
    const struct gzip_level *l = &levels[level];
    struct gzip_ctx *g = gzip_ctx_new(mem_limit, false);
    if (!g)
        return NULL;
    if (l->isal) {
        g->use_isal = true;
        g->is = compress_codec_alloc(&g->base, sizeof(*g->is));
        g->level_buf = compress_codec_alloc(&g->base, l->level_buf);
        if (!g->is || !g->level_buf)
            goto fail;
        isal_deflate_init(g->is);
        g->is->gzip_flag = IGZIP_GZIP;
        g->is->level = (uint32_t)l->lib_level;
        g->is->level_buf = g->level_buf;
        g->is->level_buf_size = l->level_buf;
    } else if (deflateInit2(&g->z, l->lib_level, Z_DEFLATED, ZLIB_WBITS + GZIP_FLAG, ZLIB_MEMLEVEL,
                            Z_DEFAULT_STRATEGY) != Z_OK) {
        compress_codec_ctx_free(&g->base); /* a failed deflateInit2 freed what it allocated */
        return NULL;
    }
    return &g->base;
fail:
    gzip_destroy(&g->base);
    return NULL;
}

static bool gzip_enc_reset(struct compress_ctx *c)
{
    struct gzip_ctx *g = (struct gzip_ctx *)c;
    g->base.unflushed = false;
    g->stage_pos = g->stage_len = 0;
    g->stage_settled = false;
    if (g->use_isal) {
        isal_deflate_reset(g->is); /* keeps level and level buffer */
        g->is->gzip_flag = IGZIP_GZIP; /* igzip turns it to "no header" once it wrote one */
        return true;
    }
    return deflateReset(&g->z) == Z_OK;
}

/* The status for a call that read what it could and wrote what it could; `flushed` says whether
 * the library reports a requested sync flush complete. */
static enum compress_status gzip_after(struct gzip_ctx *g, const struct compress_io *io,
                                       enum compress_flush flush, bool flushed)
{
    if (compress_io_in_left(io) > 0)
        return COMPRESS_MORE;
    if (flush == COMPRESS_FLUSH_SYNC) {
        if (!flushed)
            return COMPRESS_MORE;
        g->base.unflushed = false;
    }
    return COMPRESS_OK;
}

/* One deflate() or inflate() call over io, which it then advances. */
static int zlib_call(z_stream *z, struct compress_io *io, int (*fn)(z_stream *, int), int flush)
{
    unsigned in_n = compress_clamp32(compress_io_in_left(io));
    unsigned out_n = compress_clamp32(compress_io_out_room(io));
    z->next_in = (Bytef *)(uintptr_t)(io->in + io->in_used);
    z->avail_in = in_n;
    z->next_out = io->out + io->out_len;
    z->avail_out = out_n;
    int rc = fn(z, flush);
    io->in_used += in_n - z->avail_in;
    io->out_len += out_n - z->avail_out;
    return rc;
}

static enum compress_status zlib_encode(struct gzip_ctx *g, struct compress_io *io,
                                        enum compress_flush flush)
{
    z_stream *z = &g->z;
    int zf = flush == COMPRESS_FLUSH_NONE ? Z_NO_FLUSH
             : flush == COMPRESS_FLUSH_SYNC ? Z_SYNC_FLUSH
                                            : Z_FINISH;
    int rc = zlib_call(z, io, deflate, zf);
    if (rc == Z_STREAM_END)
        return COMPRESS_END;
    if (rc != Z_OK && rc != Z_BUF_ERROR) /* Z_BUF_ERROR: nothing left to do, not fatal */
        return COMPRESS_ERROR;
    if (flush == COMPRESS_FLUSH_FINISH)
        return COMPRESS_MORE;
    /* zlib: a sync flush is complete when it returns with output room left. */
    return gzip_after(g, io, flush, z->avail_out > 0);
}

static void isal_stage_drain(struct gzip_ctx *g, struct compress_io *io)
{
    size_t m = (size_t)(g->stage_len - g->stage_pos);
    if (m > compress_io_out_room(io))
        m = compress_io_out_room(io);
    memcpy(io->out + io->out_len, g->stage + g->stage_pos, m);
    io->out_len += m;
    g->stage_pos = (uint16_t)(g->stage_pos + m);
}

/* `done`: the library did all it was asked and nothing waits in the stage. */
static enum compress_status isal_status(struct gzip_ctx *g, const struct compress_io *io,
                                        enum compress_flush flush, bool done)
{
    if (flush == COMPRESS_FLUSH_FINISH)
        return done ? COMPRESS_END : COMPRESS_MORE;
    return gzip_after(g, io, flush, done);
}

static enum compress_status isal_encode(struct gzip_ctx *g, struct compress_io *io,
                                        enum compress_flush flush)
{
    if (g->stage_pos < g->stage_len) {
        isal_stage_drain(g, io);
        if (g->stage_pos < g->stage_len)
            return COMPRESS_MORE;
        if (g->stage_settled && compress_io_in_left(io) == 0)
            return isal_status(g, io, flush, true);
    }
    struct isal_zstream *s = g->is;
    bool staged = compress_io_out_room(io) < ISAL_STAGE;
    unsigned in_n = compress_clamp32(compress_io_in_left(io));
    unsigned out_n = staged ? ISAL_STAGE : compress_clamp32(compress_io_out_room(io));
    s->next_in = (uint8_t *)(uintptr_t)(io->in + io->in_used);
    s->avail_in = in_n;
    s->next_out = staged ? g->stage : io->out + io->out_len;
    s->avail_out = out_n;
    s->flush = flush == COMPRESS_FLUSH_SYNC ? SYNC_FLUSH : NO_FLUSH;
    s->end_of_stream = flush == COMPRESS_FLUSH_FINISH;
    int rc = isal_deflate(s);
    io->in_used += in_n - s->avail_in;
    /* igzip_lib.h: returning with output room left means all input is flushed. */
    g->stage_settled = flush == COMPRESS_FLUSH_FINISH
                           ? s->internal_state.state == ZSTATE_END
                           : s->avail_in == 0 && (flush == COMPRESS_FLUSH_NONE || s->avail_out > 0);
    if (staged) {
        g->stage_pos = 0;
        g->stage_len = (uint16_t)(out_n - s->avail_out);
        isal_stage_drain(g, io);
    } else {
        io->out_len += out_n - s->avail_out;
    }
    if (rc != COMP_OK)
        return COMPRESS_ERROR;
    return isal_status(g, io, flush, g->stage_settled && g->stage_pos == g->stage_len);
}

static enum compress_status gzip_encode(struct compress_ctx *c, struct compress_io *io,
                                        enum compress_flush flush)
{
    struct gzip_ctx *g = (struct gzip_ctx *)c;
    if (compress_codec_flush_idle(c, io, flush))
        return COMPRESS_OK;
    return g->use_isal ? isal_encode(g, io, flush) : zlib_encode(g, io, flush);
}

static struct compress_ctx *gzip_dec_create(size_t mem_limit)
{
    if (mem_limit < INFLATE_MEM)
        return NULL;
    struct gzip_ctx *g = gzip_ctx_new(mem_limit, true);
    if (!g)
        return NULL;
    if (inflateInit2(&g->z, ZLIB_WBITS + GZIP_FLAG) != Z_OK) {
        compress_codec_ctx_free(&g->base);
        return NULL;
    }
    return &g->base;
}

static enum compress_status gzip_decode(struct compress_ctx *c, struct compress_io *io)
{
    int rc = zlib_call(&((struct gzip_ctx *)c)->z, io, inflate, Z_NO_FLUSH);
    if (rc == Z_STREAM_END)
        return COMPRESS_END;
    if (rc != Z_OK && rc != Z_BUF_ERROR)
        return COMPRESS_ERROR; /* Z_DATA_ERROR, Z_MEM_ERROR (cap), Z_NEED_DICT */
    if (compress_io_out_room(io) == 0 || compress_io_in_left(io) > 0)
        return COMPRESS_MORE;
    return COMPRESS_OK;
}

const struct compress_codec_ops compress_codec_gzip = {
    .name = "gzip",
    .level_min = 1,
    .level_max = 9,
    .level_default = 1,
    .enc_mem_bound = gzip_enc_mem_bound,
    .enc_create = gzip_enc_create,
    .encode = gzip_encode,
    .enc_reset = gzip_enc_reset,
    .dec_create = gzip_dec_create,
    .decode = gzip_decode,
    .destroy = gzip_destroy,
};

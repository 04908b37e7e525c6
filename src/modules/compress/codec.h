/* codec.h — streaming content codings (gzip, br, zstd) behind one ops struct.
 *
 * A codec turns a body into its content-coded form (encoder) or back (decoder), a slice at a
 * time, into an output buffer the caller owns: the response-body hook feeds what arrived from
 * upstream and sends what comes out, so nothing is ever held whole. Contexts are per exchange
 * and used by one thread; the ops structs and the registry are immutable.
 *
 * Memory. Every byte a context allocates (the coding library's state, windows, hash tables and
 * our own struct) goes through a counting allocator in struct compress_ctx, so `mem_peak` is a
 * measured figure. Encoders use fixed, documented parameters per level (gzip: 32 KiB window;
 * br: lgwin 16, lgblock 16; zstd: windowLog 18) whose worst case is `enc_mem_bound(level)`
 * (exact for gzip and zstd, measured with a margin for br: codec_br.c), checked against
 * mem_peak in tests/unit/modules/compress/test_codec.c. `enc_create` refuses
 * (NULL) when that bound exceeds the caller's limit, so a context never fails for lack of
 * budget after the response head has gone out. Decoders get a hard cap: the gzip decoder needs
 * a fixed ~40 KiB; br and zstd streams whose window would not fit fail with COMPRESS_ERROR
 * (zstd checks the frame header's window; br's allocation is refused). Figures:
 * docs/internals/compress.md.
 *
 * Driving a context:
 *   io.in/in_len is the input, io.in_used how much of it has been read; io.out/out_cap the
 *   output buffer, io.out_len how much of it has been written. A call reads from in + in_used
 *   and writes at out + out_len, advancing both; the caller resets them when it refills or
 *   drains. out_cap > out_len is required (room for at least one byte).
 *   - COMPRESS_OK: all input was read, and for FLUSH_SYNC everything read so far is out (a
 *     chunk can be sent and decodes to all input so far). Feed more input.
 *   - COMPRESS_MORE: the call stopped early, usually on a full output buffer. Drain it and
 *     call again with the same flush mode and the unread input.
 *   - COMPRESS_END: encoder: FLUSH_FINISH completed, the stream is closed (no more calls).
 *     decoder: the end of the coded stream (first gzip member / zstd frame / br stream) was
 *     reached; input after it is left unread (in_used < in_len) for the caller to judge.
 *   - COMPRESS_ERROR: corrupt input (decoders), a decoder window over the cap, or a library
 *     failure. The context may only be destroyed.
 * A decoder that ran out of input without COMPRESS_END has seen a truncated stream. */
#ifndef WEIR_MODULES_COMPRESS_CODEC_H
#define WEIR_MODULES_COMPRESS_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

enum compress_flush {
    COMPRESS_FLUSH_NONE,   /* buffer freely for the best ratio */
    COMPRESS_FLUSH_SYNC,   /* emit everything read so far, keep the stream open */
    COMPRESS_FLUSH_FINISH, /* emit everything and close the stream */
};

enum compress_status {
    COMPRESS_OK,
    COMPRESS_MORE,
    COMPRESS_END,
    COMPRESS_ERROR,
};

struct compress_io {
    const unsigned char *in;
    size_t in_len;
    size_t in_used;
    unsigned char *out;
    size_t out_cap;
    size_t out_len;
};

/* The first member of every codec's context (embed, don't wrap). */
struct compress_ctx {
    const struct compress_codec_ops *ops;
    size_t mem_used;  /* bytes allocated now, as requested from the allocator (no malloc overhead) */
    size_t mem_peak;  /* highest mem_used so far */
    size_t mem_limit; /* allocations beyond it fail when mem_hard */
    bool mem_hard;    /* false only for the br encoder: libbrotli exits the process on OOM */
    bool unflushed;   /* encoders: input read since the last completed sync flush */
};

struct compress_codec_ops {
    const char *name; /* the content-coding token: "gzip", "br", "zstd" */
    int level_min, level_max, level_default;
    /* Heap bytes an encoder at `level` (within [level_min, level_max]) may use at most. */
    size_t (*enc_mem_bound)(int level);
    /* An encoder, NULL when enc_mem_bound(level) > mem_limit or on out of memory. Its state is
     * allocated here (as far as the library allows), so encoding rarely allocates. */
    struct compress_ctx *(*enc_create)(int level, size_t mem_limit);
    enum compress_status (*encode)(struct compress_ctx *c, struct compress_io *io,
                                   enum compress_flush flush);
    /* Makes an encoder new again for another body, keeping its memory (and so its pages and
     * caches warm): false when it cannot (then destroy it). NULL: the codec cannot reset. */
    bool (*enc_reset)(struct compress_ctx *c);
    /* A decoder whose allocations never exceed mem_limit; NULL when even its fixed state does
     * not fit, or on out of memory. */
    struct compress_ctx *(*dec_create)(size_t mem_limit);
    enum compress_status (*decode)(struct compress_ctx *c, struct compress_io *io);
    /* Frees an encoder or a decoder of this codec; NULL is ignored. */
    void (*destroy)(struct compress_ctx *c);
};

extern const struct compress_codec_ops compress_codec_gzip;
extern const struct compress_codec_ops compress_codec_br;
extern const struct compress_codec_ops compress_codec_zstd;

/* The registered codecs, in a fixed order; `n` receives their count. */
const struct compress_codec_ops *const *compress_codec_all(size_t *n);
/* The codec whose token is `name` (ASCII case-insensitive, as content-codings are), or NULL. */
const struct compress_codec_ops *compress_codec_find(struct str name);

static inline size_t compress_io_in_left(const struct compress_io *io)
{
    return io->in_len - io->in_used;
}

static inline size_t compress_io_out_room(const struct compress_io *io)
{
    return io->out_cap - io->out_len;
}

/* For libraries that count in 32 bits (zlib, ISA-L): a longer slice goes in several calls. */
static inline unsigned compress_clamp32(size_t n)
{
    return n > 0x40000000u ? 0x40000000u : (unsigned)n;
}

/* Shortcut for c->ops->destroy(c); NULL is ignored. */
void compress_codec_destroy(struct compress_ctx *c);

/* For codec implementations: a zeroed context struct of `size` bytes (>= sizeof(struct
 * compress_ctx)) counted against `limit` like everything it allocates later; NULL if it does
 * not fit or on out of memory. */
void *compress_codec_ctx_new(const struct compress_codec_ops *ops, size_t size, size_t limit,
                             bool hard);
/* Frees the context struct itself (after the codec released its library state). */
void compress_codec_ctx_free(struct compress_ctx *c);
/* n bytes counted against c (16-byte aligned); NULL when a hard limit would be crossed. */
void *compress_codec_alloc(struct compress_ctx *c, size_t n);
/* Frees what compress_codec_alloc returned; NULL is ignored. */
void compress_codec_free(struct compress_ctx *c, void *p);
/* The same two as (opaque, size) / (opaque, pointer) callbacks with the context as opaque, the
 * shape libbrotli's and libzstd's custom allocators take. */
void *compress_codec_alloc_cb(void *ctx, size_t n);
void compress_codec_free_cb(void *ctx, void *p);
/* For encoders, first thing in encode: notes whether input arrives, and returns true when the
 * call is a sync flush with nothing read since the last one (answer COMPRESS_OK without
 * calling the library, which would emit an empty block). Clear c->unflushed when a sync flush
 * completes. */
bool compress_codec_flush_idle(struct compress_ctx *c, const struct compress_io *io,
                               enum compress_flush flush);

#endif

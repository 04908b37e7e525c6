/* codec_fixture.h — shared by the codec tests: a deterministic text-like byte generator and
 * whole-buffer encode/decode helpers that drive a codec the way the body hook will (pieces in,
 * a small output buffer drained after every call). Test code, not part of weir. */
#ifndef WEIR_TEST_CODEC_FIXTURE_H
#define WEIR_TEST_CODEC_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modules/compress/codec.h"

/* The stream is the same however it is cut: gen_fill(10) + gen_fill(20) = gen_fill(30). */
struct gen {
    uint64_t s;
    int kind; /* 0 text-like, 1 random bytes, 2 short repeated tokens (many tiny matches) */
    unsigned char unit[24];
    size_t unit_len, unit_pos;
};

static inline uint64_t gen_next(struct gen *g)
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return g->s;
}

static inline void gen_init(struct gen *g, uint64_t seed, int kind)
{
    *g = (struct gen){.s = seed * 0x9e3779b97f4a7c15ull + 1, .kind = kind};
}

/* The next few bytes of the stream into g->unit. */
static inline void gen_unit(struct gen *g)
{
    static const char *const words[] = {
        "the ", "of ", "and ", "<div class=\"card\">", "</div>\n", "\"price\": ", "{\"id\": ",
        "shipping ", "customer ", "response ", "latency ", "cache ", "0.", "1", "2", "3",
        "\n  ", "<a href=\"/p/", "\">", "jacket ", "summer ", "edition ", ", ", "null",
    };
    uint64_t r = gen_next(g);
    size_t n = 0;
    if (g->kind == 1) {
        for (; n < 8; n++, r >>= 8)
            g->unit[n] = (unsigned char)r;
    } else if (g->kind == 2) {
        unsigned w = (unsigned)(r % 251);
        for (; n < 4; n++)
            g->unit[n] = (unsigned char)(w * 37 + (unsigned)n * 101);
    } else {
        const char *w = words[r % (sizeof(words) / sizeof(words[0]))];
        n = strlen(w);
        memcpy(g->unit, w, n);
        if ((r >> 32) % 23 == 0)
            g->unit[n++] = (unsigned char)(r >> 40); /* a stray byte now and then */
    }
    g->unit_len = n;
    g->unit_pos = 0;
}

/* Fills p[0..n) with the next n bytes of g's stream. */
static inline void gen_fill(struct gen *g, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (g->unit_pos == g->unit_len)
            gen_unit(g);
        size_t m = g->unit_len - g->unit_pos;
        if (m > n - i)
            m = n - i;
        memcpy(p + i, g->unit + g->unit_pos, m);
        g->unit_pos += m;
        i += m;
    }
}

/* A growable byte buffer. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static inline void bytes_put(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Encodes in[0..n) in pieces of at most `piece` bytes with a `outsz`-byte output buffer, a sync
 * flush after every piece when `sync`; appends to out. Returns the final status (COMPRESS_END
 * when all went well). */
/* Drives the encoder c over in[0..n) in pieces, the last one finishing the stream unless
 * `unfinished` (then it stops before the last piece, as when a client goes away). */
static inline enum compress_status fx_encode_ctx(struct compress_ctx *c, const unsigned char *in,
                                                 size_t n, size_t piece, size_t outsz, bool sync,
                                                 bool unfinished, struct bytes *out)
{
    const struct compress_codec_ops *ops = c->ops;
    unsigned char *buf = malloc(outsz);
    enum compress_status st = COMPRESS_ERROR;
    size_t off = 0;
    for (;;) {
        size_t len = n - off < piece ? n - off : piece;
        enum compress_flush fl = off + len == n ? COMPRESS_FLUSH_FINISH
                                 : sync         ? COMPRESS_FLUSH_SYNC
                                                : COMPRESS_FLUSH_NONE;
        struct compress_io io = {.in = in + off, .in_len = len, .out = buf, .out_cap = outsz};
        do {
            io.out_len = 0;
            st = ops->encode(c, &io, fl);
            bytes_put(out, buf, io.out_len);
        } while (st == COMPRESS_MORE);
        off += len;
        if (st != COMPRESS_OK || fl == COMPRESS_FLUSH_FINISH ||
            (unfinished && n - off <= piece))
            break;
    }
    free(buf);
    return st;
}

static inline enum compress_status fx_encode(const struct compress_codec_ops *ops, int level,
                                             const unsigned char *in, size_t n, size_t piece,
                                             size_t outsz, bool sync, struct bytes *out,
                                             size_t *peak)
{
    struct compress_ctx *c = ops->enc_create(level, (size_t)1 << 30);
    if (!c)
        return COMPRESS_ERROR;
    enum compress_status st = fx_encode_ctx(c, in, n, piece, outsz, sync, false, out);
    if (peak)
        *peak = c->mem_peak;
    ops->destroy(c);
    return st;
}

/* Decodes in[0..n) in pieces with a small output buffer; appends to out. COMPRESS_END when the
 * stream ended (and *used says where), COMPRESS_OK when the input ran out first. */
static inline enum compress_status fx_decode(const struct compress_codec_ops *ops,
                                             const unsigned char *in, size_t n, size_t piece,
                                             size_t outsz, struct bytes *out, size_t *used)
{
    struct compress_ctx *d = ops->dec_create((size_t)16 << 20);
    if (!d)
        return COMPRESS_ERROR;
    unsigned char *buf = malloc(outsz);
    enum compress_status st = COMPRESS_OK;
    size_t off = 0;
    while (st == COMPRESS_OK && off < n) {
        size_t len = n - off < piece ? n - off : piece;
        struct compress_io io = {.in = in + off, .in_len = len, .out = buf, .out_cap = outsz};
        do {
            io.out_len = 0;
            st = ops->decode(d, &io);
            bytes_put(out, buf, io.out_len);
        } while (st == COMPRESS_MORE);
        off += io.in_used;
    }
    if (used)
        *used = off;
    ops->destroy(d);
    free(buf);
    return st;
}

/* True when enc[0..m) decodes (in `piece`-byte pieces, through an `outsz`-byte buffer) to exactly
 * want[0..n), reaching the end of the stream at its last byte. */
static inline bool fx_decodes_to(const struct compress_codec_ops *ops, const unsigned char *enc,
                                 size_t m, size_t piece, size_t outsz, const unsigned char *want,
                                 size_t n)
{
    struct bytes dec = {0};
    size_t used = 0;
    bool ok = fx_decode(ops, enc, m, piece, outsz, &dec, &used) == COMPRESS_END && used == m &&
              dec.len == n && (n == 0 || memcmp(dec.p, want, n) == 0);
    free(dec.p);
    return ok;
}

#endif

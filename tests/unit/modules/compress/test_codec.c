/* test_codec.c — the streaming codecs in process: round trips through each codec's own decoder
 * with random chunking, output buffer sizes and sync flushes; a sync flush makes everything so
 * far decodable; idle flushes emit nothing; every level's measured peak heap within its bound;
 * the limits (enc_create refusing, decoder caps on zstd and br windows); corrupt, truncated and
 * trailing input; 64 MiB streamed through encoder and decoder in lockstep with bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <brotli/encode.h>
#include <zstd.h>

#include "codec_fixture.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

static const struct compress_codec_ops *const codecs[] = {
    &compress_codec_gzip, &compress_codec_br, &compress_codec_zstd};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static void test_registry(void **state)
{
    (void)state;
    size_t n;
    const struct compress_codec_ops *const *all = compress_codec_all(&n);
    assert_int_equal(n, NCODECS);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(compress_codec_find(str_cstr(all[i]->name)), all[i]);
        assert_true(all[i]->level_min <= all[i]->level_default);
        assert_true(all[i]->level_default <= all[i]->level_max);
    }
    assert_ptr_equal(compress_codec_find(STR_LIT("GZip")), &compress_codec_gzip);
    assert_ptr_equal(compress_codec_find(STR_LIT("BR")), &compress_codec_br);
    assert_null(compress_codec_find(STR_LIT("deflate")));
    assert_null(compress_codec_find(STR_LIT("gzip ")));
    assert_null(compress_codec_find(STR_NULL));
    compress_codec_destroy(NULL);
}

/* Random chunking of both sides, random output room, random sync flushes: the decoded bytes
 * equal the input, for several levels of every codec and three kinds of input. */
static void test_round_trip_random_chunking(void **state)
{
    (void)state;
    const size_t n = 300 * KIB;
    unsigned char *in = malloc(n);
    unsigned char *buf = malloc(64 * KIB);
    assert_non_null(in);
    struct gen rng;
    gen_init(&rng, 99, 1);
    for (size_t k = 0; k < NCODECS; k++) {
        const struct compress_codec_ops *ops = codecs[k];
        int levels[3] = {ops->level_min, ops->level_default, ops->level_min + 5};
        for (int li = 0; li < 3; li++) {
            for (int kind = 0; kind < 3; kind++) {
                struct gen g;
                gen_init(&g, (uint64_t)(k * 10 + (size_t)kind), kind);
                gen_fill(&g, in, n);
                struct compress_ctx *c = ops->enc_create(levels[li], 64 * MIB);
                assert_non_null(c);
                struct bytes enc = {0};
                size_t off = 0;
                enum compress_status st;
                do {
                    size_t len = gen_next(&rng) % 40000;
                    if (len > n - off)
                        len = n - off;
                    uint64_t r = gen_next(&rng);
                    enum compress_flush fl = off + len == n ? COMPRESS_FLUSH_FINISH
                                             : r % 5 == 0   ? COMPRESS_FLUSH_SYNC
                                                            : COMPRESS_FLUSH_NONE;
                    struct compress_io io = {.in = in + off, .in_len = len, .out = buf};
                    do {
                        io.out_len = 0;
                        io.out_cap = 1 + gen_next(&rng) % (r % 3 == 0 ? 7 : 64 * KIB - 1);
                        st = ops->encode(c, &io, fl);
                        bytes_put(&enc, buf, io.out_len);
                    } while (st == COMPRESS_MORE);
                    assert_int_equal(io.in_used, len);
                    assert_int_equal(st, fl == COMPRESS_FLUSH_FINISH ? COMPRESS_END : COMPRESS_OK);
                    off += len;
                } while (st != COMPRESS_END);
                ops->destroy(c);

                size_t piece = 1 + gen_next(&rng) % 5000, outsz = 1 + gen_next(&rng) % 3000;
                assert_true(fx_decodes_to(ops, enc.p, enc.len, piece, outsz, in, n));
                free(enc.p);
            }
        }
    }
    free(in);
    free(buf);
}

/* After a completed sync flush the output so far decodes to exactly the input so far (what a
 * streamed response, e.g. server-sent events, relies on); a second flush with no new input
 * writes nothing; the bytes produced do not depend on the output buffer's size, down to 1. */
static void sync_flush_run(const struct compress_codec_ops *ops, size_t cap, struct bytes *all)
{
    static const char *const msgs[] = {"data: hello\n\n", "data: {\"n\": 2}\n\n", "x",
                                       "data: the end\n\n"};
    struct compress_ctx *c = ops->enc_create(ops->level_default, 64 * MIB);
    struct compress_ctx *d = ops->dec_create(16 * MIB);
    assert_non_null(c);
    assert_non_null(d);
    struct bytes sent = {0}, got = {0};
    unsigned char out[4096], back[256];
    for (size_t m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
        bytes_put(&sent, msgs[m], strlen(msgs[m]));
        struct compress_io io = {
            .in = (const unsigned char *)msgs[m], .in_len = strlen(msgs[m]), .out = out,
            .out_cap = cap};
        struct bytes chunk = {0};
        enum compress_status st;
        do {
            io.out_len = 0;
            st = ops->encode(c, &io, COMPRESS_FLUSH_SYNC);
            bytes_put(&chunk, out, io.out_len);
        } while (st == COMPRESS_MORE);
        assert_int_equal(st, COMPRESS_OK);
        assert_true(chunk.len > 0);
        bytes_put(all, chunk.p, chunk.len);

        /* An idle flush: nothing new, nothing written. */
        struct compress_io idle = {.in = NULL, .in_len = 0, .out = out, .out_cap = cap};
        assert_int_equal(ops->encode(c, &idle, COMPRESS_FLUSH_SYNC), COMPRESS_OK);
        assert_int_equal(idle.out_len, 0);

        struct compress_io dio = {.in = chunk.p, .in_len = chunk.len, .out = back,
                                  .out_cap = sizeof(back)};
        do {
            dio.out_len = 0;
            st = ops->decode(d, &dio);
            bytes_put(&got, back, dio.out_len);
        } while (st == COMPRESS_MORE);
        assert_int_equal(st, COMPRESS_OK);
        assert_int_equal(got.len, sent.len);
        assert_memory_equal(got.p, sent.p, sent.len);
        free(chunk.p);
    }
    free(sent.p);
    free(got.p);
    ops->destroy(c);
    ops->destroy(d);
}

static void test_sync_flush_makes_prefix_decodable(void **state)
{
    (void)state;
    static const size_t caps[] = {4096, 1, 2, 3, 5, 8, 17, 255, 256, 1000};
    for (size_t k = 0; k < NCODECS; k++) {
        struct bytes first = {0};
        sync_flush_run(codecs[k], caps[0], &first);
        for (size_t i = 1; i < sizeof(caps) / sizeof(caps[0]); i++) {
            struct bytes again = {0};
            sync_flush_run(codecs[k], caps[i], &again);
            if (again.len != first.len || memcmp(again.p, first.p, first.len) != 0)
                fail_msg("%s: output differs with a %zu-byte buffer", codecs[k]->name, caps[i]);
            free(again.p);
        }
        free(first.p);
    }
}

/* An empty body still makes a valid, decodable stream. */
static void test_empty_stream(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCODECS; k++) {
        struct bytes enc = {0}, dec = {0};
        assert_int_equal(fx_encode(codecs[k], codecs[k]->level_default, NULL, 0, 1, 5, false, &enc,
                                   NULL),
                         COMPRESS_END);
        assert_true(enc.len > 0);
        assert_int_equal(fx_decode(codecs[k], enc.p, enc.len, 1, 1, &dec, NULL), COMPRESS_END);
        assert_int_equal(dec.len, 0);
        free(enc.p);
        free(dec.p);
    }
}

/* A reset encoder writes, for the next body, exactly what a new one would: after a finished
 * body, after one abandoned midway (the client went away) and after sync flushes. */
static void test_reset_equals_new(void **state)
{
    (void)state;
    static const struct {
        const struct compress_codec_ops *ops;
        int level;
    } cases[] = {{&compress_codec_gzip, 1}, {&compress_codec_gzip, 2}, {&compress_codec_gzip, 6},
                 {&compress_codec_zstd, 3}, {&compress_codec_zstd, 19}};
    size_t n = 300 * 1024;
    unsigned char *a = malloc(n), *b = malloc(n);
    struct gen g;
    gen_init(&g, 7, 0);
    gen_fill(&g, a, n);
    gen_init(&g, 8, 2);
    gen_fill(&g, b, n);
    assert_null(compress_codec_br.enc_reset); /* libbrotli has no reset: destroyed instead */
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct bytes fresh = {0};
        assert_int_equal(fx_encode(cases[k].ops, cases[k].level, b, n, 7000, 4096, false, &fresh,
                                   NULL),
                         COMPRESS_END);
        struct compress_ctx *c = cases[k].ops->enc_create(cases[k].level, (size_t)1 << 30);
        assert_non_null(c);
        for (int prior = 0; prior < 3; prior++) {
            struct bytes junk = {0}, again = {0};
            fx_encode_ctx(c, a, n, 5000, 3000, prior == 2, prior == 1, &junk);
            assert_true(cases[k].ops->enc_reset(c));
            assert_int_equal(fx_encode_ctx(c, b, n, 7000, 4096, false, false, &again),
                             COMPRESS_END);
            assert_int_equal(again.len, fresh.len);
            assert_memory_equal(again.p, fresh.p, fresh.len);
            assert_true(cases[k].ops->enc_reset(c));
            free(junk.p);
            free(again.p);
        }
        compress_codec_destroy(c);
        free(fresh.p);
    }
    free(a);
    free(b);
}

/* Every level's measured peak stays within enc_mem_bound, over 1 MiB of each input kind with
 * sync flushes now and then (brotli's peak depends on the data: see codec_br.c). */
static void test_memory_within_bound(void **state)
{
    (void)state;
    const size_t n = 1 * MIB;
    unsigned char *in = malloc(n);
    assert_non_null(in);
    for (size_t k = 0; k < NCODECS; k++) {
        const struct compress_codec_ops *ops = codecs[k];
        int hi = ops == &compress_codec_zstd ? 9 : ops->level_max; /* 10+: 25-80 MiB, slow */
        for (int level = ops->level_min; level <= hi; level++) {
            size_t worst = 0;
            for (int kind = 0; kind < 3; kind++) {
                struct gen g;
                gen_init(&g, 7, kind);
                gen_fill(&g, in, n);
                struct bytes enc = {0};
                size_t peak = 0;
                assert_int_equal(fx_encode(ops, level, in, n, 16 * KIB + (size_t)kind * 7000,
                                           16 * KIB, kind == 1, &enc, &peak),
                                 COMPRESS_END);
                if (peak > worst)
                    worst = peak;
                free(enc.p);
            }
            size_t bound = ops->enc_mem_bound(level);
            print_message("  %s %d: peak %.1f KiB, bound %.1f KiB\n", ops->name, level,
                          (double)worst / 1024, (double)bound / 1024);
            assert_true(worst <= bound);
            /* a limit just below the bound is refused up front */
            assert_null(ops->enc_create(level, bound - 1));
            struct compress_ctx *c = ops->enc_create(level, bound);
            assert_non_null(c);
            ops->destroy(c);
        }
        assert_null(ops->enc_create(ops->level_min - 1, 1 << 30));
        assert_null(ops->enc_create(ops->level_max + 1, 1 << 30));
    }
    free(in);
}

/* Decoders: the fixed state must fit; a zstd frame or br stream whose window exceeds the cap
 * fails instead of allocating. */
static void test_decoder_caps(void **state)
{
    (void)state;
    assert_null(compress_codec_gzip.dec_create(16 * KIB));
    assert_null(compress_codec_zstd.dec_create(16 * KIB));
    struct compress_ctx *g = compress_codec_gzip.dec_create(64 * KIB);
    assert_non_null(g);
    assert_true(g->mem_peak <= 64 * KIB);
    compress_codec_destroy(g);

    const size_t n = 3 * MIB;
    unsigned char *in = malloc(n);
    struct gen gn;
    gen_init(&gn, 5, 1); /* random: a big window is really needed */
    gen_fill(&gn, in, n / 2);
    memcpy(in + n / 2, in, n / 2); /* a match 1.5 MiB back */

    /* zstd with windowLog 22 (4 MiB) */
    size_t cap = ZSTD_compressBound(n);
    unsigned char *z = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 22);
    size_t zn = ZSTD_compress2(cc, z, cap, in, n);
    assert_false(ZSTD_isError(zn));
    ZSTD_freeCCtx(cc);
    struct bytes out = {0};
    struct compress_ctx *d = compress_codec_zstd.dec_create(1 * MIB);
    assert_non_null(d);
    unsigned char buf[4096];
    struct compress_io io = {.in = z, .in_len = zn, .out = buf, .out_cap = sizeof(buf)};
    assert_int_equal(compress_codec_zstd.decode(d, &io), COMPRESS_ERROR);
    assert_true(d->mem_peak <= 1 * MIB);
    compress_codec_destroy(d);
    /* the same frame under a cap that fits */
    assert_int_equal(fx_decode(&compress_codec_zstd, z, zn, 65536, 4096, &out, NULL), COMPRESS_END);
    assert_int_equal(out.len, n);
    free(out.p);
    free(z);

    /* br with lgwin 22 */
    size_t bn = BrotliEncoderMaxCompressedSize(n);
    unsigned char *b = malloc(bn);
    assert_true(BrotliEncoderCompress(1, 22, BROTLI_MODE_GENERIC, n, in, &bn, b));
    d = compress_codec_br.dec_create(1 * MIB);
    assert_non_null(d);
    enum compress_status st;
    io = (struct compress_io){.in = b, .in_len = bn, .out = buf, .out_cap = sizeof(buf)};
    do {
        io.out_len = 0;
        st = compress_codec_br.decode(d, &io);
    } while (st == COMPRESS_MORE);
    assert_int_equal(st, COMPRESS_ERROR);
    assert_true(d->mem_peak <= 1 * MIB);
    compress_codec_destroy(d);
    free(b);
    free(in);
}

/* Garbage fails cleanly, a truncated stream never reports its end, bytes after the end are
 * left unread. */
static void test_corrupt_truncated_trailing(void **state)
{
    (void)state;
    const size_t n = 50 * KIB;
    unsigned char *in = malloc(n);
    struct gen g;
    gen_init(&g, 3, 0);
    gen_fill(&g, in, n);
    for (size_t k = 0; k < NCODECS; k++) {
        const struct compress_codec_ops *ops = codecs[k];
        struct bytes enc = {0}, dec = {0};
        assert_int_equal(fx_encode(ops, ops->level_default, in, n, 4096, 4096, false, &enc, NULL),
                         COMPRESS_END);

        /* truncated: every prefix decodes without reaching the end */
        for (size_t cut = 0; cut < enc.len; cut += 1 + enc.len / 37) {
            dec.len = 0;
            enum compress_status st = fx_decode(ops, enc.p, cut, 999, 777, &dec, NULL);
            assert_true(st == COMPRESS_OK || st == COMPRESS_ERROR);
            assert_true(dec.len <= n && (dec.len == 0 || memcmp(dec.p, in, dec.len) == 0));
        }

        /* trailing bytes */
        size_t whole = enc.len;
        bytes_put(&enc, "TRAILING", 8);
        dec.len = 0;
        size_t used = 0;
        assert_int_equal(fx_decode(ops, enc.p, enc.len, enc.len, 4096, &dec, &used), COMPRESS_END);
        assert_int_equal(used, whole);
        assert_int_equal(dec.len, n);

        /* corrupted: flip bytes in the middle; must not crash, must not claim the original */
        for (size_t i = 0; i < 20; i++) {
            enc.len = whole;
            enc.p[whole / 2 + i] ^= 0x5a;
            dec.len = 0;
            enum compress_status st = fx_decode(ops, enc.p, enc.len, 1000, 1000, &dec, NULL);
            assert_true(dec.len <= 2 * n);
            if (ops == &compress_codec_gzip) /* CRC-32; br and zstd (no checksum) may not notice */
                assert_int_not_equal(st, COMPRESS_END);
            enc.p[whole / 2 + i] ^= 0x5a;
        }

        /* plain text is not a stream of any coding */
        dec.len = 0;
        static const char text[] = "HTTP/1.1 200 OK\r\nthis is not compressed at all, sorry";
        enum compress_status st =
            fx_decode(ops, (const unsigned char *)text, sizeof(text) - 1, 5, 64, &dec, NULL);
        if (ops == &compress_codec_br) /* no magic number: may read as an unfinished stream */
            assert_int_not_equal(st, COMPRESS_END);
        else
            assert_int_equal(st, COMPRESS_ERROR);
        free(enc.p);
        free(dec.p);
    }
    free(in);
}

/* 64 MiB through encoder and decoder in lockstep, 16 KiB pieces, nothing kept but a running
 * comparison with a regenerated input; both contexts' memory stays within their bounds (this
 * is what bounds RSS for a 1 GiB response: nothing grows with the body). A highly
 * compressible stretch makes the decoder's output per call hit its buffer limit
 * (decompression-bomb shape). */
static void stream_64mib(const struct compress_codec_ops *ops, int level)
{
    const size_t total = 64 * MIB, piece = 16 * KIB;
    struct gen src, check;
    gen_init(&src, 42, 0);
    gen_init(&check, 42, 0);
    struct compress_ctx *c = ops->enc_create(level, 8 * MIB);
    struct compress_ctx *d = ops->dec_create(2 * MIB);
    assert_non_null(c);
    assert_non_null(d);
    unsigned char in[16 * KIB], mid[4 * KIB], out[4 * KIB], want[4 * KIB];
    size_t fed = 0, checked = 0;
    enum compress_status est = COMPRESS_OK, dst = COMPRESS_OK;
    while (est != COMPRESS_END) {
        size_t len = total - fed < piece ? total - fed : piece;
        if ((fed / MIB) % 8 == 3)
            memset(in, 'a', len); /* 1 MiB of one byte in every 8 */
        else
            gen_fill(&src, in, len);
        bool last = fed + len == total;
        enum compress_flush fl = last ? COMPRESS_FLUSH_FINISH
                                 : (fed / piece) % 61 == 60 ? COMPRESS_FLUSH_SYNC
                                                            : COMPRESS_FLUSH_NONE;
        struct compress_io io = {.in = in, .in_len = len, .out = mid, .out_cap = sizeof(mid)};
        do {
            io.out_len = 0;
            est = ops->encode(c, &io, fl);
            assert_true(est != COMPRESS_ERROR);
            struct compress_io dio = {.in = mid, .in_len = io.out_len, .out = out,
                                      .out_cap = sizeof(out)};
            do {
                dio.out_len = 0;
                dst = ops->decode(d, &dio);
                assert_true(dst != COMPRESS_ERROR);
                for (size_t done = 0; done < dio.out_len;) {
                    size_t m = dio.out_len - done;
                    size_t at = checked + done;
                    if ((at / MIB) % 8 == 3) {
                        size_t stretch = MIB - at % MIB;
                        m = m < stretch ? m : stretch;
                        memset(want, 'a', m);
                    } else {
                        size_t stretch = MIB - at % MIB;
                        m = m < stretch ? m : stretch;
                        gen_fill(&check, want, m);
                    }
                    assert_memory_equal(out + done, want, m);
                    done += m;
                }
                checked += dio.out_len;
            } while (dst == COMPRESS_MORE || (dst == COMPRESS_OK && dio.in_used < dio.in_len));
        } while (est == COMPRESS_MORE);
        fed += len;
    }
    assert_int_equal(dst, COMPRESS_END);
    assert_int_equal(checked, total);
    print_message("  %s %d: 64 MiB, encoder peak %zu KiB, decoder peak %zu KiB\n", ops->name,
                  level, c->mem_peak / 1024, d->mem_peak / 1024);
    assert_true(c->mem_peak <= ops->enc_mem_bound(level));
    assert_true(d->mem_peak <= 2 * MIB);
    ops->destroy(c);
    ops->destroy(d);
}

static void test_stream_64mib_gzip_igzip(void **state)
{
    (void)state;
    stream_64mib(&compress_codec_gzip, 1);
}

static void test_stream_64mib_gzip_zlib(void **state)
{
    (void)state;
    stream_64mib(&compress_codec_gzip, 6);
}

static void test_stream_64mib_br(void **state)
{
    (void)state;
    stream_64mib(&compress_codec_br, compress_codec_br.level_default);
}

static void test_stream_64mib_zstd(void **state)
{
    (void)state;
    stream_64mib(&compress_codec_zstd, compress_codec_zstd.level_default);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_round_trip_random_chunking),
        cmocka_unit_test(test_sync_flush_makes_prefix_decodable),
        cmocka_unit_test(test_empty_stream),
        cmocka_unit_test(test_reset_equals_new),
        cmocka_unit_test(test_memory_within_bound),
        cmocka_unit_test(test_decoder_caps),
        cmocka_unit_test(test_corrupt_truncated_trailing),
        cmocka_unit_test(test_stream_64mib_gzip_igzip),
        cmocka_unit_test(test_stream_64mib_gzip_zlib),
        cmocka_unit_test(test_stream_64mib_br),
        cmocka_unit_test(test_stream_64mib_zstd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

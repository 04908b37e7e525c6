/* compress_bench.c — CPU per MB and ratio of the content codings, as the compress module runs
 * them: one encoder per response, the body fed in 16 KiB pieces (a proxy read), output drained
 * from a 16 KiB buffer, FLUSH_FINISH at the end, the context destroyed. Context setup is part
 * of the cost, as it is per response.
 *
 * Two tables per corpus file:
 *   backends  raw zlib deflate (levels 1–9, windowBits 15, memLevel 8 = nginx's defaults) and raw
 *             ISA-L igzip (levels 0–3, "SMALL" level buffers): the data behind codec_gzip.c's
 *             level mapping;
 *   codecs    weir's codecs through struct compress_codec_ops (gzip 1–9, br 0–6, zstd 1–6),
 *             each output decoded by the codec's own decoder and compared before timing,
 *             with the context's measured peak heap.
 * CPU = CLOCK_PROCESS_CPUTIME_ID (one thread), best of 5 runs of >= 0.2 s each, in µs per MB of
 * input (1 MB = 10^6 bytes). ratio = output / input. Numbers mean something only in a release
 * build without sanitizers. Usage: compress_bench FILE...   (bench/compress_bench.sh makes the
 * corpora and runs it.) */
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "modules/compress/codec.h"

#define PIECE 16384
#define OUTBUF 16384
#define RUNS 5
#define MIN_RUN_S 0.2

static unsigned char out_buf[OUTBUF];

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One response through raw zlib; returns the compressed size. */
static size_t raw_zlib(int level, const unsigned char *in, size_t n)
{
    z_stream z = {0};
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t total = 0;
    for (size_t off = 0;; off += PIECE) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        int flush = off + len == n ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = (unsigned char *)(uintptr_t)(in + off);
        z.avail_in = (unsigned)len;
        int rc;
        do {
            z.next_out = out_buf;
            z.avail_out = OUTBUF;
            rc = deflate(&z, flush);
            total += OUTBUF - z.avail_out;
        } while (z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
        if (flush == Z_FINISH)
            break;
    }
    deflateEnd(&z);
    return total;
}

/* One response through raw ISA-L igzip; returns the compressed size. */
static size_t raw_isal(int level, const unsigned char *in, size_t n)
{
    static const uint32_t bufsz[4] = {0, ISAL_DEF_LVL1_SMALL, ISAL_DEF_LVL2_SMALL,
                                      ISAL_DEF_LVL3_SMALL};
    struct isal_zstream *s = malloc(sizeof(*s));
    unsigned char *lb = bufsz[level] ? malloc(bufsz[level]) : NULL;
    if (!s || (bufsz[level] && !lb))
        abort();
    isal_deflate_init(s);
    s->gzip_flag = IGZIP_GZIP;
    s->level = (uint32_t)level;
    s->level_buf = lb;
    s->level_buf_size = bufsz[level];
    size_t total = 0;
    for (size_t off = 0;; off += PIECE) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        s->end_of_stream = off + len == n;
        s->next_in = (unsigned char *)(uintptr_t)(in + off);
        s->avail_in = (uint32_t)len;
        do {
            s->next_out = out_buf;
            s->avail_out = OUTBUF;
            if (isal_deflate(s) != COMP_OK)
                abort();
            total += OUTBUF - s->avail_out;
        } while (s->avail_out == 0 ||
                 (s->end_of_stream && s->internal_state.state != ZSTATE_END));
        if (s->end_of_stream)
            break;
    }
    free(lb);
    free(s);
    return total;
}

/* One response through a weir codec. With `keep`, the output is appended there (for the check),
 * and *peak receives the context's measured peak heap. */
static size_t codec_run(const struct compress_codec_ops *ops, int level, const unsigned char *in,
                        size_t n, unsigned char *keep, size_t *peak)
{
    struct compress_ctx *c = ops->enc_create(level, (size_t)1 << 30);
    if (!c)
        abort();
    size_t total = 0;
    for (size_t off = 0;; off += PIECE) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        enum compress_flush fl = off + len == n ? COMPRESS_FLUSH_FINISH : COMPRESS_FLUSH_NONE;
        struct compress_io io = {.in = in + off, .in_len = len, .out = out_buf, .out_cap = OUTBUF};
        enum compress_status st;
        do {
            io.out_len = 0;
            st = ops->encode(c, &io, fl);
            if (st == COMPRESS_ERROR)
                abort();
            if (keep)
                memcpy(keep + total, out_buf, io.out_len);
            total += io.out_len;
        } while (st == COMPRESS_MORE);
        if (fl == COMPRESS_FLUSH_FINISH)
            break;
    }
    if (peak)
        *peak = c->mem_peak;
    ops->destroy(c);
    return total;
}

/* Decodes enc[0..m) with the codec's own decoder and compares with in[0..n). */
static void codec_check(const struct compress_codec_ops *ops, const unsigned char *enc, size_t m,
                        const unsigned char *in, size_t n)
{
    struct compress_ctx *d = ops->dec_create((size_t)64 << 20);
    unsigned char *dec = malloc(n + OUTBUF);
    if (!d || !dec)
        abort();
    struct compress_io io = {.in = enc, .in_len = m, .out = dec, .out_cap = n + OUTBUF};
    if (ops->decode(d, &io) != COMPRESS_END || io.out_len != n || memcmp(dec, in, n) != 0) {
        fprintf(stderr, "compress_bench: %s round trip failed\n", ops->name);
        exit(1);
    }
    free(dec);
    ops->destroy(d);
}

enum backend { RAW_ZLIB, RAW_ISAL, CODEC };

struct job {
    enum backend backend;
    const struct compress_codec_ops *ops; /* CODEC */
    int level;
    const unsigned char *in;
    size_t n;
};

static size_t job_run(const struct job *j)
{
    switch (j->backend) {
    case RAW_ZLIB: return raw_zlib(j->level, j->in, j->n);
    case RAW_ISAL: return raw_isal(j->level, j->in, j->n);
    case CODEC: return codec_run(j->ops, j->level, j->in, j->n, NULL, NULL);
    }
    abort();
}

struct point {
    double us_per_mb;
    double ratio;
};

/* Best of RUNS timed runs, each repeating the job for at least MIN_RUN_S of CPU. */
static struct point measure(const struct job *j)
{
    size_t size = job_run(j);
    double best = 1e30;
    for (int run = 0; run < RUNS; run++) {
        long reps = 0;
        double t0 = cpu_now(), t;
        do {
            job_run(j);
            reps++;
        } while ((t = cpu_now() - t0) < MIN_RUN_S);
        double us = t * 1e6 / ((double)reps * (double)j->n / 1e6);
        if (us < best)
            best = us;
    }
    return (struct point){.us_per_mb = best, .ratio = (double)size / (double)j->n};
}

static unsigned char *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    if (!p || len <= 0 || fread(p, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void bench_file(const char *path)
{
    size_t n;
    unsigned char *in = load(path, &n);
    if (!in) {
        fprintf(stderr, "compress_bench: cannot read %s\n", path);
        exit(2);
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("\n## %s (%zu bytes)\n\n| backend | level | ratio | CPU µs/MB |\n|---|---|---|---|\n",
           base, n);
    struct point p;
    for (int l = 1; l <= 9; l++) {
        p = measure(&(struct job){.backend = RAW_ZLIB, .level = l, .in = in, .n = n});
        printf("| zlib | %d | %.4f | %.0f |\n", l, p.ratio, p.us_per_mb);
    }
    for (int l = 0; l <= 3; l++) {
        p = measure(&(struct job){.backend = RAW_ISAL, .level = l, .in = in, .n = n});
        printf("| igzip | %d | %.4f | %.0f |\n", l, p.ratio, p.us_per_mb);
    }

    printf("\n| codec | level | ratio | CPU µs/MB | peak heap KiB |\n|---|---|---|---|---|\n");
    static const struct {
        const struct compress_codec_ops *ops;
        int lo, hi;
    } runs[] = {{&compress_codec_gzip, 1, 9}, {&compress_codec_br, 0, 6},
                {&compress_codec_zstd, 1, 6}};
    unsigned char *keep = malloc(2 * n + 4096);
    if (!keep)
        abort();
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        for (int l = runs[r].lo; l <= runs[r].hi; l++) {
            size_t peak = 0;
            size_t m = codec_run(runs[r].ops, l, in, n, keep, &peak);
            codec_check(runs[r].ops, keep, m, in, n);
            p = measure(&(struct job){
                .backend = CODEC, .ops = runs[r].ops, .level = l, .in = in, .n = n});
            printf("| %s | %d | %.4f | %.0f | %zu |\n", runs[r].ops->name, l, p.ratio,
                   p.us_per_mb, (peak + 1023) / 1024);
        }
    }
    free(keep);
    free(in);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        bench_file(argv[i]);
    return 0;
}

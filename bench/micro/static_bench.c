/* static_bench.c — micro-benchmark of the static module: CPU cost per request of its pure parts
 * and of the open-file cache, and what cold file reads cost the thread that does them.
 *
 * Part 1 (ns per call, a temp tree of 1000 files): normalising a target; a file-cache hit
 * (normalise + lookup + unref); a miss (openat2 + fstat + ETag + MIME + rules, then close);
 * the MIME lookup, the rule match and the conditional decision alone.
 * Part 2 (one file of SIZE MiB, default 64, in $TMPDIR or /tmp; needs a disk-backed file system,
 * tmpfs is always "warm"): posix_fadvise(DONTNEED) drops the file from the page cache, then:
 * pread of the file in 256 KiB chunks, cold and warm (µs per chunk, MB/s); preadv2(RWF_NOWAIT)
 * of one byte on a cold and on a warm page; static_io_probe; sendfile to /dev/null, cold and
 * warm; and the round trip of a job through the I/O pool (submit → eventfd → callback).
 * Numbers mean something only in a release build without sanitizers.
 * Usage: static_bench [iterations] [file MiB]   (default 200000 64) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modules/static/cache_rules.h"
#include "modules/static/file_cache.h"
#include "modules/static/mime.h"
#include "modules/static/static_cond.h"
#include "modules/static/static_io.h"
#include "modules/static/static_path.h"

#define NFILES 1000
#define CHUNK (256 * 1024)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char dir[4096];
static char targets[NFILES][64]; /* "/assets/app.<hash>.js?v=N" */
static char paths[NFILES][64];   /* the same without the query */
static unsigned long sink;

static void make_tree(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/weir-static-bench-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char p[4200];
    snprintf(p, sizeof(p), "%s/assets", dir);
    mkdir(p, 0755);
    for (int i = 0; i < NFILES; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/assets/app.%08x.js", i * 2654435761u);
        snprintf(targets[i], sizeof(targets[i]), "%s?v=%d", paths[i], i);
        snprintf(p, sizeof(p), "%s/assets/app.%08x.js", dir, i * 2654435761u);
        FILE *f = fopen(p, "w");
        if (!f) {
            perror(p);
            exit(1);
        }
        fprintf(f, "console.log(%d)\n", i);
        fclose(f);
    }
}

static void cleanup_tree(void)
{
    char p[4200];
    for (int i = 0; i < NFILES; i++) {
        snprintf(p, sizeof(p), "%s/assets/app.%08x.js", dir, i * 2654435761u);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/assets", dir);
    rmdir(p);
    rmdir(dir);
}

static void part1(long iters)
{
    int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    static const char *const index_html[] = {"index.html"};
    struct static_resolve_cfg rcfg = {.root_fd = root, .index = index_html, .nindex = 1};
    char err[256];
    struct mime_config mc = {0};
    struct mime_table *mime = mime_table_new(&mc, err, sizeof(err));
    struct cache_glob html;
    cache_glob_compile("*.html", &html, err, sizeof(err));
    static const char *const jscss[] = {"js", "css"};
    const struct cache_rule rules[] = {
        {.glob = &html, .cache_control = "no-cache"},
        {.ext = jscss, .next = 2, .fingerprinted = true, .cache_control = "immutable"},
    };
    struct file_cache_cfg fcfg = {.resolve = &rcfg, .max_entries = 2 * NFILES,
                                  .valid_ms = UINT32_MAX, .mime = mime, .rules = rules,
                                  .nrules = 2};
    struct file_cache *fc = file_cache_new(&fcfg);
    if (!mime || !fc) {
        fprintf(stderr, "setup failed: %s\n", err);
        exit(1);
    }
    static struct static_norm n;
    struct static_path_opts o = {0};

    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        static_path_normalize(str_cstr(targets[i % NFILES]), true, &o, &n);
        sink += n.len;
    }
    double norm_ns = (now_ns() - t0) / (double)iters;

    for (int i = 0; i < NFILES; i++) { /* fill */
        static_path_normalize(str_cstr(targets[i]), true, &o, &n);
        file_cache_unref(fc, file_cache_get(fc, &n, 0));
    }
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        static_path_normalize(str_cstr(targets[i % NFILES]), true, &o, &n);
        struct file_cache_entry *e = file_cache_get(fc, &n, 1);
        sink += (unsigned long)e->file.fd;
        file_cache_unref(fc, e);
    }
    double hit_ns = (now_ns() - t0) / (double)iters;
    struct file_cache_stats s = file_cache_stats(fc);
    file_cache_free(fc);

    long miss_iters = iters / 20 > 0 ? iters / 20 : 1;
    fcfg.max_entries = 1;
    fc = file_cache_new(&fcfg);
    t0 = now_ns();
    for (long i = 0; i < miss_iters; i++) {
        static_path_normalize(str_cstr(targets[i % NFILES]), true, &o, &n);
        file_cache_unref(fc, file_cache_get(fc, &n, (uint64_t)i));
    }
    double miss_ns = (now_ns() - t0) / (double)miss_iters;
    file_cache_free(fc);

    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += mime_table_lookup(mime, str_cstr(paths[i % NFILES])).len;
    double mime_ns = (now_ns() - t0) / (double)iters;
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += cache_rules_match(rules, 2, str_cstr(paths[i % NFILES])) != NULL;
    double rules_ns = (now_ns() - t0) / (double)iters;
    struct static_cond_rep rep = {.etag = STR_LIT("\"17979cfe3d85cd15-4d2\""),
                                  .last_modified = 784111777, .size = 100000};
    struct static_cond_req req = {.if_none_match = STR_LIT("\"17979cfe3d85cd14-4d2\""),
                                  .if_modified_since = STR_LIT("Sun, 06 Nov 1994 08:49:37 GMT"),
                                  .range = STR_LIT("bytes=1000-1999"), .now = 1750000000};
    struct static_cond_decision d;
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        static_cond_evaluate(&req, &rep, &d);
        sink += d.offset;
    }
    double cond_ns = (now_ns() - t0) / (double)iters;

    printf("part 1: %d files, %ld iterations (hits %lu, misses %lu)\n", NFILES, iters,
           (unsigned long)s.hits, (unsigned long)s.misses);
    printf("  %-44s %9.1f ns\n", "normalise target", norm_ns);
    printf("  %-44s %9.1f ns\n", "normalise + file cache hit + unref", hit_ns);
    printf("  %-44s %9.1f ns\n", "normalise + miss (openat2, fstat, fill, close)", miss_ns);
    printf("  %-44s %9.1f ns\n", "mime lookup", mime_ns);
    printf("  %-44s %9.1f ns\n", "cache rules (glob miss, ext+fingerprint hit)", rules_ns);
    printf("  %-44s %9.1f ns\n", "conditional + range decision", cond_ns);
    mime_table_free(mime);
    close(root);
}

static int drop_cache(int fd)
{
    fdatasync(fd);
    return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* µs per CHUNK pread over the whole file. */
static double read_all(int fd, off_t size, char *buf)
{
    double t0 = now_ns();
    for (off_t off = 0; off < size; off += CHUNK)
        sink += (unsigned long)pread(fd, buf, CHUNK, off);
    return (now_ns() - t0) / 1e3 / (double)(size / CHUNK);
}

static double sendfile_all(int fd, int out, off_t size)
{
    double t0 = now_ns();
    off_t off = 0;
    while (off < size) {
        ssize_t r = sendfile(out, fd, &off, CHUNK);
        if (r <= 0)
            return -1;
    }
    return (now_ns() - t0) / 1e3 / (double)(size / CHUNK);
}

static void on_done(struct static_io_job *j)
{
    (*(int *)j->arg)++;
}

static void part2(long mib)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/big.bin", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
    off_t size = (off_t)mib * 1024 * 1024;
    char *buf = malloc(CHUNK);
    if (fd < 0 || !buf) {
        perror("big.bin");
        exit(1);
    }
    for (int i = 0; i < CHUNK; i++)
        buf[i] = (char)(i * 31);
    for (off_t off = 0; off < size; off += CHUNK)
        if (pwrite(fd, buf, CHUNK, off) != CHUNK) {
            perror("pwrite");
            exit(1);
        }
    printf("part 2: %ld MiB file, %d KiB chunks (%s)\n", mib, CHUNK / 1024, path);

    if (drop_cache(fd) != 0)
        printf("  posix_fadvise(DONTNEED) failed: cold numbers are warm\n");
    /* One byte at 64 spots 1 MiB apart: a miss still starts readahead (the kernel returns
     * EAGAIN after submitting it), which is most of what a cold probe costs. */
    char one;
    int misses = 0, spots = 64;
    double t0 = now_ns();
    for (int i = 0; i < spots; i++)
        misses += static_io_read_nowait(fd, &one, 1, (uint64_t)i * 1024 * 1024 % (uint64_t)size) ==
                  -EAGAIN;
    printf("  %-44s %9.0f ns  (%d of %d EAGAIN)\n", "RWF_NOWAIT 1 byte, cold page",
           (now_ns() - t0) / spots, misses, spots);
    drop_cache(fd);
    misses = 0;
    t0 = now_ns();
    for (int i = 0; i < spots; i++)
        misses += static_io_probe(fd, (uint64_t)i * 1024 * 1024 % (uint64_t)size, CHUNK) == 0;
    printf("  %-44s %9.0f ns  (%d of %d misses)\n", "static_io_probe, cold chunk",
           (now_ns() - t0) / spots, misses, spots);
    drop_cache(fd);

    double cold = read_all(fd, size, buf);
    double warm = read_all(fd, size, buf);
    printf("  %-44s %9.1f us  (%6.0f MB/s)\n", "pread per chunk, cold", cold, CHUNK / cold);
    printf("  %-44s %9.1f us  (%6.0f MB/s)\n", "pread per chunk, warm", warm, CHUNK / warm);

    long n = 100000;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += (unsigned long)static_io_read_nowait(fd, &one, 1,
                                                     (uint64_t)(i * 4096) % (uint64_t)size);
    printf("  %-44s %9.0f ns\n", "RWF_NOWAIT 1 byte, warm page", (now_ns() - t0) / (double)n);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += (unsigned long)static_io_probe(fd, (uint64_t)(i * CHUNK) % (uint64_t)size, CHUNK);
    printf("  %-44s %9.0f ns\n", "static_io_probe, warm chunk", (now_ns() - t0) / (double)n);

    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    drop_cache(fd);
    double sf_cold = sendfile_all(fd, devnull, size);
    double sf_warm = sendfile_all(fd, devnull, size);
    if (sf_cold < 0 || sf_warm < 0)
        printf("  sendfile to /dev/null: %s\n", strerror(errno));
    else {
        printf("  %-44s %9.1f us\n", "sendfile per chunk to /dev/null, cold", sf_cold);
        printf("  %-44s %9.1f us\n", "sendfile per chunk to /dev/null, warm", sf_warm);
    }
    close(devnull);

    struct static_io_pool *pool = static_io_pool_new(0);
    struct static_io_cq cq;
    static_io_cq_init(&cq);
    int done = 0;
    long rounds = 2000;
    struct static_io_job job = {.op = STATIC_IO_PREAD, .fd = fd, .len = 4096, .buf = buf,
                                .done = on_done, .arg = &done};
    t0 = now_ns();
    for (long i = 0; i < rounds; i++) {
        job.offset = (uint64_t)(i * 4096) % (uint64_t)size;
        static_io_submit(pool, &cq, &job);
        while (done <= i) {
            struct pollfd p = {.fd = static_io_cq_fd(&cq), .events = POLLIN};
            poll(&p, 1, 1000);
            static_io_poll_completions(&cq);
        }
    }
    printf("  %-44s %9.1f us\n", "pool round trip (4 KiB warm pread)",
           (now_ns() - t0) / 1e3 / (double)rounds);
    drop_cache(fd);
    struct static_io_job warmj = {.op = STATIC_IO_WARM, .fd = fd, .offset = 0, .len = CHUNK,
                                  .done = on_done, .arg = &done};
    t0 = now_ns();
    static_io_submit(pool, &cq, &warmj);
    while (done <= rounds) {
        struct pollfd p = {.fd = static_io_cq_fd(&cq), .events = POLLIN};
        poll(&p, 1, 1000);
        static_io_poll_completions(&cq);
    }
    printf("  %-44s %9.1f us  (then probe -> %d)\n", "pool WARM of one cold chunk",
           (now_ns() - t0) / 1e3, static_io_probe(fd, 0, CHUNK));
    static_io_pool_free(pool);
    static_io_cq_destroy(&cq);
    free(buf);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    long mib = argc > 2 ? strtol(argv[2], NULL, 10) : 64;
    if (iters <= 0 || mib <= 0) {
        fprintf(stderr, "usage: %s [iterations] [file MiB]\n", argv[0]);
        return 2;
    }
    make_tree();
    part1(iters);
    part2(mib);
    cleanup_tree();
    if (sink == 42)
        putchar(' ');
    return 0;
}

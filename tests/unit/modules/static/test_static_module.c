/* test_static_module.c — the `static:` module driven through the pipeline against the fake host
 * (module_fixture.h) on a real directory tree: replies and their headers, FILE bodies, HEAD,
 * 405, path refusals, redirects, the SPA fallback, conditionals (304/412), ranges (206/416,
 * If-Range), precompressed siblings by Accept-Encoding, Cache-Control rules, strip_prefix,
 * absolute-form targets; the cold path (a WAIT resumed through the worker's mailbox, an exchange
 * that ends while its job is in flight, the deadline); and config errors with their positions. */
#include "../module_fixture.h"
#include "static_fixture.h"

#include <pthread.h>

#include "modules/static/static_io.h"
#include "modules/static/static_module.h"

static char tmp[1024];
static char yaml[4096];

static int setup(void **state)
{
    (void)state;
    fx_tmp_new(tmp, sizeof(tmp));
    fx_write(tmp, "index.html", "<h1>home</h1>");
    fx_write(tmp, "a.txt", "0123456789");
    fx_write(tmp, "empty.txt", "");
    fx_write(tmp, ".env", "SECRET=1");
    fx_write(tmp, "app.3f9a2b1c.js", "console.log(1)");
    fx_write(tmp, "app.js", "console.log(2) /* long enough */");
    fx_write(tmp, "app.js.br", "BR");
    fx_write(tmp, "app.js.gz", "GZIP");
    fx_mtime(tmp, "app.js", 1700000000, 0);
    fx_mtime(tmp, "app.js.br", 1700000000, 0);
    fx_mtime(tmp, "app.js.gz", 1700000000, 0);
    fx_mtime(tmp, "a.txt", 1700000000, 0);
    fx_mkdir(tmp, "docs");
    fx_write(tmp, "docs/index.html", "docs");
    fx_mkdir(tmp, ".well-known");
    fx_write(tmp, ".well-known/security.txt", "contact");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_tmp_remove(tmp);
    return 0;
}

static void setup_route(const char *path, const char *extra)
{
    snprintf(yaml, sizeof(yaml),
             FX_ROUTE_HEAD "routes:\n  - path: %s\n    static:\n      root: %s\n"
                           "      mime: {types_file: none, add: {html: text/html, txt: text/plain, "
                           "js: text/javascript}}\n%s",
             path, tmp, extra);
    fx_setup(yaml);
    assert_ptr_equal(fx.chain->links[fx.chain->n - 1].m, &static_module);
}

/* Runs a request; returns the exchange (end it with fx_end). */
static struct fx_exchange *run(const char *head, enum pipeline_verdict want)
{
    struct fx_exchange *e = fx_exchange(0, head, NULL);
    assert_int_equal(pipeline_request(&e->x), want);
    return e;
}

/* The reply's body bytes, whichever way they are held (memory, or a file range). */
static const char *body_of(struct fx_exchange *e)
{
    static char out[256];
    const struct response *r = &e->x.reply;
    size_t n = r->body_kind == RESPONSE_BODY_FILE ? r->file_len : r->body_len;
    assert_true(n < sizeof(out));
    if (r->body_kind == RESPONSE_BODY_FILE)
        assert_int_equal(pread(r->file_fd, out, n, r->file_off), (ssize_t)n);
    else if (n)
        memcpy(out, r->body, n);
    out[n] = '\0';
    assert_int_equal(r->content_length, (int64_t)n);
    return out;
}

static void expect_status(const char *head, int status)
{
    struct fx_exchange *e = run(head, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, status);
    fx_end(e, (uint16_t)status);
}

static void serves_a_file(void **state)
{
    (void)state;
    setup_route("/", "");
    struct fx_exchange *e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    struct response *r = &e->x.reply;
    assert_true(e->x.has_reply);
    assert_int_equal(r->status, 200);
    assert_string_equal(fx_reply_header(e, "Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(fx_reply_header(e, "Accept-Ranges"), "bytes");
    assert_string_equal(fx_reply_header(e, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_string_equal(fx_reply_header(e, "X-Request-Id"), "rid");
    assert_non_null(fx_reply_header(e, "ETag"));
    assert_null(fx_reply_header(e, "Vary"));
    assert_null(fx_reply_header(e, "Cache-Control"));
    assert_int_equal(r->body_kind, RESPONSE_BODY_MEMORY); /* small: kept in memory */
    assert_string_equal(body_of(e), "0123456789");
    fx_end(e, 200);

    /* HEAD: the same head and length (the host sends no body) */
    e = run("HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_int_equal(e->x.reply.content_length, 10);
    fx_end(e, 200);

    /* an empty file: a memory body of 0 bytes */
    e = run("GET /empty.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.body_kind, RESPONSE_BODY_MEMORY);
    assert_int_equal(e->x.reply.content_length, 0);
    fx_end(e, 200);

    /* the root: its index file */
    e = run("GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(fx_reply_header(e, "Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(body_of(e), "<h1>home</h1>");
    fx_end(e, 200);

    /* absolute-form */
    e = run("GET http://a/a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(body_of(e), "0123456789");
    fx_end(e, 200);
    fx_teardown();
}

static void refuses_methods_and_paths(void **state)
{
    (void)state;
    setup_route("/", "");
    struct fx_exchange *e = run("POST /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                                PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 405);
    assert_string_equal(fx_reply_header(e, "Allow"), "GET, HEAD");
    fx_end(e, 405);
    expect_status("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /docs%2findex.html HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /a.txt%00.html HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /..%5c..%5cetc HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    expect_status("GET /.env HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    expect_status("GET /docs/../.env HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    expect_status("GET /nope.txt HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    expect_status("GET /a.txt/ HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    expect_status("GET /.well-known/security.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200);

    e = run("GET /docs?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 301);
    assert_string_equal(fx_reply_header(e, "Location"), "/docs/?q=1");
    fx_end(e, 301);
    e = run("GET /docs/ HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(body_of(e), "docs");
    fx_end(e, 200);
    fx_teardown();

    setup_route("/", "      hidden: true\n      well_known: false\n");
    expect_status("GET /.env HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    fx_teardown();
    setup_route("/", "      well_known: false\n      index: []\n");
    expect_status("GET /.well-known/security.txt HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    expect_status("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 404); /* no index, no listing */
    fx_teardown();
}

static void conditionals_and_ranges(void **state)
{
    (void)state;
    setup_route("/", "");
    struct fx_exchange *e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    char etag[256];
    snprintf(etag, sizeof(etag), "%s", fx_reply_header(e, "ETag"));
    fx_end(e, 200);
    char head[512];

    snprintf(head, sizeof(head), "GET /a.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    e = run(head, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 304);
    assert_true(e->x.reply.no_body);
    assert_int_equal(e->x.reply.body_kind, RESPONSE_BODY_NONE);
    assert_int_equal(e->x.reply.content_length, -1);
    assert_string_equal(fx_reply_header(e, "ETag"), etag);
    assert_null(fx_reply_header(e, "Content-Type"));
    fx_end(e, 304);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\n"
                  "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n", 304);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\n"
                  "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n\r\n", 200);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\nIf-Match: \"other\"\r\n\r\n", 412);

    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-4\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 206);
    assert_string_equal(fx_reply_header(e, "Content-Range"), "bytes 2-4/10");
    assert_string_equal(body_of(e), "234");
    assert_int_equal(e->x.reply.content_length, 3);
    fx_end(e, 206);
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=-3\r\n\r\n", PIPELINE_RESPOND);
    assert_string_equal(body_of(e), "789");
    fx_end(e, 206);
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=10-\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 416);
    assert_string_equal(fx_reply_header(e, "Content-Range"), "bytes */10");
    fx_end(e, 416);
    /* HEAD ignores Range; a repeated Range is ignored; a stale If-Range sends it all */
    expect_status("HEAD /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-4\r\n\r\n", 200);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\nRange: bytes=3-4\r\n\r\n",
                  200);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-4\r\nIf-Range: \"x\"\r\n\r\n",
                  200);
    snprintf(head, sizeof(head),
             "GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-4\r\nIf-Range: %s\r\n\r\n", etag);
    expect_status(head, 206);
    fx_teardown();
}

static const char *coding_for(const char *accept)
{
    static char out[256];
    char head[512];
    snprintf(head, sizeof(head), "GET /app.js HTTP/1.1\r\nHost: a\r\n%s\r\n", accept);
    struct fx_exchange *e = run(head, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(fx_reply_header(e, "Vary"), "Accept-Encoding");
    assert_string_equal(fx_reply_header(e, "Content-Type"), "text/javascript; charset=utf-8");
    const char *ce = fx_reply_header(e, "Content-Encoding");
    snprintf(out, sizeof(out), "%s", ce ? ce : "identity");
    bool identity = !ce;
    const char *etag = fx_reply_header(e, "ETag");
    if (!identity) /* each representation has its own tag */
        assert_non_null(strstr(etag, out));
    uint64_t len = (uint64_t)e->x.reply.content_length;
    assert_int_equal(len, identity ? 32 : strcmp(out, "br") == 0 ? 2 : 4);
    fx_end(e, 200);
    return out;
}

static void precompressed_siblings(void **state)
{
    (void)state;
    setup_route("/", "");
    assert_string_equal(coding_for(""), "identity");
    assert_string_equal(coding_for("Accept-Encoding: gzip, deflate, br\r\n"), "br");
    assert_string_equal(coding_for("Accept-Encoding: gzip\r\n"), "gzip");
    assert_string_equal(coding_for("Accept-Encoding: x-gzip\r\n"), "gzip");
    assert_string_equal(coding_for("Accept-Encoding: gzip;q=1, br;q=0.5\r\n"), "gzip");
    assert_string_equal(coding_for("Accept-Encoding: br;q=0, gzip;q=0.1\r\n"), "gzip");
    assert_string_equal(coding_for("Accept-Encoding: br;q=0.5, identity;q=0.9\r\n"), "identity");
    assert_string_equal(coding_for("Accept-Encoding: *\r\n"), "br");
    assert_string_equal(coding_for("Accept-Encoding: *;q=0.5, br;q=0\r\n"), "gzip");
    assert_string_equal(coding_for("Accept-Encoding: br;q=2, gzip;level=1\r\n"), "identity");
    assert_string_equal(coding_for("Accept-Encoding: zstd\r\n"), "identity");
    assert_string_equal(coding_for("Accept-Encoding: \r\n"), "identity");
    assert_string_equal(coding_for("Accept-Encoding: deflate\r\nAccept-Encoding: gzip\r\n"), "gzip");
    fx_teardown();

    /* only gzip configured: the .br is never looked for */
    setup_route("/", "      precompressed: [gzip]\n");
    assert_string_equal(coding_for("Accept-Encoding: br, gzip\r\n"), "gzip");
    fx_teardown();
    setup_route("/", "      precompressed: off\n");
    struct fx_exchange *e = run("GET /app.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\n\r\n",
                                PIPELINE_RESPOND);
    assert_null(fx_reply_header(e, "Content-Encoding"));
    assert_null(fx_reply_header(e, "Vary"));
    fx_end(e, 200);
    fx_teardown();
}

static void cache_control_and_fallback(void **state)
{
    (void)state;
    setup_route("/", "      try_files: [$uri, $uri/, /index.html]\n"
                     "      cache_control:\n"
                     "        - {match: \"*.html\", value: no-cache}\n"
                     "        - {fingerprinted: true, ext: [js, css], "
                     "value: \"public, max-age=31536000, immutable\"}\n"
                     "        - {match: \"/docs/**\", value: max-age=60}\n");
    struct fx_exchange *e = run("GET /app.3f9a2b1c.js HTTP/1.1\r\nHost: a\r\n\r\n",
                                PIPELINE_RESPOND);
    assert_string_equal(fx_reply_header(e, "Cache-Control"), "public, max-age=31536000, immutable");
    fx_end(e, 200);
    e = run("GET /app.js HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_null(fx_reply_header(e, "Cache-Control"));
    fx_end(e, 200);
    e = run("GET /some/client/route HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(fx_reply_header(e, "Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(fx_reply_header(e, "Cache-Control"), "no-cache");
    assert_string_equal(body_of(e), "<h1>home</h1>");
    fx_end(e, 200);
    e = run("GET /docs/ HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_string_equal(fx_reply_header(e, "Cache-Control"), "no-cache"); /* first match */
    fx_end(e, 200);
    /* the fallback does not serve what the path rules refuse */
    expect_status("GET /.env HTTP/1.1\r\nHost: a\r\n\r\n", 404);
    fx_teardown();

    setup_route("/", "      try_files: [$uri, =410]\n");
    expect_status("GET /gone HTTP/1.1\r\nHost: a\r\n\r\n", 410);
    fx_teardown();
}

static void strip_prefix(void **state)
{
    (void)state;
    setup_route("/assets/", "      strip_prefix: true\n");
    struct fx_exchange *e = run("GET /assets/a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(body_of(e), "0123456789");
    fx_end(e, 200);
    e = run("GET /assets/docs HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 301);
    assert_string_equal(fx_reply_header(e, "Location"), "/assets/docs/");
    fx_end(e, 301);
    expect_status("GET /assets/ HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    fx_teardown();
}

static int nprobes;

static int counting_probe(int fd, uint64_t off, size_t len)
{
    nprobes++;
    return static_io_probe(fd, off, len);
}

static void file_bodies(void **state)
{
    (void)state;
    setup_route("/", "      open_file_cache: {inline: 0}\n");
    static_module_probe = counting_probe;
    nprobes = 0;
    struct fx_exchange *e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    struct response *r = &e->x.reply;
    assert_int_equal(r->body_kind, RESPONSE_BODY_FILE);
    assert_true(r->file_fd >= 0);
    assert_int_equal(r->file_off, 0);
    assert_int_equal(r->file_len, 10);
    assert_string_equal(body_of(e), "0123456789");
    fx_end(e, 200);
    assert_int_equal(nprobes, 1);
    /* the first bytes were seen cached: trusted for a second, then probed again */
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    fx_end(e, 200);
    assert_int_equal(nprobes, 1);
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=4-5\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.file_off, 4);
    assert_int_equal(e->x.reply.file_len, 2);
    fx_end(e, 206);
    assert_int_equal(nprobes, 2); /* elsewhere in the file: probed */
    fx_advance(1001);
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    fx_end(e, 200);
    assert_int_equal(nprobes, 3);
    e = run("HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    fx_end(e, 200);
    assert_int_equal(nprobes, 3); /* HEAD reads nothing */
    static_module_probe = static_io_probe;
    fx_teardown();
}

/* ---- the cold path ---------------------------------------------------------------------------- */

static int cold_probe(int fd, uint64_t off, size_t len)
{
    (void)fd;
    (void)off;
    (void)len;
    return 0;
}

/* A thread-safe post (the pool's threads call it) that the test thread waits for. */
static pthread_mutex_t post_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t post_cv = PTHREAD_COND_INITIALIZER;

static int safe_post(struct pipeline_worker *self, uint32_t to, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&post_mu);
    int r = fx_post_fn(self, to, fn, arg);
    pthread_cond_signal(&post_cv);
    pthread_mutex_unlock(&post_mu);
    return r;
}

static void wait_post(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 10;
    pthread_mutex_lock(&post_mu);
    while (!fx.nposts)
        if (pthread_cond_timedwait(&post_cv, &post_mu, &t) != 0)
            break;
    assert_int_equal(fx.nposts, 1);
    pthread_mutex_unlock(&post_mu);
    assert_int_equal(fx_run_posts(), 1);
}

static void cold_reads_wait_for_the_pool(void **state)
{
    (void)state;
    setup_route("/", "      open_file_cache: {inline: 0}\n");
    fx.workers[0].post = safe_post;
    static_module_probe = cold_probe;

    /* resumed through the mailbox, then answered */
    struct fx_exchange *e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_WAIT);
    wait_post();
    assert_int_equal(e->done_calls, 1);
    assert_int_equal(e->done, PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 200);
    assert_string_equal(body_of(e), "0123456789");
    fx_end(e, 200);

    /* HEAD reads nothing: no wait */
    expect_status("HEAD /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200);

    /* the client leaves first: the completion finds no exchange */
    fx_advance(1001); /* past the trust the warm-up earned */
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_WAIT);
    fx_end(e, 499);
    /* the job either freed itself on the pool thread or posted a call that finds nobody */
    for (int i = 0; i < 200 && !fx.nposts; i++)
        usleep(1000);
    pthread_mutex_lock(&post_mu);
    fx_run_posts();
    pthread_mutex_unlock(&post_mu);

    /* the pool never answers (its post fails): the deadline answers 503 */
    fx.workers[0].post = fx_post_fn;
    fx.nposts = FX_MAX_POSTS; /* full: post fails */
    e = run("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_WAIT);
    usleep(100 * 1000);
    fx_advance(10001);
    assert_int_equal(e->done_calls, 1);
    assert_int_equal(e->x.reply.status, 503);
    fx_end(e, 503);
    fx.nposts = 0;

    static_module_probe = static_io_probe;
    fx_teardown();
}

/* Windows of the body past the first 256 KiB: probed before the host sends them; a cold one is
 * warmed by the pool and the host told to go on through the mailbox; an exchange that ends
 * while its window warms is not told anything. */
static void later_windows_warm_in_the_pool(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof(path), "%s/big.bin", tmp);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    static char chunk[65536];
    memset(chunk, 'b', sizeof(chunk));
    for (int i = 0; i < 16; i++) /* 1 MiB */
        assert_int_equal(fwrite(chunk, 1, sizeof(chunk), f), sizeof(chunk));
    fclose(f);
    setup_route("/", "      open_file_cache: {inline: 0}\n");
    fx.workers[0].post = safe_post;
    const size_t mib = 1u << 20;

    /* warm: the first 256 KiB need no second look; the window past them is probed once */
    static_module_probe = counting_probe;
    nprobes = 0;
    struct fx_exchange *e = run("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_RESPOND);
    assert_int_equal(nprobes, 1);
    assert_int_equal(pipeline_file_window(&e->x, 0, 256 * 1024), 0);
    assert_int_equal(nprobes, 1);
    assert_int_equal(pipeline_file_window(&e->x, 0, mib), 0);
    assert_int_equal(nprobes, 2);
    assert_int_equal(pipeline_file_window(&e->x, 0, mib), 0);
    assert_int_equal(nprobes, 2);
    fx_end(e, 200);

    /* cold: held back, warmed, continued; then the window is known warm */
    static_module_probe = cold_probe;
    fx_advance(1001);
    e = run("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_WAIT);
    wait_post();
    assert_int_equal(e->done, PIPELINE_RESPOND);
    fx.nposts = 0;
    assert_int_equal(pipeline_file_window(&e->x, 0, mib), 1);
    assert_int_equal(e->continue_calls, 0);
    wait_post();
    fx.nposts = 0;
    assert_int_equal(e->continue_calls, 1);
    assert_int_equal(pipeline_file_window(&e->x, 0, mib), 0);
    assert_int_equal(e->x.reply.status, 200);
    fx_end(e, 200);

    /* the client leaves while a window warms: nobody is told */
    fx_advance(1001);
    e = run("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n", PIPELINE_WAIT);
    wait_post();
    fx.nposts = 0;
    assert_int_equal(pipeline_file_window(&e->x, 0, mib), 1);
    fx_end(e, 499); /* frees e: a late body_continue would be a use after free (ASan) */
    for (int i = 0; i < 200 && !fx.nposts; i++)
        usleep(1000);
    pthread_mutex_lock(&post_mu);
    fx_run_posts();
    pthread_mutex_unlock(&post_mu);

    static_module_probe = static_io_probe;
    unlink(path);
    fx_teardown();
}

/* ---- configuration errors --------------------------------------------------------------------- */

static void config_error(const char *section, const char *want)
{
    char y[2048];
    snprintf(y, sizeof(y), FX_ROUTE_HEAD "routes:\n  - path: /\n    static:%s\n", section);
    modules_register();
    struct cfg_error err;
    struct config *cfg = config_load_buffer(y, strlen(y), "test.yaml", &err);
    if (cfg)
        fail_msg("loaded: %s", section);
    if (!strstr(err.msg, want))
        fail_msg("got '%s', want '%s'", err.msg, want);
}

static void config_errors(void **state)
{
    (void)state;
    config_error(" relative/dir", "test.yaml:7:13: 'root' must be an absolute path");
    config_error(" /nonexistent/weir", "test.yaml:7:13: cannot open root '/nonexistent/weir'");
    config_error("\n      index: [a.html]", "test.yaml:8:7: missing required key 'root'");
    char s[1400];
    snprintf(s, sizeof(s), "\n      root: %s\n      listing: true", tmp);
    config_error(s, "test.yaml:9:7: unknown key 'listing'");
    snprintf(s, sizeof(s), "\n      root: %s\n      try_files: [$uri, =410, /index.html]", tmp);
    config_error(s, "test.yaml:9:25: '=NNN' must be the last entry");
    snprintf(s, sizeof(s), "\n      root: %s\n      try_files: [uri]", tmp);
    config_error(s, "test.yaml:9:19: invalid entry 'uri' in 'try_files'");
    snprintf(s, sizeof(s), "\n      root: %s\n      index: [a/b.html]", tmp);
    config_error(s, "test.yaml:9:15: invalid entry 'a/b.html' in 'index'");
    snprintf(s, sizeof(s), "\n      root: %s\n      precompressed: [br, deflate]", tmp);
    config_error(s, "test.yaml:9:27: unknown coding 'deflate'");
    snprintf(s, sizeof(s), "\n      root: %s\n      symlinks: maybe", tmp);
    config_error(s, "test.yaml:9:17: 'symlinks' must be inside_root or none");
    snprintf(s, sizeof(s), "\n      root: %s\n      cache_control: [{match: \"[a-\", value: x}]",
             tmp);
    config_error(s, "test.yaml:9:31: invalid 'match'");
    snprintf(s, sizeof(s), "\n      root: %s\n      cache_control: [{match: \"*.js\"}]", tmp);
    config_error(s, "missing required key 'value'");
    snprintf(s, sizeof(s), "\n      root: %s\n      mime: {add: {js: nonsense}}", tmp);
    config_error(s, "test.yaml:9:24: invalid type 'nonsense'");
    snprintf(s, sizeof(s), "\n      root: %s\n      mime: {types_file: /nonexistent}", tmp);
    config_error(s, "test.yaml:9:26: cannot build the MIME table");
    snprintf(s, sizeof(s), "\n      root: %s\n      open_file_cache: {max: 0}", tmp);
    config_error(s, "test.yaml:9:30: 'max' must be an integer in 1..1000000");
    config_error(" [a]", "test.yaml:7:13: expected a mapping or a root directory");
}

static void route_needs_no_upstream(void **state)
{
    (void)state;
    snprintf(yaml, sizeof(yaml), "listen: [\"127.0.0.1:1\"]\nroutes:\n  - {path: /, static: %s}\n",
             tmp);
    fx_setup(yaml);
    expect_status("GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 200);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_a_file),
        cmocka_unit_test(refuses_methods_and_paths),
        cmocka_unit_test(conditionals_and_ranges),
        cmocka_unit_test(precompressed_siblings),
        cmocka_unit_test(cache_control_and_fallback),
        cmocka_unit_test(strip_prefix),
        cmocka_unit_test(file_bodies),
        cmocka_unit_test(cold_reads_wait_for_the_pool),
        cmocka_unit_test(later_windows_warm_in_the_pool),
        cmocka_unit_test(config_errors),
        cmocka_unit_test(route_needs_no_upstream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

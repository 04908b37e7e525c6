/* test_file_cache.c — the open-file cache on a real tree: hits and what an entry carries (ETag,
 * Last-Modified, Content-Type, Cache-Control), LRU eviction, an evicted entry's fd staying open
 * while referenced, revalidation after an mtime change, fallback and error entries dropped when
 * they expire, negative caching on and off; precompressed siblings (newer ones only, the
 * preference order, a sibling appearing later). Time is synthetic (now_ms is passed in). */
#include "static_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "modules/static/file_cache.h"

static char tmp[4096];
static int root_fd = -1;
static struct mime_table *mime;

static const char *const index_html[] = {"index.html"};
static const char *const spa[] = {"$uri", "$uri/", "/index.html"};

static int setup(void **state)
{
    (void)state;
    fx_tmp_new(tmp, sizeof(tmp));
    fx_write(tmp, "index.html", "<h1>hi</h1>");
    fx_write(tmp, "a.txt", "aaa");
    fx_write(tmp, "b.txt", "bbb");
    fx_write(tmp, "c.txt", "ccc");
    fx_write(tmp, "app.3f9a2b1c.js", "console.log(1)");
    fx_write(tmp, "app.js", "console.log(2)");
    fx_write(tmp, "app.js.br", "BR");
    fx_write(tmp, "app.js.gz", "GZ");
    fx_mtime(tmp, "app.js", 1700000000, 500);
    fx_mtime(tmp, "app.js.br", 1700000000, 500); /* same time: still fresh */
    fx_mtime(tmp, "app.js.gz", 1699999999, 0);   /* older: never served */
    fx_mkdir(tmp, "docs");
    fx_write(tmp, "docs/index.html", "docs");
    root_fd = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
    static const struct mime_override ov[] = {
        {"html", "text/html"}, {"txt", "text/plain"}, {"js", "text/javascript"}};
    struct mime_config mc = {.types_path = "", .overrides = ov, .noverrides = 3};
    char err[128];
    mime = mime_table_new(&mc, err, sizeof(err));
    return root_fd >= 0 && mime ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mime_table_free(mime);
    close(root_fd);
    fx_tmp_remove(tmp);
    return 0;
}

static struct static_resolve_cfg rcfg(void)
{
    return (struct static_resolve_cfg){
        .root_fd = root_fd, .index = index_html, .nindex = 1, .try_files = spa, .ntry = 3};
}

static struct file_cache_entry *get(struct file_cache *c, const char *target, uint64_t now)
{
    struct static_norm n;
    struct static_path_opts o = {0};
    assert_int_equal(static_path_normalize(str_cstr(target), true, &o, &n), 0);
    struct file_cache_entry *e = file_cache_get(c, &n, now);
    assert_non_null(e);
    return e;
}

static void test_entry_fields(void **state)
{
    (void)state;
    struct static_resolve_cfg r = rcfg();
    struct cache_glob html;
    char err[64];
    assert_int_equal(cache_glob_compile("*.html", &html, err, sizeof(err)), 0);
    const struct cache_rule rules[] = {
        {.glob = &html, .cache_control = "no-cache"},
        {.fingerprinted = true, .cache_control = "max-age=31536000, immutable"}};
    struct file_cache_cfg cfg = {.resolve = &r, .max_entries = 8, .valid_ms = 1000,
                                 .cache_errors = true, .mime = mime, .rules = rules, .nrules = 2};
    struct file_cache *c = file_cache_new(&cfg);
    assert_non_null(c);

    struct file_cache_entry *e = get(c, "/a.txt", 0);
    assert_int_equal(e->status, 200);
    assert_string_equal(e->path, "a.txt");
    assert_true(e->file.fd >= 0);
    assert_int_equal(e->file.st.st_size, 3);
    assert_int_equal(e->file.etag[0], '"');
    assert_int_equal(e->file.etag_len, strlen(e->file.etag));
    assert_int_equal(strlen(e->last_modified), STATIC_DATE_LEN);
    assert_true(str_eq(e->content_type, STR_LIT("text/plain; charset=utf-8")));
    assert_null(e->cache_control);
    struct file_cache_entry *again = get(c, "/a.txt", 10);
    assert_ptr_equal(again, e);
    assert_int_equal(file_cache_stats(c).hits, 1);
    file_cache_unref(c, again);
    file_cache_unref(c, e);

    /* the SPA fallback: content type and rules follow the file served, not the target */
    e = get(c, "/some/route", 0);
    assert_int_equal(e->status, 200);
    assert_string_equal(e->path, "index.html");
    assert_true(str_eq(e->content_type, STR_LIT("text/html; charset=utf-8")));
    assert_string_equal(e->cache_control, "no-cache");
    file_cache_unref(c, e);
    e = get(c, "/app.3f9a2b1c.js", 0);
    assert_string_equal(e->cache_control, "max-age=31536000, immutable");
    file_cache_unref(c, e);
    e = get(c, "/docs", 0);
    assert_int_equal(e->status, 301);
    assert_string_equal(e->path, "docs");
    assert_int_equal(e->file.fd, -1);
    file_cache_unref(c, e);
    e = get(c, "/docs/", 0); /* a different key from "/docs" */
    assert_int_equal(e->status, 200);
    assert_string_equal(e->path, "docs/index.html");
    file_cache_unref(c, e);
    assert_int_equal(file_cache_count(c), 5);
    file_cache_free(c);
}

static void test_lru(void **state)
{
    (void)state;
    struct static_resolve_cfg r = rcfg();
    struct file_cache_cfg cfg = {.resolve = &r, .max_entries = 2, .valid_ms = 100000};
    struct file_cache *c = file_cache_new(&cfg);
    file_cache_unref(c, get(c, "/a.txt", 0));
    file_cache_unref(c, get(c, "/b.txt", 1));
    file_cache_unref(c, get(c, "/a.txt", 2)); /* a is now the most recent */
    file_cache_unref(c, get(c, "/c.txt", 3)); /* evicts b */
    struct file_cache_stats s = file_cache_stats(c);
    assert_int_equal(s.evictions, 1);
    assert_int_equal(s.hits, 1);
    assert_int_equal(file_cache_count(c), 2);
    file_cache_unref(c, get(c, "/a.txt", 4));
    assert_int_equal(file_cache_stats(c).hits, 2);
    file_cache_unref(c, get(c, "/b.txt", 5)); /* a miss again, evicts c */
    assert_int_equal(file_cache_stats(c).misses, s.misses + 1);
    assert_int_equal(file_cache_stats(c).evictions, 2);

    /* an entry in use survives its eviction with its fd open */
    struct file_cache_entry *held = get(c, "/a.txt", 6);
    int fd = held->file.fd;
    file_cache_unref(c, get(c, "/b.txt", 7));
    file_cache_unref(c, get(c, "/c.txt", 8)); /* evicts a */
    file_cache_unref(c, get(c, "/index.html", 9));
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char buf[4];
    assert_int_equal(pread(fd, buf, 3, 0), 3);
    assert_memory_equal(buf, "aaa", 3);
    file_cache_unref(c, held); /* freed now */
    file_cache_free(c);
}

static void test_revalidate(void **state)
{
    (void)state;
    struct static_resolve_cfg r = rcfg();
    struct file_cache_cfg cfg = {.resolve = &r, .max_entries = 8, .valid_ms = 100,
                                 .cache_errors = true};
    struct file_cache *c = file_cache_new(&cfg);
    fx_write(tmp, "v.txt", "one");
    fx_mtime(tmp, "v.txt", 1600000000, 0);
    struct file_cache_entry *e1 = get(c, "/v.txt", 1000);
    char etag1[STATIC_ETAG_MAX];
    memcpy(etag1, e1->file.etag, sizeof(etag1));
    file_cache_unref(c, e1);

    /* unchanged after the validity period: re-stat'ed and kept */
    struct file_cache_entry *e = get(c, "/v.txt", 1200);
    assert_ptr_equal(e, e1);
    assert_int_equal(file_cache_stats(c).revalidated, 1);
    file_cache_unref(c, e);

    /* rewritten: still served from the cache within the period, then refreshed */
    fx_write(tmp, "v.txt", "two!");
    fx_mtime(tmp, "v.txt", 1600000001, 0);
    e = get(c, "/v.txt", 1250);
    assert_int_equal(e->file.st.st_size, 3);
    file_cache_unref(c, e);
    e = get(c, "/v.txt", 1301);
    assert_int_equal(e->file.st.st_size, 4);
    assert_string_not_equal(e->file.etag, etag1);
    assert_int_equal(file_cache_stats(c).dropped, 1);
    file_cache_unref(c, e);

    /* a fallback entry is resolved again once expired: the route now exists */
    e = get(c, "/late", 2000);
    assert_string_equal(e->path, "index.html");
    file_cache_unref(c, e);
    fx_write(tmp, "late", "now here");
    e = get(c, "/late", 2050);
    assert_string_equal(e->path, "index.html");
    file_cache_unref(c, e);
    e = get(c, "/late", 2100);
    assert_string_equal(e->path, "late");
    file_cache_unref(c, e);

    /* a deleted file is noticed after the period */
    fx_write(tmp, "gone.txt", "x");
    e = get(c, "/gone.txt", 3000);
    file_cache_unref(c, e);
    char p[4096];
    fx_path(p, sizeof(p), tmp, "gone.txt");
    unlink(p);
    e = get(c, "/gone.txt", 3100);
    assert_string_equal(e->path, "index.html"); /* the SPA fallback */
    file_cache_unref(c, e);
    file_cache_free(c);
}

static void test_negative(void **state)
{
    (void)state;
    struct static_resolve_cfg r = {.root_fd = root_fd, .index = index_html, .nindex = 1};
    struct file_cache_cfg cfg = {.resolve = &r, .max_entries = 8, .valid_ms = 100,
                                 .cache_errors = true};
    struct file_cache *c = file_cache_new(&cfg);
    struct file_cache_entry *e = get(c, "/nope", 0);
    assert_int_equal(e->status, 404);
    file_cache_unref(c, e);
    assert_int_equal(file_cache_count(c), 1);
    file_cache_unref(c, get(c, "/nope", 10));
    assert_int_equal(file_cache_stats(c).hits, 1);
    file_cache_unref(c, get(c, "/nope", 200)); /* expired: dropped, resolved again */
    assert_int_equal(file_cache_stats(c).dropped, 1);
    file_cache_free(c);

    cfg.cache_errors = false;
    c = file_cache_new(&cfg);
    e = get(c, "/nope", 0);
    assert_int_equal(e->status, 404);
    assert_int_equal(file_cache_count(c), 0);
    file_cache_unref(c, e);
    file_cache_unref(c, get(c, "/nope", 1));
    assert_int_equal(file_cache_stats(c).misses, 2);
    file_cache_free(c);
}

static void test_precompressed(void **state)
{
    (void)state;
    struct static_resolve_cfg r = rcfg();
    struct file_cache_cfg cfg = {.resolve = &r, .max_entries = 8, .valid_ms = 100,
                                 .precompressed = true};
    struct file_cache *c = file_cache_new(&cfg);
    struct file_cache_entry *e = get(c, "/app.js", 0);
    assert_true(e->sib[PRECOMPRESSED_BR].fd >= 0);
    assert_int_equal(e->sib[PRECOMPRESSED_GZIP].fd, -1); /* older than app.js */
    assert_int_equal(e->sib[PRECOMPRESSED_ZSTD].fd, -1);
    assert_int_equal(e->sib[PRECOMPRESSED_BR].st.st_size, 2);
    assert_non_null(strstr(e->sib[PRECOMPRESSED_BR].etag, "-br\""));
    assert_string_not_equal(e->sib[PRECOMPRESSED_BR].etag, e->file.etag);

    enum precompressed_enc gz_br[] = {PRECOMPRESSED_GZIP, PRECOMPRESSED_BR};
    enum precompressed_enc gz[] = {PRECOMPRESSED_GZIP};
    assert_int_equal(file_cache_pick(e, gz_br, 2), PRECOMPRESSED_BR);
    assert_int_equal(file_cache_pick(e, gz, 1), PRECOMPRESSED_NONE);
    assert_int_equal(file_cache_pick(e, NULL, 0), PRECOMPRESSED_NONE);
    file_cache_unref(c, e);

    /* a sibling that appears later is found once the entry is checked again */
    fx_write(tmp, "app.js.zst", "ZS");
    fx_mtime(tmp, "app.js.zst", 1700000001, 0);
    e = get(c, "/app.js", 50);
    assert_int_equal(e->sib[PRECOMPRESSED_ZSTD].fd, -1);
    file_cache_unref(c, e);
    e = get(c, "/app.js", 150);
    assert_true(e->sib[PRECOMPRESSED_ZSTD].fd >= 0);
    enum precompressed_enc zstd_br[] = {PRECOMPRESSED_ZSTD, PRECOMPRESSED_BR};
    assert_int_equal(file_cache_pick(e, zstd_br, 2), PRECOMPRESSED_ZSTD);
    file_cache_unref(c, e);
    file_cache_free(c);

    /* the lookup on its own: preference order and freshness */
    int fd;
    struct stat orig, st;
    assert_int_equal(fstatat(root_fd, "app.js", &orig, 0), 0);
    enum precompressed_enc all[] = {PRECOMPRESSED_GZIP, PRECOMPRESSED_ZSTD, PRECOMPRESSED_BR};
    struct static_path_opts o = {0};
    assert_int_equal(precompressed_find(root_fd, &o, "app.js", 6, &orig, all, 3, &fd, &st),
                     PRECOMPRESSED_ZSTD);
    close(fd);
    assert_int_equal(precompressed_find(root_fd, &o, "a.txt", 5, &orig, all, 3, &fd, &st),
                     PRECOMPRESSED_NONE);
    assert_int_equal(fd, -1);
    assert_true(str_eq(precompressed_coding(PRECOMPRESSED_ZSTD), STR_LIT("zstd")));
    assert_true(str_eq(precompressed_suffix(PRECOMPRESSED_GZIP), STR_LIT(".gz")));
    char p[4096];
    fx_path(p, sizeof(p), tmp, "app.js.zst");
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_fields), cmocka_unit_test(test_lru),
        cmocka_unit_test(test_revalidate),   cmocka_unit_test(test_negative),
        cmocka_unit_test(test_precompressed),
    };
    return cmocka_run_group_tests_name("file_cache", tests, setup, teardown);
}

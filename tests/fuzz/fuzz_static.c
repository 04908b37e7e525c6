/* fuzz_static.c — libFuzzer driver for the static module's parsers: target normalisation, the
 * slash-redirect Location, Range, conditional headers, HTTP dates and Cache-Control globs.
 *
 * Input: one flag byte (bit 0 allow_hidden, bit 1 allow_well_known, bit 2 decode, bits 3-7 the
 * file size's magnitude), then up to six '\n'-separated fields: target, Range, If-None-Match,
 * an HTTP-date, If-Range, a glob. Checked:
 * - a normalised path is clean (relative, no empty / "." / ".." segment, no NUL, no control
 *   byte or '\' when decoding, no hidden segment unless allowed, within STATIC_PATH_MAX) and
 *   normalising it again (undecoded) gives the same path;
 * - the Location is one leading '/', never "//", only visible ASCII;
 * - a range lies inside the file, a decision is one of the documented ones and consistent;
 * - an accepted date prints and parses back to the same instant;
 * - the glob NFA agrees with a plain backtracking matcher on short inputs. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "modules/static/cache_rules.h"
#include "modules/static/static_cond.h"
#include "modules/static/static_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const struct static_norm *n, bool decode, const struct static_path_opts *o)
{
    CHECK(n->len <= STATIC_PATH_MAX && strlen(n->path) == n->len);
    const char *p = n->path;
    if (n->len == 0)
        return;
    CHECK(p[0] != '/' && p[n->len - 1] != '/');
    size_t i = 0;
    while (i <= n->len) {
        const char *slash = memchr(p + i, '/', n->len - i);
        size_t seg = slash ? (size_t)(slash - (p + i)) : n->len - i;
        CHECK(seg > 0);
        CHECK(!(seg == 1 && p[i] == '.') && !(seg == 2 && p[i] == '.' && p[i + 1] == '.'));
        if (p[i] == '.' && !o->allow_hidden)
            CHECK(o->allow_well_known && i == 0 && seg == 11 && !memcmp(p, ".well-known", 11));
        i += seg + 1;
    }
    for (i = 0; i < n->len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (decode)
            CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
}

static void fuzz_path(struct str target, const struct static_path_opts *o, bool decode)
{
    static struct static_norm n, again;
    int rc = static_path_normalize(target, decode, o, &n);
    CHECK(rc == 0 || rc == STATIC_PATH_BAD || rc == STATIC_PATH_NOT_FOUND ||
          rc == STATIC_PATH_TOO_LONG);
    if (rc != 0)
        return;
    check_clean(&n, decode, o);
    if (n.query.ptr)
        CHECK(n.query.ptr >= target.ptr && n.query.ptr + n.query.len <= target.ptr + target.len);

    /* idempotent, unless the path holds a decoded '?' or '#' (they would cut it again) */
    if (!memchr(n.path, '?', n.len) && !memchr(n.path, '#', n.len)) {
        char *t = malloc(n.len + 3);
        CHECK(t != NULL);
        t[0] = '/';
        memcpy(t + 1, n.path, n.len);
        size_t tl = n.len + 1;
        if (n.dir && n.len)
            t[tl++] = '/';
        CHECK(static_path_normalize(str_from(t, tl), false, o, &again) == 0);
        CHECK(again.len == n.len && memcmp(again.path, n.path, n.len) == 0);
        CHECK(again.dir == n.dir);
        free(t);
    }

    static char loc[3 * STATIC_PATH_MAX + 16];
    int l = static_path_location(n.path, n.len, n.query, loc, sizeof(loc));
    if (l > 0) {
        CHECK((size_t)l == strlen(loc) && loc[0] == '/');
        CHECK(l == 1 || loc[1] != '/');
        for (int i = 0; i < l; i++)
            CHECK(loc[i] > 0x20 && loc[i] < 0x7f);
    }
}

static void fuzz_cond(struct str range, struct str inm, struct str date, struct str if_range,
                      uint64_t size)
{
    uint64_t off = 0, len = 0;
    enum static_range_result r = static_cond_range(range, size, &off, &len);
    if (r == STATIC_RANGE_OK)
        CHECK(len >= 1 && off < size && len <= size - off);
    CHECK(size > 0 || r == STATIC_RANGE_IGNORE);

    int64_t now = 1750000000, t;
    if (static_cond_date_parse(date, now, &t)) {
        char d[STATIC_DATE_LEN + 1];
        static_cond_date_format(t, d);
        int64_t back;
        CHECK(static_cond_date_parse(str_cstr(d), now, &back) && back == t);
    }

    struct static_cond_rep rep = {.etag = STR_LIT("\"5f-10\""), .last_modified = 784111777,
                                  .size = size};
    for (int m = STATIC_GET; m <= STATIC_OTHER; m++) {
        struct static_cond_req req = {.method = (enum static_method)m, .range = range,
                                      .if_none_match = inm, .if_modified_since = date,
                                      .if_range = if_range, .if_match = inm,
                                      .if_unmodified_since = date, .now = now};
        struct static_cond_decision d;
        static_cond_evaluate(&req, &rep, &d);
        switch (d.status) {
        case 200:
            CHECK(d.offset == 0 && d.length == size);
            break;
        case 206:
            CHECK(m == STATIC_GET && d.length >= 1 && d.offset < size &&
                  d.length <= size - d.offset);
            break;
        case 304:
            CHECK(m != STATIC_OTHER);
            break;
        case 412:
            break;
        case 416:
            CHECK(m == STATIC_GET && d.length == 0);
            break;
        default:
            abort();
        }
        char cr[80];
        if (d.status == 206 || d.status == 416)
            CHECK(static_cond_content_range(&d, size, cr, sizeof(cr)) < (int)sizeof(cr));
    }
    (void)static_cond_etag_match(inm, rep.etag, true);
}

/* A plain backtracking matcher over the compiled tokens: the reference for the NFA. */
static bool ref_match(const struct cache_glob *g, unsigned ti, const char *s, size_t si, size_t n)
{
    if (ti == g->ntok)
        return si == n;
    const struct cache_glob_token *t = &g->tok[ti];
    unsigned char c = si < n ? (unsigned char)s[si] : 0;
    switch (t->kind) {
    case CACHE_GLOB_BYTE:
        return si < n && c == t->byte && ref_match(g, ti + 1, s, si + 1, n);
    case CACHE_GLOB_ANY:
        return si < n && c != '/' && ref_match(g, ti + 1, s, si + 1, n);
    case CACHE_GLOB_CLASS:
        return si < n && (g->classes[t->cls][c >> 3] >> (c & 7) & 1) &&
               ref_match(g, ti + 1, s, si + 1, n);
    case CACHE_GLOB_STAR:
        for (size_t k = si;; k++) {
            if (ref_match(g, ti + 1, s, k, n))
                return true;
            if (k == n || s[k] == '/')
                return false;
        }
    case CACHE_GLOB_DSTAR:
        if (t->skip_slash && ref_match(g, ti + 2, s, si, n))
            return true;
        for (size_t k = si; k <= n; k++)
            if (ref_match(g, ti + 1, s, k, n))
                return true;
        return false;
    default:
        abort();
    }
}

static void fuzz_glob(struct str pattern, struct str path)
{
    char pat[128];
    if (pattern.len == 0 || pattern.len >= sizeof(pat) || memchr(pattern.ptr, 0, pattern.len))
        return;
    memcpy(pat, pattern.ptr, pattern.len);
    pat[pattern.len] = '\0';
    static struct cache_glob g;
    char err[128];
    if (cache_glob_compile(pat, &g, err, sizeof(err)) != 0)
        return;
    bool got = cache_glob_match(&g, path);
    (void)cache_rules_fingerprinted(path);
    if (path.len > 24 || g.ntok > 12)
        return;
    struct str s = path;
    if (g.basename_only) {
        const char *slash = path.len ? memrchr(path.ptr, '/', path.len) : NULL;
        if (slash)
            s = str_from(slash + 1, path.len - (size_t)(slash + 1 - path.ptr));
    }
    CHECK(got == ref_match(&g, 0, s.ptr, 0, s.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    struct static_path_opts o = {.allow_hidden = flags & 1, .allow_well_known = flags & 2};
    bool decode = !(flags & 4);
    uint64_t fsize = (UINT64_C(1) << (flags >> 3)) - 1 + (flags & 7);

    char *buf = fuzz_dup(data + 1, size - 1);
    struct str f[6] = {{0}};
    const char *p = buf, *end = buf + size - 1;
    for (int i = 0; i < 6; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        f[i] = str_from(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
        if (!nl) {
            break;
        }
        p = nl + 1;
    }
    fuzz_path(f[0], &o, decode);
    fuzz_cond(f[1], f[2], f[3], f[4], fsize);
    fuzz_glob(f[5], f[0]);
    free(buf);
    return 0;
}

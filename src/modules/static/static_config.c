/* static_config.c — the `static:` section of a route (see static_config.h, docs/config.md).
 *
 * Part of the config loader: main thread only. Defaults are stored first; every error is
 * reported at the value at fault and frees what was built so far. */
#include "modules/static/static_config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config_yaml.h"

#define MAX_LIST 64          /* index files, try_files entries, extensions of a rule */
#define MAX_RULES 256
#define MAX_ENTRIES_LIMIT 1000000u

static const char *const static_keys[] = {
    "root", "strip_prefix", "index", "try_files", "hidden", "well_known", "symlinks",
    "precompressed", "mime", "cache_control", "open_file_cache", NULL};

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void static_config_free(void *conf)
{
    struct static_conf *c = conf;
    if (!c)
        return;
    if (c->resolve.root_fd >= 0)
        close(c->resolve.root_fd);
    free(c->root);
    free_list(c->index, c->resolve.nindex);
    free_list(c->try_files, c->resolve.ntry);
    mime_table_free(c->mime);
    for (size_t i = 0; i < c->nrules; i++) {
        struct cache_rule *r = &c->rules[i];
        free((void *)(uintptr_t)r->glob);
        free_list((char **)(uintptr_t)r->ext, r->next);
        free((void *)(uintptr_t)r->cache_control);
    }
    free(c->rules);
    free(c);
}

/* A header value written by the operator: printable ASCII (and tabs), no CR/LF. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 ? *s != '\t' : *s == 0x7f)
            return false;
    return true;
}

/* A scalar or a list of scalars, copied; each item checked by ok() (NULL: any), whose message
 * names the problem. An empty list is allowed when allow_empty. */
static int load_list(struct ycx *cx, const struct ynode *v, const char *key, bool allow_empty,
                     const char *(*ok)(const char *s), char ***out, size_t *n)
{
    const struct ynode *const *items = &v;
    uint32_t count = 1;
    if (v->kind == YNODE_SEQ) {
        items = (const struct ynode *const *)v->items;
        count = v->nitems;
    } else if (yscalar(cx, v, key) != 0) {
        return -1;
    }
    if (!count && !allow_empty)
        return yerr(cx, v, "'%s' must not be empty", key);
    if (count > MAX_LIST)
        return yerr(cx, v, "'%s' has more than %d entries", key, MAX_LIST);
    char **l = calloc(count ? count : 1, sizeof(*l));
    if (!l)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        const char *why;
        if (yscalar(cx, items[i], key) != 0 ||
            (ok && (why = ok(items[i]->str)) &&
             yerr(cx, items[i], "invalid entry '%.64s' in '%s': %s", items[i]->str, key, why)) ||
            ystrdup(cx, items[i], items[i]->str, &l[i]) != 0) {
            free_list(l, count);
            return -1;
        }
    }
    *out = l;
    *n = count;
    return 0;
}

static const char *index_ok(const char *s)
{
    if (strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "a file name, without '/'";
    return NULL;
}

static const char *try_ok(const char *s)
{
    if (strncmp(s, "$uri", 4) == 0 || s[0] == '/')
        return NULL;
    if (s[0] == '=') {
        const char *end;
        uint64_t code;
        if (yparse_u64(s + 1, &end, &code) == 0 && *end == '\0' && code >= 400 && code <= 599)
            return NULL;
        return "'=NNN' takes a status 400..599";
    }
    return "expected '$uri' with an optional suffix, a path from the root ('/index.html') "
           "or '=NNN'";
}

static const char *ext_ok(const char *s)
{
    if (s[0] == '.' || strchr(s, '/') || strlen(s) > MIME_EXT_MAX)
        return "an extension without the dot";
    return NULL;
}

static const char *type_ok(const char *s)
{
    if (!strchr(s, '/') || !header_safe(s))
        return "a media type such as 'text/html'";
    return NULL;
}

static int load_try_files(struct ycx *cx, const struct ynode *v, struct static_conf *c)
{
    size_t n = 0;
    if (load_list(cx, v, "try_files", false, try_ok, &c->try_files, &n) != 0)
        return -1;
    c->resolve.try_files = (const char *const *)c->try_files;
    c->resolve.ntry = n;
    for (size_t i = 0; i + 1 < n; i++)
        if (c->try_files[i][0] == '=')
            return yerr(cx, v->kind == YNODE_SEQ ? v->items[i] : v,
                        "'=NNN' must be the last entry of 'try_files'");
    return 0;
}

static int load_precompressed(struct ycx *cx, const struct ynode *v, struct static_conf *c)
{
    c->npre = 0;
    if (v->kind == YNODE_SCALAR && strcmp(v->str, "off") == 0)
        return 0;
    if (yexpect(cx, v, YNODE_SEQ, "precompressed") != 0)
        return -1;
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *s = v->items[i];
        if (yscalar(cx, s, "precompressed") != 0)
            return -1;
        enum precompressed_enc e = PRECOMPRESSED_NONE;
        for (int k = 0; k < PRECOMPRESSED_COUNT; k++)
            if (str_eq(str_cstr(s->str), precompressed_coding(k)))
                e = k;
        if (e == PRECOMPRESSED_NONE)
            return yerr(cx, s, "unknown coding '%.64s' in 'precompressed' (br, zstd or gzip)",
                        s->str);
        for (size_t k = 0; k < c->npre; k++)
            if (c->pre[k] == e)
                return yerr(cx, s, "duplicate coding '%s' in 'precompressed'", s->str);
        c->pre[c->npre++] = e;
    }
    return 0;
}

static int load_mime(struct ycx *cx, const struct ynode *v, const char *where,
                     struct static_conf *c)
{
    static const char *const keys[] = {"types_file", "add", "charset", "default", NULL};
    struct mime_config mc = {0};
    struct mime_override ov[MAX_LIST];
    const char *charset[MAX_LIST];
    const struct ynode *tf = NULL, *def = NULL, *add = NULL, *cs = NULL;
    char w[128], err[256];
    snprintf(w, sizeof(w), "%s.mime", where);
    if (v) {
        if (ymap_check(cx, v, w, keys) != 0 || yopt_str(cx, v, "types_file", &tf) != 0 ||
            yopt_str(cx, v, "default", &def) != 0)
            return -1;
        add = ymap_get(v, "add");
        cs = ymap_get(v, "charset");
    }
    if (tf)
        mc.types_path = strcmp(tf->str, "none") == 0 ? "" : tf->str;
    if (def) {
        const char *why = type_ok(def->str);
        if (why)
            return yerr(cx, def, "invalid 'default' '%.64s': %s", def->str, why);
        mc.default_type = def->str;
    }
    if (add) {
        snprintf(w, sizeof(w), "%s.mime.add", where);
        if (ymap_check(cx, add, w, NULL) != 0)
            return -1;
        if (add->nitems / 2 > MAX_LIST)
            return yerr(cx, add, "'mime.add' has more than %d entries", MAX_LIST);
        for (uint32_t i = 0; i < add->nitems; i += 2) {
            const struct ynode *k = add->items[i], *t = add->items[i + 1];
            const char *why = ext_ok(k->str);
            if (why)
                return yerr(cx, k, "invalid extension '%.64s' in 'mime.add': %s", k->str, why);
            if (yscalar(cx, t, k->str) != 0)
                return -1;
            if ((why = type_ok(t->str)))
                return yerr(cx, t, "invalid type '%.64s' in 'mime.add': %s", t->str, why);
            ov[mc.noverrides++] = (struct mime_override){.ext = k->str, .type = t->str};
        }
        mc.overrides = ov;
    }
    if (cs) {
        if (yexpect(cx, cs, YNODE_SEQ, "mime.charset") != 0)
            return -1;
        if (cs->nitems > MAX_LIST)
            return yerr(cx, cs, "'mime.charset' has more than %d entries", MAX_LIST);
        for (uint32_t i = 0; i < cs->nitems; i++) {
            const char *why;
            if (yscalar(cx, cs->items[i], "mime.charset") != 0)
                return -1;
            if ((why = type_ok(cs->items[i]->str)))
                return yerr(cx, cs->items[i], "invalid type '%.64s' in 'mime.charset': %s",
                            cs->items[i]->str, why);
            charset[i] = cs->items[i]->str;
        }
        mc.charset_types = charset;
        mc.ncharset = cs->nitems;
    }
    c->mime = mime_table_new(&mc, err, sizeof(err));
    if (!c->mime)
        return yerr(cx, tf ? tf : v, "cannot build the MIME table: %s", err);
    return 0;
}

static int load_rule(struct ycx *cx, const struct ynode *v, const char *where,
                     struct cache_rule *r)
{
    static const char *const keys[] = {"match", "ext", "fingerprinted", "value", NULL};
    const struct ynode *match = NULL, *value, *ext;
    bool fp = false;
    if (ymap_check(cx, v, where, keys) != 0 || !(value = ymap_need(cx, v, where, "value")) ||
        yscalar(cx, value, "value") != 0 || yopt_str(cx, v, "match", &match) != 0 ||
        yopt_bool(cx, v, "fingerprinted", &fp) != 0)
        return -1;
    if (!header_safe(value->str))
        return yerr(cx, value, "'value' must not contain control characters");
    r->fingerprinted = fp;
    char *cc = NULL;
    if (ystrdup(cx, value, value->str, &cc) != 0)
        return -1;
    r->cache_control = cc;
    if ((ext = ymap_get(v, "ext"))) {
        char **l = NULL;
        if (load_list(cx, ext, "ext", false, ext_ok, &l, &r->next) != 0)
            return -1;
        r->ext = (const char *const *)l;
    }
    if (match) {
        struct cache_glob *g = malloc(sizeof(*g));
        char err[160];
        if (!g)
            return yerr(cx, match, "out of memory");
        r->glob = g;
        if (cache_glob_compile(match->str, g, err, sizeof(err)) != 0)
            return yerr(cx, match, "invalid 'match': %s", err);
    }
    return 0;
}

static int load_rules(struct ycx *cx, const struct ynode *v, const char *where,
                      struct static_conf *c)
{
    if (yexpect(cx, v, YNODE_SEQ, "cache_control") != 0)
        return -1;
    if (v->nitems > MAX_RULES)
        return yerr(cx, v, "'cache_control' has more than %d rules", MAX_RULES);
    c->rules = calloc(v->nitems ? v->nitems : 1, sizeof(*c->rules));
    if (!c->rules)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        char w[160];
        snprintf(w, sizeof(w), "%s.cache_control[%" PRIu32 "]", where, i);
        c->nrules = i + 1; /* so that free sees what this rule allocated */
        if (load_rule(cx, v->items[i], w, &c->rules[i]) != 0)
            return -1;
    }
    return 0;
}

static int load_open_file_cache(struct ycx *cx, const struct ynode *v, const char *where,
                                struct static_conf *c)
{
    static const char *const keys[] = {"max", "valid", "errors", "inline", NULL};
    uint64_t inl = c->cache.inline_max;
    char w[160];
    snprintf(w, sizeof(w), "%s.open_file_cache", where);
    return ymap_check(cx, v, w, keys) != 0 ||
                   yopt_u32(cx, v, "max", 1, MAX_ENTRIES_LIMIT, &c->cache.max_entries) != 0 ||
                   yopt_ms(cx, v, "valid", &c->cache.valid_ms) != 0 ||
                   yopt_bool(cx, v, "errors", &c->cache.cache_errors) != 0 ||
                   yopt_size(cx, v, "inline", 0, STATIC_INLINE_LIMIT, &inl) != 0
               ? -1
               : (c->cache.inline_max = (uint32_t)inl, 0);
}

static int open_root(struct ycx *cx, const struct ynode *v, struct static_conf *c)
{
    if (v->str[0] != '/')
        return yerr(cx, v, "'root' must be an absolute path, got '%.64s'", v->str);
    if (ystrdup(cx, v, v->str, &c->root) != 0)
        return -1;
    c->resolve.root_fd = open(v->str, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->resolve.root_fd < 0)
        return yerr(cx, v, "cannot open root '%.200s': %s", v->str, strerror(errno));
    return 0;
}

static int load_map(struct ycx *cx, const struct ynode *v, const char *where,
                    struct static_conf *c)
{
    const struct ynode *root, *n, *sym = NULL;
    bool hidden = false, well_known = true;
    if (ymap_check(cx, v, where, static_keys) != 0 || !(root = ymap_need(cx, v, where, "root")) ||
        yscalar(cx, root, "root") != 0 || open_root(cx, root, c) != 0 ||
        yopt_bool(cx, v, "strip_prefix", &c->strip_prefix) != 0 ||
        yopt_bool(cx, v, "hidden", &hidden) != 0 ||
        yopt_bool(cx, v, "well_known", &well_known) != 0 || yopt_str(cx, v, "symlinks", &sym) != 0)
        return -1;
    c->resolve.opts.allow_hidden = hidden;
    c->resolve.opts.allow_well_known = well_known;
    if (sym) {
        if (strcmp(sym->str, "none") == 0)
            c->resolve.opts.no_symlinks = true;
        else if (strcmp(sym->str, "inside_root") != 0)
            return yerr(cx, sym, "'symlinks' must be inside_root or none, got '%.64s'", sym->str);
    }
    if ((n = ymap_get(v, "index"))) {
        free_list(c->index, c->resolve.nindex);
        c->index = NULL;
        c->resolve.nindex = 0;
        if (load_list(cx, n, "index", true, index_ok, &c->index, &c->resolve.nindex) != 0)
            return -1;
        c->resolve.index = (const char *const *)c->index;
    }
    if ((n = ymap_get(v, "try_files")) && load_try_files(cx, n, c) != 0)
        return -1;
    if ((n = ymap_get(v, "precompressed")) && load_precompressed(cx, n, c) != 0)
        return -1;
    if ((n = ymap_get(v, "cache_control")) && load_rules(cx, n, where, c) != 0)
        return -1;
    if ((n = ymap_get(v, "open_file_cache")) && load_open_file_cache(cx, n, where, c) != 0)
        return -1;
    return load_mime(cx, ymap_get(v, "mime"), where, c);
}

int static_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    struct static_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    c->resolve.root_fd = -1;
    c->index = calloc(1, sizeof(*c->index));
    if (c->index && (c->index[0] = strdup("index.html"))) {
        c->resolve.index = (const char *const *)c->index;
        c->resolve.nindex = 1;
    }
    for (int i = 0; i < PRECOMPRESSED_COUNT; i++)
        c->pre[c->npre++] = (enum precompressed_enc)i;
    c->cache.max_entries = STATIC_DEFAULT_MAX_ENTRIES;
    c->cache.valid_ms = STATIC_DEFAULT_VALID_MS;
    c->cache.cache_errors = true;
    c->cache.inline_max = STATIC_DEFAULT_INLINE;
    c->resolve.opts.allow_well_known = true;

    int rc;
    if (!c->resolve.nindex)
        rc = yerr(cx, v, "out of memory");
    else if (v->kind == YNODE_MAP)
        rc = load_map(cx, v, where, c);
    else if (v->kind == YNODE_SCALAR && v->len)
        rc = open_root(cx, v, c) != 0 || load_mime(cx, NULL, where, c) != 0 ? -1 : 0;
    else
        rc = yerr(cx, v, "expected a mapping or a root directory for '%s', found %s", where,
                  ynode_describe(v));
    if (rc != 0) {
        static_config_free(c);
        return -1;
    }
    c->cache.resolve = &c->resolve;
    c->cache.precompressed = c->npre > 0;
    c->cache.precompressed_skip = (1u << PRECOMPRESSED_COUNT) - 1;
    for (size_t i = 0; i < c->npre; i++)
        c->cache.precompressed_skip &= (uint8_t)~(1u << c->pre[i]);
    c->cache.mime = c->mime;
    c->cache.rules = c->rules;
    c->cache.nrules = c->nrules;
    *conf = c;
    return 0;
}

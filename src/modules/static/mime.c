/* mime.c — the extension → Content-Type table (see mime.h).
 *
 * Layout: one open-addressing array of slots (linear probing, at most half full) pointing into
 * a pool of lowercased extensions, and an array of ready-made values. Built once, then read-only.
 * The hash is FNV-1a: keys come from the operator's files, lookups insert nothing, and probe
 * chains are fixed when the table is built, so a client cannot lengthen them. */
#include "modules/static/mime.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mime_default_charset_types[] = {
    "text/*", "application/javascript", "application/json", "application/manifest+json",
    "application/xml", "image/svg+xml",
};
const size_t mime_default_ncharset =
    sizeof(mime_default_charset_types) / sizeof(mime_default_charset_types[0]);

/* Used only when the default /etc/mime.types is missing (no media-types package). */
static const struct mime_override builtin[] = {
    {"html", "text/html"},         {"htm", "text/html"},          {"css", "text/css"},
    {"js", "text/javascript"},     {"mjs", "text/javascript"},    {"json", "application/json"},
    {"txt", "text/plain"},         {"xml", "application/xml"},    {"svg", "image/svg+xml"},
    {"png", "image/png"},          {"jpg", "image/jpeg"},         {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},          {"webp", "image/webp"},        {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"}, {"woff", "font/woff"},   {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},  {"pdf", "application/pdf"},    {"mp4", "video/mp4"},
    {"webm", "video/webm"},        {"map", "application/json"},
};

struct slot {
    uint32_t key_off; /* into keys; UINT32_MAX marks an empty slot */
    uint32_t key_len;
    uint32_t value;   /* index into values */
};

struct mime_table {
    struct slot *slots;
    uint32_t mask;
    size_t count;
    char *keys;
    struct str *values;
    size_t nvalues;
    char *value_pool;
    struct str default_type;
};

/* A growable byte pool and a growable array of pending (ext, value) pairs. */
struct builder {
    char *pool;
    size_t pool_len, pool_cap;
    struct pending {
        uint32_t ext_off, ext_len;
        uint32_t value_off, value_len;
    } *pend;
    size_t npend, cap_pend;
    char *err;
    size_t errlen;
};

static bool pool_add(struct builder *b, const char *s, size_t n, uint32_t *off)
{
    if (b->pool_len + n + 1 > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap * 2 : 4096;
        while (cap < b->pool_len + n + 1)
            cap *= 2;
        char *p = realloc(b->pool, cap);
        if (!p)
            return false;
        b->pool = p;
        b->pool_cap = cap;
    }
    if (b->pool_len + n + 1 > UINT32_MAX)
        return false;
    *off = (uint32_t)b->pool_len;
    memcpy(b->pool + b->pool_len, s, n);
    b->pool[b->pool_len + n] = '\0';
    b->pool_len += n + 1;
    return true;
}

static bool charset_wanted(const struct mime_config *cfg, const char *type, size_t n)
{
    const char *const *list = cfg->charset_types ? cfg->charset_types : mime_default_charset_types;
    size_t count = cfg->charset_types ? cfg->ncharset : mime_default_ncharset;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(list[i]);
        if (l >= 2 && list[i][l - 2] == '/' && list[i][l - 1] == '*') {
            if (n > l - 1 && strncasecmp(type, list[i], l - 1) == 0)
                return true;
        } else if (l == n && strncasecmp(type, list[i], n) == 0) {
            return true;
        }
    }
    return false;
}

/* Stores the ready-made header value for `type`; returns its pool offset. */
static bool add_value(struct builder *b, const struct mime_config *cfg, const char *type,
                      size_t n, uint32_t *off, uint32_t *len)
{
    static const char cs[] = "; charset=utf-8";
    char tmp[160];
    if (n > sizeof(tmp) - sizeof(cs))
        n = sizeof(tmp) - sizeof(cs); /* never for a real type; keeps the copy bounded */
    memcpy(tmp, type, n);
    size_t total = n;
    if (charset_wanted(cfg, type, n)) {
        memcpy(tmp + n, cs, sizeof(cs) - 1);
        total += sizeof(cs) - 1;
    }
    *len = (uint32_t)total;
    return pool_add(b, tmp, total, off);
}

static bool add_pair(struct builder *b, const char *ext, size_t n, uint32_t voff, uint32_t vlen)
{
    if (n == 0 || n > MIME_EXT_MAX)
        return true; /* never looked up */
    if (b->npend == b->cap_pend) {
        size_t cap = b->cap_pend ? b->cap_pend * 2 : 512;
        struct pending *p = realloc(b->pend, cap * sizeof(*p));
        if (!p)
            return false;
        b->pend = p;
        b->cap_pend = cap;
    }
    char low[MIME_EXT_MAX];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)((ext[i] >= 'A' && ext[i] <= 'Z') ? ext[i] + 32 : ext[i]);
    uint32_t off;
    if (!pool_add(b, low, n, &off))
        return false;
    b->pend[b->npend++] = (struct pending){
        .ext_off = off, .ext_len = (uint32_t)n, .value_off = voff, .value_len = vlen};
    return true;
}

static bool add_override(struct builder *b, const struct mime_config *cfg,
                         const struct mime_override *o)
{
    const char *ext = o->ext[0] == '.' ? o->ext + 1 : o->ext;
    uint32_t voff, vlen;
    return add_value(b, cfg, o->type, strlen(o->type), &voff, &vlen) &&
           add_pair(b, ext, strlen(ext), voff, vlen);
}

static bool type_ok(const char *s, size_t n)
{
    if (n < 3 || n > 127 || !memchr(s, '/', n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || strchr(";,\"", s[i]))
            return false;
    return true;
}

/* One mime.types line: "type ext ext ...", '#' starts a comment. */
static bool parse_line(struct builder *b, const struct mime_config *cfg, char *line)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *save = NULL;
    char *type = strtok_r(line, " \t\r\n", &save);
    if (!type || !type_ok(type, strlen(type)))
        return true;
    uint32_t voff = 0, vlen = 0;
    bool have_value = false;
    for (char *ext; (ext = strtok_r(NULL, " \t\r\n", &save));) {
        if (!have_value) {
            if (!add_value(b, cfg, type, strlen(type), &voff, &vlen))
                return false;
            have_value = true;
        }
        if (!add_pair(b, ext, strlen(ext), voff, vlen))
            return false;
    }
    return true;
}

/* Returns 0, 1 when the file is missing, -1 on error (message written). */
static int load_file(struct builder *b, const struct mime_config *cfg, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(b->err, b->errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        if (!parse_line(b, cfg, line)) {
            snprintf(b->err, b->errlen, "%s:%u: out of memory", path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(b->err, b->errlen, "%s: read error", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

static uint64_t fnv1a_lower(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        h = (h ^ c) * 0x100000001b3u;
    }
    return h;
}

/* Finds the slot of a key, or the empty slot where it would go. */
static struct slot *find_slot(const struct mime_table *t, const char *ext, size_t n)
{
    uint32_t i = (uint32_t)fnv1a_lower(ext, n) & t->mask;
    for (;; i = (i + 1) & t->mask) {
        struct slot *s = &t->slots[i];
        if (s->key_off == UINT32_MAX)
            return s;
        if (s->key_len == n && strncasecmp(t->keys + s->key_off, ext, n) == 0)
            return s;
    }
}

static struct mime_table *build(struct builder *b, const struct mime_config *cfg)
{
    struct mime_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    size_t nslots = 16;
    while (nslots < b->npend * 2)
        nslots *= 2;
    t->slots = malloc(nslots * sizeof(*t->slots));
    t->values = malloc((b->npend + 1) * sizeof(*t->values));
    uint32_t doff, dlen;
    const char *def = cfg->default_type ? cfg->default_type : "application/octet-stream";
    if (!t->slots || !t->values || !add_value(b, cfg, def, strlen(def), &doff, &dlen)) {
        mime_table_free(t);
        return NULL;
    }
    /* The pool no longer grows: slices into it are stable from here on. */
    t->keys = b->pool;
    t->value_pool = b->pool;
    b->pool = NULL;
    t->mask = (uint32_t)(nslots - 1);
    for (size_t i = 0; i < nslots; i++)
        t->slots[i].key_off = UINT32_MAX;
    t->default_type = str_from(t->value_pool + doff, dlen);
    for (size_t i = 0; i < b->npend; i++) {
        const struct pending *p = &b->pend[i];
        struct slot *s = find_slot(t, t->keys + p->ext_off, p->ext_len);
        if (s->key_off != UINT32_MAX)
            continue; /* first mapping wins */
        t->values[t->nvalues] = str_from(t->value_pool + p->value_off, p->value_len);
        *s = (struct slot){.key_off = p->ext_off, .key_len = p->ext_len,
                           .value = (uint32_t)t->nvalues++};
        t->count++;
    }
    return t;
}

struct mime_table *mime_table_new(const struct mime_config *cfg, char *err, size_t errlen)
{
    struct builder b = {.err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    struct mime_table *t = NULL;
    /* Overrides go in first, last one first, because the first mapping of an ext wins. */
    for (size_t i = cfg->noverrides; i-- > 0;)
        if (!add_override(&b, cfg, &cfg->overrides[i]))
            goto oom;
    const char *path = cfg->types_path ? cfg->types_path : MIME_DEFAULT_TYPES_PATH;
    if (path[0]) {
        int rc = load_file(&b, cfg, path);
        if (rc < 0)
            goto fail;
        if (rc == 1 && cfg->types_path) {
            snprintf(err, errlen, "%s: no such file", path);
            goto fail;
        }
        if (rc == 1)
            for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
                if (!add_override(&b, cfg, &builtin[i]))
                    goto oom;
    }
    t = build(&b, cfg);
    if (!t)
        goto oom;
    free(b.pend);
    return t;
oom:
    snprintf(err, errlen, "mime types: out of memory");
fail:
    free(b.pool);
    free(b.pend);
    return NULL;
}

void mime_table_free(struct mime_table *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t->values);
    free(t->keys);
    free(t);
}

struct str mime_table_lookup(const struct mime_table *t, struct str name)
{
    const char *slash = name.len ? memrchr(name.ptr, '/', name.len) : NULL;
    const char *base = slash ? slash + 1 : name.ptr;
    size_t n = name.len - (size_t)(base - name.ptr);
    /* i = 1: a leading dot names a hidden file, not an extension */
    for (size_t i = 1; i < n; i++) {
        if (base[i] != '.')
            continue;
        size_t elen = n - i - 1;
        if (elen == 0 || elen > MIME_EXT_MAX)
            continue;
        const struct slot *s = find_slot(t, base + i + 1, elen);
        if (s->key_off != UINT32_MAX)
            return t->values[s->value];
    }
    return t->default_type;
}

size_t mime_table_count(const struct mime_table *t)
{
    return t->count;
}

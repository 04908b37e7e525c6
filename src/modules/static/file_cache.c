/* file_cache.c — the per-worker open-file cache (see file_cache.h).
 *
 * A chained hash table (SipHash with a per-cache random key: keys come from clients) sized for
 * max_entries, plus an LRU list with the most recently used entry at the head. An entry leaves
 * both when evicted or found stale; it is freed when it has left them and its last reference is
 * gone, whichever comes second. */
#include "modules/static/file_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/siphash.h"
#include "modules/static/static_io.h"

struct file_cache {
    struct file_cache_cfg cfg;
    struct file_cache_entry **buckets;
    uint64_t mask;
    uint64_t k0, k1;
    size_t count;
    struct file_cache_entry *lru_head, *lru_tail;
    struct file_cache_stats stats;
};

struct file_cache *file_cache_new(const struct file_cache_cfg *cfg)
{
    struct file_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cfg = *cfg;
    if (c->cfg.max_entries == 0)
        c->cfg.max_entries = 1;
    uint64_t n = 16;
    while (n < c->cfg.max_entries)
        n *= 2;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    siphash_random_key(&c->k0, &c->k1);
    return c;
}

static void close_variant(struct file_cache_variant *v)
{
    if (v->fd >= 0)
        close(v->fd);
    v->fd = -1;
    free((void *)(uintptr_t)v->data);
    v->data = NULL;
}

static void entry_free(struct file_cache_entry *e)
{
    close_variant(&e->file);
    for (int i = 0; i < PRECOMPRESSED_COUNT; i++)
        close_variant(&e->sib[i]);
    free(e);
}

/* Takes e out of the table and the LRU list; frees it unless someone holds a reference. */
static void unlink_entry(struct file_cache *c, struct file_cache_entry *e)
{
    struct file_cache_entry **pp = &c->buckets[e->hash & c->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->linked = false;
    c->count--;
    if (e->refs == 0)
        entry_free(e);
}

void file_cache_free(struct file_cache *c)
{
    if (!c)
        return;
    while (c->lru_head)
        unlink_entry(c, c->lru_head);
    free(c->buckets);
    free(c);
}

static void lru_to_front(struct file_cache *c, struct file_cache_entry *e)
{
    if (c->lru_head == e)
        return;
    e->lru_prev->lru_next = e->lru_next; /* not the head, so it has a prev */
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    c->lru_head->lru_prev = e;
    c->lru_head = e;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Stats root/path + suffix; false when it does not exist (or cannot be named). */
static bool stat_rel(const struct file_cache *c, const char *path, size_t len, struct str suffix,
                     struct stat *st)
{
    char buf[STATIC_PATH_MAX + 1];
    if (len + suffix.len > STATIC_PATH_MAX)
        return false;
    memcpy(buf, path, len);
    if (suffix.len)
        memcpy(buf + len, suffix.ptr, suffix.len);
    buf[len + suffix.len] = '\0';
    /* Only compared with what was opened safely: a path that now leads elsewhere (even out of
     * the root) differs, and the entry is then resolved again through openat2. */
    return fstatat(c->cfg.resolve->root_fd, buf[0] ? buf : ".", st, AT_NO_AUTOMOUNT) == 0;
}

/* True when a direct entry still names the same file and the same siblings. */
static bool still_valid(const struct file_cache *c, const struct file_cache_entry *e)
{
    struct stat st;
    if (!stat_rel(c, e->path, e->path_len, STR_NULL, &st) || !same_file(&st, &e->file.st))
        return false;
    if (!c->cfg.precompressed)
        return true;
    for (int i = 0; i < PRECOMPRESSED_COUNT; i++) {
        if (c->cfg.precompressed_skip & (1u << i))
            continue;
        bool there = stat_rel(c, e->path, e->path_len, precompressed_suffix(i), &st) &&
                     precompressed_usable(&e->file.st, &st);
        if (there != (e->sib[i].fd >= 0) || (there && !same_file(&st, &e->sib[i].st)))
            return false;
    }
    return true;
}

static struct file_cache_entry *find(struct file_cache *c, const struct static_norm *norm,
                                     uint64_t hash)
{
    for (struct file_cache_entry *e = c->buckets[hash & c->mask]; e; e = e->hnext)
        if (e->hash == hash && e->key_len == norm->len && e->key_dir == norm->dir &&
            memcmp(e->key, norm->path, norm->len) == 0)
            return e;
    return NULL;
}

static void fill_variant(const struct file_cache *c, struct file_cache_variant *v, int fd,
                         const struct stat *st, struct str coding)
{
    v->fd = fd;
    v->st = *st;
    int n = static_cond_etag(st, coding, v->etag);
    v->etag_len = (uint8_t)(n > 0 ? n : 0);
    if (st->st_size > 0 && (uint64_t)st->st_size <= c->cfg.inline_max) {
        /* Only what the page cache has: a fill must not wait for the disk either. */
        char *data = malloc((size_t)st->st_size);
        if (data && static_io_read_nowait(fd, data, (size_t)st->st_size, 0) == st->st_size)
            v->data = data;
        else
            free(data);
    }
}

/* Builds an entry from a resolution; takes res->fd. NULL on out of memory (res->fd untouched). */
static struct file_cache_entry *make_entry(struct file_cache *c, const struct static_norm *norm,
                                           uint64_t hash, struct static_resolved *res,
                                           uint64_t now_ms)
{
    struct file_cache_entry *e = calloc(1, sizeof(*e) + norm->len + 1 + res->len + 1);
    if (!e)
        return NULL;
    char *mem = (char *)(e + 1);
    e->key = mem;
    memcpy(e->key, norm->path, norm->len + 1);
    e->key_len = norm->len;
    e->key_dir = norm->dir;
    e->hash = hash;
    char *path = mem + norm->len + 1;
    memcpy(path, res->path, res->len + 1);
    e->path = path;
    e->path_len = res->len;
    e->status = res->status;
    e->direct = res->direct;
    e->checked_ms = now_ms;
    e->file.fd = -1;
    for (int i = 0; i < PRECOMPRESSED_COUNT; i++)
        e->sib[i].fd = -1;
    if (res->status != 200)
        return e;

    fill_variant(c, &e->file, res->fd, &res->st, STR_NULL);
    res->fd = -1;
    static_cond_date_format(res->st.st_mtim.tv_sec, e->last_modified);
    if (c->cfg.mime)
        e->content_type = mime_table_lookup(c->cfg.mime, str_from(path, res->len));
    if (c->cfg.nrules) {
        char with_slash[STATIC_PATH_MAX + 2];
        with_slash[0] = '/';
        memcpy(with_slash + 1, path, res->len);
        e->cache_control =
            cache_rules_match(c->cfg.rules, c->cfg.nrules, str_from(with_slash, res->len + 1));
    }
    if (c->cfg.precompressed) {
        for (int i = 0; i < PRECOMPRESSED_COUNT; i++) {
            if (c->cfg.precompressed_skip & (1u << i))
                continue;
            enum precompressed_enc one = (enum precompressed_enc)i;
            int fd;
            struct stat st;
            if (precompressed_find(c->cfg.resolve->root_fd, &c->cfg.resolve->opts, path,
                                   res->len, &res->st, &one, 1, &fd, &st) == one)
                fill_variant(c, &e->sib[i], fd, &st, precompressed_coding(one));
        }
    }
    return e;
}

static void link_entry(struct file_cache *c, struct file_cache_entry *e)
{
    if (c->count >= c->cfg.max_entries) {
        c->stats.evictions++;
        unlink_entry(c, c->lru_tail);
    }
    struct file_cache_entry **b = &c->buckets[e->hash & c->mask];
    e->hnext = *b;
    *b = e;
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
    e->linked = true;
    c->count++;
}

struct file_cache_entry *file_cache_get(struct file_cache *c, const struct static_norm *norm,
                                        uint64_t now_ms)
{
    uint64_t hash = siphash13(norm->path, norm->len, c->k0, c->k1 ^ norm->dir);
    struct file_cache_entry *e = find(c, norm, hash);
    if (e && now_ms - e->checked_ms >= c->cfg.valid_ms) {
        if (e->status == 200 && e->direct && still_valid(c, e)) {
            e->checked_ms = now_ms;
            c->stats.revalidated++;
        } else {
            c->stats.dropped++;
            unlink_entry(c, e);
            e = NULL;
        }
    }
    if (e) {
        c->stats.hits++;
        lru_to_front(c, e);
        e->refs++;
        return e;
    }

    c->stats.misses++;
    struct static_resolved res;
    static_path_resolve(c->cfg.resolve, norm, &res);
    e = make_entry(c, norm, hash, &res, now_ms);
    if (!e) {
        if (res.fd >= 0)
            close(res.fd);
        return NULL;
    }
    e->refs = 1;
    if (e->status == 200 || c->cfg.cache_errors)
        link_entry(c, e);
    return e;
}

void file_cache_unref(struct file_cache *c, struct file_cache_entry *e)
{
    (void)c;
    if (--e->refs == 0 && !e->linked)
        entry_free(e);
}

enum precompressed_enc file_cache_pick(const struct file_cache_entry *e,
                                       const enum precompressed_enc *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (order[i] >= 0 && order[i] < PRECOMPRESSED_COUNT && e->sib[order[i]].fd >= 0)
            return order[i];
    return PRECOMPRESSED_NONE;
}

size_t file_cache_count(const struct file_cache *c)
{
    return c->count;
}

struct file_cache_stats file_cache_stats(const struct file_cache *c)
{
    return c->stats;
}

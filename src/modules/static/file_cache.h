/* file_cache.h — an open-file cache for one static route on one worker.
 *
 * Maps a normalised target (the key) to what resolving it gave: an open fd with its stat, ETag,
 * Last-Modified, Content-Type, Cache-Control and precompressed siblings; or a 301 / 403 / 404
 * (kept too when cache_errors, so a single-page app's fallback and a scanner's 404s cost no
 * syscall). Bounded by max_entries (least recently used goes first).
 *
 * Validity (nginx's open_file_cache_valid): an entry older than valid_ms is checked before use.
 * One served directly ("$uri") is re-stat'ed by path, with its siblings; unchanged, it lives on.
 * Any other (fallback, index, redirect, error) is dropped and resolved again, since a new file
 * could change what the target resolves to.
 *
 * Per worker, without locks: each worker has its own cache, so a lookup is a hash probe and a
 * list splice, never a contended cache line. The price is one fd per file per worker (W workers
 * × max_entries × up to 4 fds): size max_entries against RLIMIT_NOFILE.
 *
 * Entries are refcounted. An entry handed out stays valid (its fds open) until the caller
 * file_cache_unref's it, even if it was evicted or found stale meanwhile: a sendfile in progress
 * never sees its fd closed. All functions run on the owning worker thread only. */
#ifndef WEIR_MODULES_FILE_CACHE_H
#define WEIR_MODULES_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/str.h"
#include "modules/static/cache_rules.h"
#include "modules/static/mime.h"
#include "modules/static/precompressed.h"
#include "modules/static/static_cond.h"
#include "modules/static/static_path.h"

struct file_cache_cfg {
    const struct static_resolve_cfg *resolve; /* root, options, index, try_files */
    uint32_t max_entries;                     /* ≥ 1 */
    uint32_t valid_ms;                        /* 0: check on every use */
    bool cache_errors;                        /* keep 301/403/404 results */
    bool precompressed;                       /* look for .br/.zst/.gz siblings */
    uint8_t precompressed_skip;               /* bit (1 << enc): never look for that one */
    const struct mime_table *mime;            /* NULL: no Content-Type */
    const struct cache_rule *rules;           /* may be NULL */
    size_t nrules;
    /* Files of at most this many bytes are also kept in memory (read once when the entry is
     * filled, only if the page cache has them: RWF_NOWAIT): their replies then go out with the
     * head in one send, without sendfile. 0: never. */
    uint32_t inline_max;
};

struct file_cache_variant {
    int fd; /* -1: no such sibling */
    struct stat st;
    char etag[STATIC_ETAG_MAX];
    uint8_t etag_len;
    const char *data;       /* the whole file when inlined (st_size bytes), else NULL */
    uint64_t warm_until_ms; /* the caller's: its first bytes were seen in the page cache, and
                               are trusted to be there until then */
};

struct file_cache_entry {
    /* Read-only for callers. */
    int status;                  /* 200, 301, 403, 404, or another static_path_resolve status */
    const char *path;            /* resolved relative path (NUL-terminated); the dir for a 301 */
    size_t path_len;
    struct file_cache_variant file; /* the file itself (fd -1 unless status 200) */
    struct file_cache_variant sib[PRECOMPRESSED_COUNT];
    char last_modified[STATIC_DATE_LEN + 1];
    struct str content_type;      /* STR_NULL without a mime table */
    const char *cache_control;    /* NULL: no rule matched */

    /* Private to file_cache.c. */
    struct file_cache_entry *hnext, *lru_prev, *lru_next;
    uint64_t hash;
    uint64_t checked_ms;
    uint32_t refs;
    bool linked;  /* in the table and the LRU list */
    bool direct;  /* served by "$uri": revalidated by stat instead of dropped */
    bool key_dir;
    size_t key_len;
    char *key;
};

struct file_cache_stats {
    uint64_t hits, misses, evictions, revalidated, dropped;
};

/* NULL on out of memory. cfg and what it points to must outlive the cache. */
struct file_cache *file_cache_new(const struct file_cache_cfg *cfg);

/* Every entry handed out must have been unref'd. Closes every fd the cache holds. */
void file_cache_free(struct file_cache *c);

/* The entry for a normalised target: a valid cached one, or a fresh resolution (which is then
 * cached, evicting the least recently used entry when full). Returns a reference to release
 * with file_cache_unref, or NULL when out of memory. now_ms: the worker's monotonic clock. */
struct file_cache_entry *file_cache_get(struct file_cache *c, const struct static_norm *norm,
                                        uint64_t now_ms);

void file_cache_unref(struct file_cache *c, struct file_cache_entry *e);

/* The first encoding in `order` that e has a sibling for, or PRECOMPRESSED_NONE. */
enum precompressed_enc file_cache_pick(const struct file_cache_entry *e,
                                       const enum precompressed_enc *order, size_t n);

size_t file_cache_count(const struct file_cache *c);
struct file_cache_stats file_cache_stats(const struct file_cache *c);

#endif

/* static_config.h — a route's `static:` section (docs/config.md, "static"), parsed into what
 * the module's building blocks take: the root's directory fd and the resolve options, the MIME
 * table, the compiled Cache-Control rules, the open-file cache's limits and the precompressed
 * codings in the server's order of preference.
 *
 * Loaded on the main thread with the rest of the configuration; immutable afterwards, read by
 * every worker of the generation without locks; freed with the configuration. The root is
 * opened when the section is loaded (a missing root is a configuration error, reported at the
 * `root` value) and stays open with the conf, so a request never resolves the root's own path
 * again: renaming the root directory away does not move what weir serves until a reload. */
#ifndef WEIR_MODULES_STATIC_CONFIG_H
#define WEIR_MODULES_STATIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modules/static/cache_rules.h"
#include "modules/static/file_cache.h"
#include "modules/static/mime.h"
#include "modules/static/precompressed.h"
#include "modules/static/static_path.h"

struct ycx;
struct ynode;

#define STATIC_DEFAULT_MAX_ENTRIES 1000
#define STATIC_DEFAULT_VALID_MS 5000
#define STATIC_DEFAULT_INLINE (8u * 1024u) /* files kept in memory by the open-file cache */
#define STATIC_INLINE_LIMIT (64u * 1024u) /* above a few KiB sendfile is cheaper */

struct static_conf {
    char *root;                     /* as written */
    bool strip_prefix;              /* drop the route's path prefix first (nginx's alias) */
    struct static_resolve_cfg resolve; /* root_fd, hidden/symlink options, index, try_files */
    char **index, **try_files;      /* owned; resolve points at them */
    enum precompressed_enc pre[PRECOMPRESSED_COUNT]; /* server preference, npre entries */
    size_t npre;
    struct mime_table *mime;
    struct cache_rule *rules;       /* nrules, each with its glob and ext list (owned) */
    size_t nrules;
    struct file_cache_cfg cache;    /* for each worker's file_cache_new */
};

/* The module's config_load: `v` is the value of routes[i].static (a mapping, or a scalar: the
 * root alone). Errors are "file:line:col: message" through cx. On success *conf is the new
 * struct static_conf; on error nothing is left allocated. */
int static_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
void static_config_free(void *conf);

#endif

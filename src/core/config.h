/* config.h — loading, checking and sharing the configuration.
 *
 * Called on the main thread only (loading may resolve addresses). The returned config has
 * refcnt 1; config_ref/config_unref are thread-safe (atomic). */
#ifndef WEIR_CORE_CONFIG_H
#define WEIR_CORE_CONFIG_H

#include <stddef.h>

#include "core/config_types.h"

struct cfg_error {
    char msg[512]; /* "file:line:column: what is wrong" */
};

/* Loads and validates a YAML file. Returns NULL and fills err on any problem. */
struct ycx;
struct ynode;

/* A route-level key owned by a layer above core (the pipeline's modules). load parses the
 * value into *conf (errors through the ycx: "file:line:col: ..."); free releases it. */
struct cfg_route_ext {
    const char *key;              /* NULL: an index with no key (keeps indexes aligned) */
    int (*load)(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
    void (*free)(void *conf);
    bool terminal;                /* it answers every request: the route needs no upstream */
    bool global;                  /* also at the top level, as every route's default */
};

/* Installs the extensions (main thread, before any config is loaded; the array must outlive
 * every config). cfg_route.ext[i] then holds extension i's config of the route. */
void config_route_exts_set(const struct cfg_route_ext *exts, uint32_t n);
uint32_t config_route_exts_count(void);

/* A listener's `ip_rules` mapping, parsed by a layer above core (src/security): installed
 * like the route extensions, before any config is loaded. Without it the key is refused. */
void config_listener_rules_set(int (*load)(struct ycx *cx, const struct ynode *v,
                                           const char *where, void **conf),
                               void (*free_fn)(void *conf));

struct config *config_load_file(const char *path, struct cfg_error *err);

/* Same from a buffer; `name` stands for the file in error messages. */
struct config *config_load_buffer(const char *text, size_t len, const char *name,
                                  struct cfg_error *err);

void config_ref(struct config *cfg);
void config_unref(struct config *cfg);

/* Parses "10s", "250ms", "2m", "1h" or a bare number of milliseconds. Returns 0 on success. */
int config_parse_duration_ms(const char *s, uint64_t *out_ms);
/* Parses "512", "16k", "4KiB", "1m", "1MiB", "2g", "2GiB" (powers of 1024). Returns 0 on success. */
int config_parse_size(const char *s, uint64_t *out);
/* Parses "host:port", "[v6]:port", "*:port" or ":port" numerically (plus "localhost").
 * Returns 0 on success, else -1 with a reason in *why. */
int config_parse_addr(const char *s, struct cfg_addr *out, const char **why);

/* "local", "open" or "closed" (an on_store_error policy, for messages and /status). */
const char *config_store_error_name(enum cfg_store_error e);

#endif

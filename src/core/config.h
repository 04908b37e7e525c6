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

#endif

/* admin_cache.h — the response caches in the admin API: their figures in /metrics and
 * /status, and the invalidation endpoints (docs/operations.md):
 *   POST /cache/purge?url=<absolute URL>     every variant of that URL
 *   POST /cache/purge?prefix=<URL prefix>    every URL that starts with it
 *   POST /cache/purge?tag=<tag>              every object tagged so (tag_header)
 *   POST /cache/ban?pattern=<glob>           every URL the pattern matches (fnmatch)
 * each with &soft=1 to mark stale (revalidate on next use) instead of removing. The reply is
 * JSON: {"purged": <count>}.
 *   POST /cache/warm?url=<URL>&url=...[&concurrency=4][&rate=100][&host=<Host>]
 *                                            pre-warm (cache_warm.h): 202 {"queued": n} The token, when configured, protects them like every endpoint.
 * Admin thread. */
#ifndef WEIR_ADMIN_CACHE_H
#define WEIR_ADMIN_CACHE_H

#include <stdbool.h>

#include "admin/abuf.h"
#include "core/str.h"

/* Handles path (under /cache/) with its query; writes a JSON (or text) body into out and
 * returns the status. */
int admin_cache_handle(struct str path, struct str query, struct abuf *out);

/* The first value of `name` in a query string, percent-decoded into out (NUL-terminated);
 * false when absent or longer than cap - 1. (Shared by the admin's handlers.) */
bool admin_query_value(struct str q, const char *name, char *out, size_t cap, size_t *len);

/* The weir_cache_* families, every store one series (label route). */
void admin_cache_prometheus(struct abuf *b);

/* `"caches":[...],"cache_warm":{...}` for the status document (no leading comma). */
void admin_cache_status(struct abuf *b);

#endif

/* cache_purge.h — invalidation from the admin API, over every route's store: by exact URL
 * (all its variants), by URL prefix, by tag (the configured tag field, e.g. Cache-Tag or
 * Surrogate-Key: a list separated by commas or spaces), or a ban by glob pattern on the URL
 * (fnmatch). Soft: objects are marked stale (revalidated on next use) instead of removed.
 * Any thread (the admin's); each store is walked shard by shard (cache_store.h). */
#ifndef WEIR_CACHE_PURGE_H
#define WEIR_CACHE_PURGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

enum cache_purge_kind { CACHE_PURGE_URL, CACHE_PURGE_PREFIX, CACHE_PURGE_TAG, CACHE_PURGE_BAN };

/* Returns how many objects were removed (or marked), or -1 when arg is not usable (a URL that
 * is not absolute, an empty tag or pattern). */
int64_t cache_purge(enum cache_purge_kind kind, struct str arg, bool soft);

/* Purges shared between weir instances (state/state_events.h): the event payload of a purge
 * ("<kind> <soft> <arg>"), written into out (at most cap bytes; 0 when it does not fit), and
 * the handler that applies another instance's. */
size_t cache_purge_encode(enum cache_purge_kind kind, struct str arg, bool soft, char *out,
                          size_t cap);
void cache_purge_event(const char *payload, size_t len);

/* An unsafe method succeeded (status < 400): drops the stored responses of its target `key`
 * and of the response's same-origin Location / Content-Location (RFC 9111 §4.4). */
struct cache_store;
struct response;
void cache_purge_unsafe(struct cache_store *store, struct str key, uint64_t hash,
                        const struct response *r);

/* Does the tag list ("a, b c") hold tag? */
bool cache_purge_tag_listed(struct str list, struct str tag);

#endif

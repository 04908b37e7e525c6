/* cache_store.h — the object store of one route's cache: objects in memory, shared by all the
 * workers of the process, kept across config reloads (the module finds it by the route's
 * registry state), bounded by max_size bytes with an eviction policy (cache_policy.h).
 *
 * Locking (the store's whole concurrency story):
 * - The table is split into CACHE_SHARDS shards by key hash; each shard has its own mutex, its
 *   own hash table, its own policy state and an equal share of max_size. Every lookup, insert,
 *   removal and policy update of a key happens under its shard's lock, held for a table walk
 *   and a few pointer moves, never during I/O or a copy of a body.
 * - Objects are immutable once inserted (head, body, times) and reference-counted (atomic):
 *   a lookup returns a referenced object, the exchange serves its body straight from it and
 *   drops the reference at its end, whether or not the object was evicted or purged meanwhile.
 *   Replacing an object (a new response, a 304's new head) inserts a new one.
 * - Two fields change after insertion and are atomic: `stale` (a soft purge) and `refreshing`
 *   (one background refresh at a time).
 * - Coalescing: the keys being fetched (flights) are in a table of their own
 *   (cache_flight.h, its own striped locks), kept with the store.
 * - Admin purges walk every shard, one lock at a time.
 * - The registry of stores (for the admin API) has its own mutex, taken when a store is
 *   created or freed and by admin walks. */
#ifndef WEIR_CACHE_STORE_H
#define WEIR_CACHE_STORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_flight.h"
#include "cache/cache_object.h"
#include "cache/cache_policy.h"
#include "core/str.h"
#include "http/h1_types.h"

#define CACHE_SHARDS 16

struct cache_store_stats {
    atomic_uint_fast64_t hit, miss, stale, revalidated, coalesced, pass, evicted, stored,
        purged, bytes_served, uncacheable;
};

struct cache_store;

/* A store of max_size bytes with the given policy; NULL when out of memory. `name` labels it
 * in the admin API and metrics (copied). Registered for admin walks. */
struct cache_store *cache_store_new(const char *name, uint64_t max_size,
                                    const struct cache_policy_ops *policy);
void cache_store_free(struct cache_store *s);
/* Changes the size (a reload); shrinking evicts at the next inserts. */
void cache_store_resize(struct cache_store *s, uint64_t max_size);
struct cache_store_stats *cache_store_stats(struct cache_store *s);
const char *cache_store_name(const struct cache_store *s);
const struct cache_policy_ops *cache_store_policy(const struct cache_store *s);
/* Bytes and objects stored now. */
void cache_store_usage(struct cache_store *s, uint64_t *bytes, uint64_t *objects);

/* The newest object of `key` whose Vary selects req (req NULL: the first one), referenced;
 * NULL when none. A policy hit is recorded. */
struct cache_obj *cache_store_lookup(struct cache_store *s, uint64_t hash, struct str key,
                                     const struct h1_request *req);

/* Inserts o (the store takes the caller's reference), replacing the object with the same key
 * and variant, evicting what the policy says until it fits. False when o is larger than a
 * shard's share of max_size (the caller still drops its reference... none: o is freed). */
bool cache_store_insert(struct cache_store *s, struct cache_obj *o);

/* Removes every object of `key` (all variants); returns how many. */
uint32_t cache_store_remove_key(struct cache_store *s, uint64_t hash, struct str key);

/* Removes (or, soft, marks stale) every object for which match(o, arg) says so; returns how
 * many. Walks every shard. */
uint32_t cache_store_purge(struct cache_store *s, bool (*match)(const struct cache_obj *o,
                                                                void *arg),
                           void *arg, bool soft);

/* The route's pre-warm list (a path, or NULL), set by each config generation; copied. */
void cache_store_set_prewarm(struct cache_store *s, const char *path);
/* A malloc'd copy of it, or NULL. */
char *cache_store_prewarm(struct cache_store *s);

/* Calls fn for every registered store (admin thread; under the registry mutex). */
void cache_store_foreach(void (*fn)(struct cache_store *s, void *arg), void *arg);

/* The store's flights (coalescing, cache_flight.h). */
struct cache_flights *cache_store_flights(struct cache_store *s);

#endif

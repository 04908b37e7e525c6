/* jwt_keys.h — the keys one `jwt:` section verifies with, shared by every worker: the inline
 * keys of the config, a JWKS file (re-read when its mtime changes, looked at once a second at
 * most) and a JWKS URL (fetched through weir's own front door: at the first token, again on an
 * unknown kid at most once per jwks_refresh_min, and in the background after jwks_max_age; a
 * failed fetch keeps the last good set). Also the cache of verified tokens.
 *
 * Sets are immutable and reference-counted: a verification holds its set while it runs, a
 * reload swaps the pointer under the mutex. `gen` changes with every swap, so the token cache
 * forgets what older keys verified. The mutex is taken on cache misses and swaps only. */
#ifndef WEIR_SECURITY_JWT_KEYS_H
#define WEIR_SECURITY_JWT_KEYS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "security/jwks.h"

struct jwt_conf;
struct pipeline_worker;
struct token_cache;

struct jwt_keyset {
    atomic_uint refs;
    struct jwks set;
};

struct jwt_keys {
    atomic_uint refs;              /* the route's chains, plus each fetch in flight */
    pthread_mutex_t mu;
    char *file;
    int64_t file_mtime_ns;
    atomic_uint_fast64_t file_next_check_ms;
    struct jwt_keyset *file_set;
    char *request;                 /* the JWKS URL's GET, or NULL */
    uint32_t refresh_min_ms, max_age_ms;
    struct jwt_keyset *url_set;
    bool fetching;
    uint64_t last_fetch_ms, last_ok_ms;
    atomic_uint_fast64_t stale_at_ms; /* a background refresh is due (lock-free check) */
    atomic_uint_fast64_t gen;
    atomic_uint_fast64_t fetches, fetch_failures, reloads;
    struct token_cache *cache;     /* NULL: no cache */
};

struct jwt_keys *jwt_keys_new(const struct jwt_conf *c);
void jwt_keys_put(struct jwt_keys *k);
/* Re-reads the JWKS file when it changed (cheap when not due). */
void jwt_keys_check_file(struct jwt_keys *k, uint64_t now_ms);
/* The key for (kid, alg) among the config's inline keys (the caller's generation: k may
 * outlive it), then the file's and the URL's sets, with a reference on the set it is in (*hold:
 * release with jwt_keyset_put; NULL for an inline key). NULL when none. */
const struct jwt_key *jwt_keys_find(struct jwt_keys *k, const struct jwks *inline_keys,
                                    const char *kid, enum jwt_alg alg, struct jwt_keyset **hold);
void jwt_keyset_put(struct jwt_keyset *s);
/* Starts a JWKS fetch on worker pw when one is allowed now (a URL, none in flight, the last
 * one at least refresh_min ago, or `stale_only` and the set older than max_age). true when a
 * fetch is in flight after the call. */
bool jwt_keys_refresh(struct jwt_keys *k, struct pipeline_worker *pw, uint64_t now_ms,
                      bool stale_only);
bool jwt_keys_fetching(struct jwt_keys *k);
/* Parses a fetched document into the URL's set (0), or keeps the last one (-1). For the fetch
 * callback and tests. */
int jwt_keys_set_url(struct jwt_keys *k, const char *text, size_t len, uint64_t now_ms);

#endif

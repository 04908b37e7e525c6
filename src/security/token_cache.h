/* token_cache.h — tokens that passed verification, by the SHA-256 of the token, until their
 * expiry: a client that reuses a token pays one signature check. What is kept is the module's
 * own record of the outcome (bytes: the headers to add, the subject and jti for the
 * revocation check, the verdict), never the token.
 *
 * Bounded: 4-way sets of entries (the oldest-expiring of a full set is replaced), 64 locks
 * striped over the sets, so workers rarely meet. An entry also remembers the key-set
 * generation it was verified under: when the keys change (a JWKS reload), older entries miss.
 * Thread-safe. */
#ifndef WEIR_SECURITY_TOKEN_CACHE_H
#define WEIR_SECURITY_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_CACHE_DATA_MAX 2048

struct token_cache;

/* SHA-256 of p[0..n) into out: the cache's key. OpenSSL 3's one-shot SHA256() fetches the
 * algorithm and makes a context on every call (thousands of instructions more than the hash
 * of a token); this keeps one fetched algorithm and one context per thread. */
void token_cache_hash(const void *p, size_t n, uint8_t out[32]);

/* max_entries rounded up to a multiple of 4 (at least 64). NULL when out of memory. */
struct token_cache *token_cache_new(uint32_t max_entries);
void token_cache_free(struct token_cache *c);
/* Copies a live entry's data into out (cap bytes): its length, or -1 (absent, expired at
 * now_s, of another generation, or longer than cap). */
long token_cache_get(struct token_cache *c, const uint8_t hash[32], int64_t now_s, uint64_t gen,
                     char *out, size_t cap);
/* Keeps data (copied; at most TOKEN_CACHE_DATA_MAX bytes) until exp_s. */
void token_cache_put(struct token_cache *c, const uint8_t hash[32], int64_t exp_s, uint64_t gen,
                     const char *data, size_t len);

/* Records hash until exp_s unless a live record of it is there (a replay window): 1 when it
 * was new (recorded now), 0 when it was seen. Atomic under the set's lock. When the cache is
 * full the oldest-expiring record of the set gives way, so the window is as long as the size
 * allows under a flood (size it for the request rate times the window). */
int token_cache_claim(struct token_cache *c, const uint8_t hash[32], int64_t exp_s,
                      int64_t now_s);

#endif

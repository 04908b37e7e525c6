/* redis_script.h — the Lua scripts weir runs in Redis: each decision is one script, so one
 * round trip (EVALSHA), atomic in Redis. Loaded with SCRIPT LOAD on every connect (their SHA1s
 * come back in the replies), reloaded on NOSCRIPT. Every script touches exactly the keys it is
 * given (KEYS[]), all in one hash-tag slot, so it runs on Redis Cluster as well.
 *
 * Key layout (state/redis_key.c): {<prefix>:<feature>:<id>} — the braces are the Redis Cluster
 * hash tag, so everything a script touches is one key or keys sharing the tag. */
#ifndef WEIR_STATE_REDIS_SCRIPT_H
#define WEIR_STATE_REDIS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

enum redis_script {
    REDIS_SCRIPT_GCRA,          /* KEYS: tat; ARGV: t_us, tau_us → {allowed, tat - now (us)} */
    REDIS_SCRIPT_IDEM_BEGIN,    /* KEYS: rec; ARGV: body_hash, token, inflight_ms, ttl_ms →
                                   {0} new, {1} in flight, {2, resp} done, {3} mismatch */
    REDIS_SCRIPT_IDEM_COMPLETE, /* KEYS: rec; ARGV: token, resp → 1 stored (lives ttl_ms from
                                   now), 0 not ours */
    REDIS_SCRIPT_IDEM_ABORT,    /* KEYS: rec; ARGV: token → 1 dropped, 0 not ours */
    REDIS_SCRIPT_WAITROOM,      /* KEYS: the room's 7 keys (waitroom/wr_store_redis.c); ARGV: op
                                   (a arrive, p poll, t touch, j adopt, v revoke, s stats, z/u
                                   pause),
                                   id, max_active, quota per window, window_ms, session_ms,
                                   abandon_ms, mode, event, prequeue, start, end (ms), seed →
                                   {verdict, fresh, new, id, ahead, active, waiting, per minute} */
    REDIS_SCRIPT_REVOKE_ADD,    /* KEYS: list; ARGV: member ("j:<jti>" / "s:<sub>"), until_s →
                                   1 (the list lives until its last entry's time) */
    REDIS_SCRIPT_REVOKE_LIST,   /* KEYS: list → {member, until_s, ...} of the live entries */
    REDIS_SCRIPT_KV_LOCK,       /* KEYS: {prefix:kv:<key>}; ARGV: base_ms, max_ms, doubling →
                                   the ttl applied (ms); strikes counted, forgotten after max */
    REDIS_SCRIPT_KV_CHECK,      /* KEYS: the same → {ms left locked (0: not), strikes} */
    REDIS_SCRIPT_KV_UNLOCK,     /* KEYS: the same → keys deleted */
    REDIS_SCRIPT_KV_HIT_LOCK,   /* KEYS: count, lock (the same key or two); ARGV: member,
                                   window_ms, lock count, lock distinct, base_ms, max_ms,
                                   doubling → {count, distinct, ttl applied (0: none)} */
    REDIS_SCRIPT_KV_RESET,      /* KEYS: count → 1 (the window's count and members forgotten) */
    REDIS_SCRIPT_COUNT,
};

extern const char *const redis_script_text[REDIS_SCRIPT_COUNT];

/* Writes "{prefix:feature:id}" into out (NUL-terminated); returns its length, or 0 when it
 * does not fit. id is taken as bytes, unchanged: a brace inside it only moves where the hash
 * tag ends, and every script touches one key (or keys built from one tag), so no two distinct
 * ids collide and no script spans two slots. */
size_t redis_key(char *out, size_t cap, const char *prefix, const char *feature,
                 const char *id, size_t idlen);
/* The same with only id's first tag_len bytes inside the braces: "{prefix:feature:<id[0,
 * tag_len)>}<the rest>". Keys whose ids share those first bytes share the hash tag, so one
 * script may touch them all on Redis Cluster (a kv lock and its counters). tag_len == idlen
 * is redis_key's key. Distinct ids give distinct keys for the same tag_len. */
size_t redis_key_tagged(char *out, size_t cap, const char *prefix, const char *feature,
                        const char *id, size_t idlen, size_t tag_len);
/* The hash tag Redis Cluster hashes a key by (the bytes between the first '{' and the next
 * '}' when not empty, else the whole key): two keys are in one slot when these are equal. */
struct redis_tag {
    const char *ptr;
    size_t len;
};
struct redis_tag redis_key_tag(const char *key, size_t len);
/* Whether the n keys share one hash tag (one Redis Cluster slot, without hashing): every
 * script call is checked with it, and one that would cross slots is never sent. */
bool redis_keys_one_tag(int n, const char *const *keys, const size_t *lens);

#endif

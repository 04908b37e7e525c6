/* kv.h — small shared security state: windowed failure counters and keys locked with a TTL,
 * with listing and unlocking by key prefix (the lockout and abnormal-access modules, the admin
 * API). A backend is a `struct kv_ops` (designated initializers) listed in kv.c's registry; the
 * memory one keeps the state in this process, a Redis one (issue 15) can share it between
 * instances without the modules changing.
 *
 * One entry per key holds both a counter and a lock:
 *   hit     counts one event in the key's window (a fixed window that starts at the first event
 *           after the previous one ended) and remembers up to KV_MEMBERS distinct members (hashes
 *           of, e.g., the client addresses that failed for an account); answers the count and
 *           the number of distinct members seen in the window.
 *   lock    locks the key until now + ttl, where ttl = base << strikes (capped at max) when
 *           `doubling`, and counts a strike; strikes are forgotten once the key was unlocked for
 *           longer than max. Answers the ttl applied. The window's count starts over.
 *   check   the lock's expiry (0: not locked) and the strikes.
 *   reset   forgets the window's count and members (a success), keeps the lock.
 *   unlock  drops the key entirely.
 *   list    calls fn for every key under `prefix` locked now; unlock_prefix unlocks them all.
 *
 * Asynchronous answers (kv_call_check): a backend with check_async answers later through
 * call->done on the caller's worker, a synchronous one before kv_call_check returns, as
 * state/store.h's store_call does. Writes (hit, lock, reset) answer at once in memory; a
 * networked backend may answer them from a local view and send them on. Thread-safe. */
#ifndef WEIR_STATE_KV_H
#define WEIR_STATE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define KV_MEMBERS 8

struct kv_hit {
    uint32_t count;              /* events in the current window, this one included */
    uint32_t distinct;           /* distinct members in it (at most KV_MEMBERS) */
};

/* When a hit locks (kv_hit_lock): count >= count and distinct >= distinct. */
struct kv_rule {
    uint32_t count, distinct;
    uint32_t base_ms, max_ms;
    bool doubling;
};

struct kv_call {
    struct str key;
    uint64_t now_ms;
    void (*done)(struct kv_call *call);
    uint64_t until_ms;           /* answer: locked until (0: not locked) */
    uint32_t strikes;
    bool pending;
    void *backend;
};

struct kv_ops {
    const char *name;
    void *(*open)(uint32_t max_keys);
    void (*close)(void *st);
    struct kv_hit (*hit)(void *st, struct str key, uint64_t member, uint64_t now_ms,
                         uint32_t window_ms);
    uint32_t (*lock)(void *st, struct str key, uint64_t now_ms, uint32_t base_ms,
                     uint32_t max_ms, bool doubling);
    uint64_t (*check)(void *st, struct str key, uint64_t now_ms, uint32_t *strikes);
    void (*reset)(void *st, struct str key);
    bool (*unlock)(void *st, struct str key);
    size_t (*list)(void *st, struct str prefix, uint64_t now_ms,
                   void (*fn)(void *arg, struct str key, uint64_t until_ms, uint32_t strikes),
                   void *arg);
    size_t (*unlock_prefix)(void *st, struct str prefix);
    size_t (*size)(void *st);
    /* Optional (networked backends): hit count_key and, when rule says so, lock lock_key, as
     * one decision (one script): answers from the local view, the shared decision is sent on.
     * lock_key is count_key or a prefix of it ("<lock key>|r0"), so both live under the lock
     * key's Redis Cluster hash tag. Returns the ttl applied locally (0: no lock here). */
    uint32_t (*hit_lock)(void *st, struct str count_key, struct str lock_key, uint64_t member,
                         uint64_t now_ms, uint32_t window_ms, const struct kv_rule *rule,
                         struct kv_hit *hit);
    /* Optional (networked backends): answer call later; stop waiting for it. */
    void (*check_async)(void *st, struct kv_call *call);
    void (*cancel)(void *st, struct kv_call *call);
};

void kv_call_check(const struct kv_ops *ops, void *st, struct kv_call *call);
/* hit + lock when the rule says so: through ops->hit_lock when the backend has it, else hit
 * then lock. The ttl applied (0: no lock); *hit (may be NULL) gets the count. */
uint32_t kv_hit_lock(const struct kv_ops *ops, void *st, struct str count_key,
                     struct str lock_key, uint64_t member, uint64_t now_ms, uint32_t window_ms,
                     const struct kv_rule *rule, struct kv_hit *hit);
void kv_call_cancel(const struct kv_ops *ops, void *st, struct kv_call *call);

const struct kv_ops *kv_find(const char *name);
extern const struct kv_ops kv_memory;
extern const struct kv_ops kv_redis; /* kv_redis.c: locks shared by instances */

#endif

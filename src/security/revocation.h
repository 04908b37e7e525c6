/* revocation.h — revoked tokens, by their `jti` or their subject (`sub`), until a time (the
 * token's own expiry is a good choice: after it the token fails anyway). The JWT module asks
 * on every request, cached tokens included; the admin listener adds and lists (POST /revoke,
 * GET /revoke).
 *
 * A backend is a `struct revocation_ops` (state-store style, like src/state/store.h), so a
 * shared one (Redis, issue 15) can stand beside the memory backend. The process has one list
 * (revocation_default): revocations are a fact about a token, not about a route. Thread-safe. */
#ifndef WEIR_SECURITY_REVOCATION_H
#define WEIR_SECURITY_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum revocation_kind { REVOKE_JTI = 0, REVOKE_SUB = 1 };

#define REVOCATION_VALUE_MAX 256

typedef void (*revocation_each_fn)(void *arg, enum revocation_kind kind, struct str value,
                                   int64_t until_s);

struct revocation_ops {
    const char *name;
    void *(*open)(uint32_t max_entries);
    void (*close)(void *st);
    /* Revokes value until until_s (Unix seconds); a later add of the same value replaces the
     * time. 0, or -1 when full of live entries, out of memory or the value is too long. */
    int (*add)(void *st, enum revocation_kind kind, struct str value, int64_t until_s,
               int64_t now_s);
    bool (*contains)(void *st, enum revocation_kind kind, struct str value, int64_t now_s);
    /* Calls each for every live entry (under the backend's lock: each must not call back). */
    size_t (*list)(void *st, int64_t now_s, revocation_each_fn each, void *arg);
    size_t (*size)(void *st);
};

extern const struct revocation_ops revocation_memory;

struct revocation {
    const struct revocation_ops *ops;
    void *st;
};

/* The process's list (memory backend, made on first use, 65536 entries at most). */
struct revocation *revocation_default(void);
/* True when the list has had no entry yet: the per-request check costs one atomic load. */
bool revocation_empty(void);
/* Through revocation_default, counting for revocation_empty. */
int revocation_add(enum revocation_kind kind, struct str value, int64_t until_s, int64_t now_s);
bool revocation_check(struct str jti, struct str sub, int64_t now_s);

#endif

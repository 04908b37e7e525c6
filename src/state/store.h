/* store.h — the state-store interface: shared state several weir instances may share.
 *
 * Today it holds idempotency records; the memory backend keeps them in this process, the Redis
 * backend (store_redis.c) shares them between instances. A backend is a `struct store_ops` with
 * designated initializers, listed in store.c's registry.
 *
 * Idempotency records: `begin` claims a key for the first request (state IN_FLIGHT), repeats
 * find it IN_FLIGHT (wait or 409) or DONE (replay the stored response) or with another body
 * hash (422). Keys expire after their TTL. Thread-safe.
 *
 * Claims carry a token: `begin` returns one with STORE_NEW, and `complete` / `abort` act only on
 * the record of that claim, so an owner that outlived its in-flight expiry cannot complete or
 * drop the record of a later claim of the same key.
 *
 * Asynchronous answers. Callers go through store_call_begin: a backend with `begin_async` (one
 * that talks to a server, such as Redis) answers later through call->done on the caller's
 * worker; a synchronous one (memory) answers before store_call_begin returns. A caller whose
 * exchange ends while a call is pending cancels it (store_call_cancel): done never runs after.
 * `complete` and `abort` need no answer (a networked backend sends them and moves on). */
#ifndef WEIR_STATE_STORE_H
#define WEIR_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

enum store_begin {
    STORE_NEW = 0,      /* the caller now owns the in-flight record: complete or abort it */
    STORE_INFLIGHT,     /* the first request is still running */
    STORE_DONE,         /* a stored response exists: *resp / *resp_len are a copy to free() */
    STORE_MISMATCH,     /* the key was used with a different request body */
    STORE_ERROR,        /* out of memory / backend unavailable */
};

/* One begin in flight: the caller fills the inputs and done, and owns the struct until done ran
 * or store_call_cancel returned. */
struct store_call {
    struct str key;
    uint64_t body_hash;
    uint64_t now_ms;
    uint32_t ttl_ms;
    void (*done)(struct store_call *call); /* on the caller's thread, with the answer below */
    enum store_begin status;
    char *resp;                            /* STORE_DONE: a copy for the caller to free() */
    size_t resp_len;
    uint64_t token;                        /* STORE_NEW: the claim, for complete / abort */
    bool pending;                          /* begun, not answered yet */
    void *backend;                         /* the backend's own, while pending */
};

struct store_ops {
    const char *name;
    void *(*open)(uint32_t max_entries);
    void (*close)(void *st);
    /* key: the full record key (the caller combines header value, method, path, client).
     * Answers at once; *token names a STORE_NEW claim (may be NULL otherwise). */
    enum store_begin (*begin)(void *st, struct str key, uint64_t body_hash, uint64_t now_ms,
                              uint32_t ttl_ms, char **resp, size_t *resp_len, uint64_t *token);
    /* Stores the response bytes (copied) for the claim; the record becomes DONE. */
    void (*complete)(void *st, struct str key, uint64_t token, const char *resp, size_t len,
                     uint64_t now_ms);
    /* Forgets the claim's in-flight record (the first request failed without a response). */
    void (*abort)(void *st, struct str key, uint64_t token);
    size_t (*size)(void *st);
    /* Optional, for backends that answer later: start the begin of `call` (call->done runs on
     * the caller's worker), and stop waiting for one (done must not run after it returns). */
    void (*begin_async)(void *st, struct store_call *call);
    void (*cancel)(void *st, struct store_call *call);
};

/* Starts call (see above); call->done runs before this returns when the backend answers at
 * once, else later. */
void store_call_begin(const struct store_ops *ops, void *st, struct store_call *call);
/* A pending call's answer is no longer wanted (its caller is going away). */
void store_call_cancel(const struct store_ops *ops, void *st, struct store_call *call);

const struct store_ops *store_find(const char *name);
extern const struct store_ops store_memory;
extern const struct store_ops store_redis; /* store_redis.c: shared by instances */

#endif

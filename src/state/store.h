/* store.h — the state-store interface: shared state several weir instances may share.
 *
 * Today it holds idempotency records; the memory backend keeps them in this process, a Redis
 * backend (later) will share them between instances. A backend is a `struct store_ops` with
 * designated initializers, listed in store.c's registry.
 *
 * Idempotency records: `begin` claims a key for the first request (state IN_FLIGHT), repeats
 * find it IN_FLIGHT (wait or 409) or DONE (replay the stored response) or with another body
 * hash (422). Keys expire after their TTL. Thread-safe. */
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

struct store_ops {
    const char *name;
    void *(*open)(uint32_t max_entries);
    void (*close)(void *st);
    /* key: the full record key (the caller combines header value, method, path, client). */
    enum store_begin (*begin)(void *st, struct str key, uint64_t body_hash, uint64_t now_ms,
                              uint32_t ttl_ms, char **resp, size_t *resp_len);
    /* Stores the response bytes (copied) for key; the record becomes DONE. */
    void (*complete)(void *st, struct str key, const char *resp, size_t len, uint64_t now_ms);
    /* Forgets the in-flight record (the first request failed without a response to keep). */
    void (*abort)(void *st, struct str key);
    size_t (*size)(void *st);
};

const struct store_ops *store_find(const char *name);
extern const struct store_ops store_memory;

#endif

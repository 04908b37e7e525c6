/* store.c — the registry of state-store backends: one explicit table. Adding a backend = one
 * file, one extern in store.h, one line here (docs/internals/state.md sketches the Redis one). */
#include "state/store.h"

#include <string.h>

static const struct store_ops *const registry[] = {
    &store_memory,
    &store_redis,
};

void store_call_begin(const struct store_ops *ops, void *st, struct store_call *call)
{
    call->resp = NULL;
    call->resp_len = 0;
    call->token = 0;
    call->pending = true;
    if (ops->begin_async) {
        ops->begin_async(st, call);
        return;
    }
    call->status = ops->begin(st, call->key, call->body_hash, call->now_ms, call->ttl_ms,
                              &call->resp, &call->resp_len, &call->token);
    call->pending = false;
    call->done(call);
}

void store_call_cancel(const struct store_ops *ops, void *st, struct store_call *call)
{
    if (call->pending && ops->cancel)
        ops->cancel(st, call);
    call->pending = false;
}

/* The backend named `name`, or NULL. O(number of backends); called at config load, never per
 * request. Any thread. */
const struct store_ops *store_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

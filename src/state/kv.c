/* kv.c — the registry of kv backends and the call helpers (see kv.h). */
#include "state/kv.h"

#include <string.h>

static const struct kv_ops *const registry[] = {
    &kv_memory,
    &kv_redis,
};

void kv_call_check(const struct kv_ops *ops, void *st, struct kv_call *call)
{
    call->pending = true;
    if (ops->check_async) {
        ops->check_async(st, call);
        return;
    }
    call->until_ms = ops->check(st, call->key, call->now_ms, &call->strikes);
    call->pending = false;
    call->done(call);
}

uint32_t kv_hit_lock(const struct kv_ops *ops, void *st, struct str count_key,
                     struct str lock_key, uint64_t member, uint64_t now_ms, uint32_t window_ms,
                     const struct kv_rule *rule, struct kv_hit *hit)
{
    struct kv_hit h;
    if (!hit)
        hit = &h;
    if (ops->hit_lock)
        return ops->hit_lock(st, count_key, lock_key, member, now_ms, window_ms, rule, hit);
    *hit = ops->hit(st, count_key, member, now_ms, window_ms);
    if (hit->count < rule->count || hit->distinct < rule->distinct)
        return 0;
    return ops->lock(st, lock_key, now_ms, rule->base_ms, rule->max_ms, rule->doubling);
}

void kv_call_cancel(const struct kv_ops *ops, void *st, struct kv_call *call)
{
    if (call->pending && ops->cancel)
        ops->cancel(st, call);
    call->pending = false;
}

const struct kv_ops *kv_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

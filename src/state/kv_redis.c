/* kv_redis.c — the security kv shared through Redis ("redis"), see kv.h: a lock taken through
 * one instance holds on every instance. It answers from a local view (a kv_memory underneath)
 * and sends the locks on:
 *   hit      local only: failures are counted per instance (the thresholds apply to what one
 *            instance sees; the lock they trigger is global)
 *   lock     local, and one script in Redis (REDIS_SCRIPT_KV_LOCK, sent without waiting):
 *            {<prefix>:kv:<key>} = {locked until, strikes} on Redis' clock, doubling there
 *   check    asynchronous: one script (REDIS_SCRIPT_KV_CHECK) → the shared lock, in the
 *            caller's clock (now + what Redis says is left); no answer within the command
 *            timeout → the local view's answer
 *   unlock   local, and DEL in Redis (unlock_prefix: the keys the local view has under it)
 *   list     the local view (locks taken through this instance, or seen through a check)
 * Without a Redis connection on the calling thread (state backend memory) every operation is
 * the memory backend's. */
#include "state/kv.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/redis_conn.h"
#include "state/redis_script.h"

#define KEY_MAX 400

static size_t shared_key(struct redis_conn *c, struct str key, char *out)
{
    return redis_key(out, KEY_MAX, redis_conn_cfg(c)->prefix, "kv", key.ptr, key.len);
}

static void *kr_open(uint32_t max_keys)
{
    return kv_memory.open(max_keys);
}

static void kr_close(void *st)
{
    kv_memory.close(st);
}

static struct kv_hit kr_hit(void *st, struct str key, uint64_t member, uint64_t now_ms,
                            uint32_t window_ms)
{
    return kv_memory.hit(st, key, member, now_ms, window_ms);
}

static uint32_t kr_lock(void *st, struct str key, uint64_t now_ms, uint32_t base_ms,
                        uint32_t max_ms, bool doubling)
{
    uint32_t ttl = kv_memory.lock(st, key, now_ms, base_ms, max_ms, doubling);
    struct redis_conn *c = redis_conn_here();
    char k[KEY_MAX], base[16], max[16];
    size_t kl = c ? shared_key(c, key, k) : 0;
    if (!kl)
        return ttl;
    const char *argv[4] = {k, base, max, doubling ? "1" : "0"};
    size_t lens[4] = {kl, (size_t)snprintf(base, sizeof(base), "%" PRIu32, base_ms),
                      (size_t)snprintf(max, sizeof(max), "%" PRIu32, max_ms), 1};
    redis_conn_eval_forget(c, REDIS_SCRIPT_KV_LOCK, 1, 4, argv, lens);
    return ttl;
}

static uint64_t kr_check(void *st, struct str key, uint64_t now_ms, uint32_t *strikes)
{
    return kv_memory.check(st, key, now_ms, strikes);
}

static void kr_reset(void *st, struct str key)
{
    kv_memory.reset(st, key);
}

static void send_del(struct str key)
{
    struct redis_conn *c = redis_conn_here();
    char k[KEY_MAX];
    size_t kl = c ? shared_key(c, key, k) : 0;
    if (!kl)
        return;
    const char *argv[1] = {k};
    size_t lens[1] = {kl};
    redis_conn_eval_forget(c, REDIS_SCRIPT_KV_UNLOCK, 1, 1, argv, lens);
}

static bool kr_unlock(void *st, struct str key)
{
    send_del(key);
    return kv_memory.unlock(st, key);
}

static size_t kr_list(void *st, struct str prefix, uint64_t now_ms,
                      void (*fn)(void *arg, struct str key, uint64_t until_ms, uint32_t strikes),
                      void *arg)
{
    return kv_memory.list(st, prefix, now_ms, fn, arg);
}

static void del_one(void *arg, struct str key, uint64_t until_ms, uint32_t strikes)
{
    (void)arg, (void)until_ms, (void)strikes;
    send_del(key);
}

static size_t kr_unlock_prefix(void *st, struct str prefix)
{
    kv_memory.list(st, prefix, 0, del_one, NULL); /* now 0: every entry still locked or not */
    return kv_memory.unlock_prefix(st, prefix);
}

static size_t kr_size(void *st)
{
    return kv_memory.size(st);
}

/* A check in flight: the call, the local view to merge the answer with, the request. */
struct kr_pending {
    struct kv_call *call;
    void *st;
    struct redis_req *req;
};

static void answer(struct kv_call *call)
{
    call->pending = false;
    call->backend = NULL;
    call->done(call);
}

static void local_answer(void *st, struct kv_call *call)
{
    call->until_ms = kv_memory.check(st, call->key, call->now_ms, &call->strikes);
    answer(call);
}

/* {ms left, strikes}: Redis' answer is the lock (an unlock through another instance ends
 * it here too); no answer: the local view's. */
static void checked(void *arg, const redisReply *r)
{
    struct kr_pending *p = arg;
    struct kv_call *call = p->call;
    void *st = p->st;
    free(p);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[0]->integer < 0 || r->element[1]->integer < 0)
        return local_answer(st, call);
    call->until_ms = r->element[0]->integer ? call->now_ms + (uint64_t)r->element[0]->integer : 0;
    call->strikes = (uint32_t)r->element[1]->integer;
    answer(call);
}

static void kr_check_async(void *st, struct kv_call *call)
{
    struct redis_conn *c = redis_conn_here();
    char k[KEY_MAX];
    size_t kl = c ? shared_key(c, call->key, k) : 0;
    struct kr_pending *p = kl ? malloc(sizeof(*p)) : NULL;
    if (!p)
        return local_answer(st, call);
    *p = (struct kr_pending){.call = call, .st = st};
    const char *argv[1] = {k};
    size_t lens[1] = {kl};
    p->req = redis_conn_eval(c, REDIS_SCRIPT_KV_CHECK, 1, 1, argv, lens, checked, p);
    if (!p->req) {
        free(p);
        return local_answer(st, call);
    }
    call->backend = p;
}

static void kr_cancel(void *st, struct kv_call *call)
{
    (void)st;
    struct kr_pending *p = call->backend;
    if (p) {
        redis_req_cancel(p->req);
        free(p);
    }
    call->backend = NULL;
}

const struct kv_ops kv_redis = {
    .name = "redis",
    .open = kr_open,
    .close = kr_close,
    .hit = kr_hit,
    .lock = kr_lock,
    .check = kr_check,
    .reset = kr_reset,
    .unlock = kr_unlock,
    .list = kr_list,
    .unlock_prefix = kr_unlock_prefix,
    .size = kr_size,
    .check_async = kr_check_async,
    .cancel = kr_cancel,
};

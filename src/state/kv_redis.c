/* kv_redis.c — the security kv shared through Redis ("redis"), see kv.h: a lock taken through
 * one instance holds on every instance. It answers from a local view (a kv_memory underneath)
 * and sends the locks on:
 *   hit_lock one decision = one script (REDIS_SCRIPT_KV_HIT_LOCK, sent without waiting: the
 *            response hook cannot wait): the failure is counted in Redis' window, so failures
 *            through every instance add up, and over the rule the shared lock is taken there
 *            ({<prefix>:kv:<key>} = {window, count, members, locked until, strikes}, Redis'
 *            clock, doubling there; a count key that only extends its lock key, as abnormal's
 *            "<lock key>|r<i>", is {<prefix>:kv:<lock key>}|r<i>: one hash tag, one Redis
 *            Cluster slot); the local view counts and locks too (this instance's answer and
 *            audit event)
 *   lock     local, and REDIS_SCRIPT_KV_LOCK (sent without waiting)
 *   reset    local, and REDIS_SCRIPT_KV_RESET
 *   check    asynchronous: one script (REDIS_SCRIPT_KV_CHECK) → the shared lock, in the
 *            caller's clock (now + what Redis says is left); no answer within the command
 *            timeout → the local view's answer
 *   unlock   local, and DEL in Redis (unlock_prefix: the keys the local view has under it)
 *   list     the local view (locks taken through this instance, or seen through a check);
 *            the admin API lists and unlocks Redis' own through state/kv_scan.h
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

/* {<prefix>:kv:<key>}; a count key under its lock key (tag: the lock key's bytes, a prefix of
 * key) → {<prefix>:kv:<lock key>}<rest>, the lock's hash tag: one slot for the script. */
static size_t shared_key(struct redis_conn *c, struct str key, size_t tag_len, char *out)
{
    return redis_key_tagged(out, KEY_MAX, redis_conn_cfg(c)->prefix, "kv", key.ptr, key.len,
                            tag_len);
}

/* One script on the shared key(s), sent without waiting for its answer. With two keys, k2
 * (the lock) must be k1 (the count) or a prefix of it, so both share k2's hash tag; any other
 * pair would cross slots on Redis Cluster and is not sent (the local view still decides). */
static void send_script(enum redis_script sc, struct str k1, struct str k2, int nargs,
                        const char *const *args)
{
    struct redis_conn *c = redis_conn_here();
    char a[KEY_MAX], b[KEY_MAX];
    const char *argv[2 + 8];
    size_t lens[2 + 8];
    int nk = k2.ptr ? 2 : 1;
    if (k2.ptr && (k2.len > k1.len || memcmp(k1.ptr, k2.ptr, k2.len) != 0))
        return;
    size_t al = c ? shared_key(c, k1, k2.ptr ? k2.len : k1.len, a) : 0,
           bl = c && k2.ptr ? shared_key(c, k2, k2.len, b) : 0;
    if (!al || (k2.ptr && !bl) || nargs > 8)
        return;
    argv[0] = a;
    lens[0] = al;
    argv[1] = b;
    lens[1] = bl;
    for (int i = 0; i < nargs; i++) {
        argv[nk + i] = args[i];
        lens[nk + i] = strlen(args[i]);
    }
    redis_conn_eval_forget(c, sc, nk, nk + nargs, argv, lens);
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
    char base[16], max[16];
    snprintf(base, sizeof(base), "%" PRIu32, base_ms);
    snprintf(max, sizeof(max), "%" PRIu32, max_ms);
    const char *args[3] = {base, max, doubling ? "1" : "0"};
    send_script(REDIS_SCRIPT_KV_LOCK, key, (struct str){0}, 3, args);
    return kv_memory.lock(st, key, now_ms, base_ms, max_ms, doubling);
}

static uint64_t kr_check(void *st, struct str key, uint64_t now_ms, uint32_t *strikes)
{
    return kv_memory.check(st, key, now_ms, strikes);
}

static void kr_reset(void *st, struct str key)
{
    kv_memory.reset(st, key);
    send_script(REDIS_SCRIPT_KV_RESET, key, (struct str){0}, 0, NULL);
}

/* The local view decides for this instance (its answer, its audit event); Redis decides on
 * the failures of every instance and takes the shared lock. */
static uint32_t kr_hit_lock(void *st, struct str count_key, struct str lock_key, uint64_t member,
                            uint64_t now_ms, uint32_t window_ms, const struct kv_rule *rule,
                            struct kv_hit *hit)
{
    *hit = kv_memory.hit(st, count_key, member, now_ms, window_ms);
    uint32_t ttl = 0;
    if (hit->count >= rule->count && hit->distinct >= rule->distinct)
        ttl = kv_memory.lock(st, lock_key, now_ms, rule->base_ms, rule->max_ms, rule->doubling);
    char m[24], w[16], n[16], d[16], base[16], max[16];
    snprintf(m, sizeof(m), "%" PRIu64, member);
    snprintf(w, sizeof(w), "%" PRIu32, window_ms);
    snprintf(n, sizeof(n), "%" PRIu32, rule->count);
    snprintf(d, sizeof(d), "%" PRIu32, rule->distinct);
    snprintf(base, sizeof(base), "%" PRIu32, rule->base_ms);
    snprintf(max, sizeof(max), "%" PRIu32, rule->max_ms);
    const char *args[7] = {m, w, n, d, base, max, rule->doubling ? "1" : "0"};
    send_script(REDIS_SCRIPT_KV_HIT_LOCK, count_key, lock_key, 7, args);
    return ttl;
}

static void send_del(struct str key)
{
    struct redis_conn *c = redis_conn_here();
    char k[KEY_MAX];
    size_t kl = c ? shared_key(c, key, key.len, k) : 0;
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
    size_t kl = c ? shared_key(c, call->key, call->key.len, k) : 0;
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
    .hit_lock = kr_hit_lock,
    .check_async = kr_check_async,
    .cancel = kr_cancel,
};

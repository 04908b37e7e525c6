/* wr_store_redis.c — the waiting room in Redis ("redis"): one room shared by every weir instance
 * using the same Redis and key prefix, so one global FIFO, one admission window and one
 * active set. Each operation is one script (REDIS_SCRIPT_WAITROOM, state/redis_script.c) on the
 * calling worker's own connection: one round trip, atomic in Redis, timed by Redis' clock.
 *
 * Keys, all under the hash tag {<prefix>:wr:<room>} (one Cluster slot):
 *   :m  hash  seq (ticket sequence), sid (session sequence), last (clock), paused, pq (the
 *             event's first pre-queued ticket), x (expiries renewed), counters
 *   :w  zset  waiting tickets by queue position (the head is the serving counter's ticket)
 *   :l  zset  waiting tickets by last poll (abandonment)
 *   :g  hash  granted, not claimed: t<ticket> -> session, s<session> -> ticket
 *   :r  zset  reserved sessions by grant time    :a  zset  active sessions by last touch
 *   :c  zset  claims of the admission window by time
 * Every key lives 2 x max(session, abandon, window) + 1 h after its room's last call (renewed at
 * most every 10 s: a key made again in between gets its expiry at the next renewal).
 *
 * Only call_async answers requests: the module falls back per state.on_store_error when the
 * call fails. stats is not offered synchronously: worker 0 asks wr_store_redis_stats every
 * STATE_SYNC_MS (wr_handle.c) and the admin side shows that; pause is sent without waiting
 * from the admin thread's connection. Sessions
 * carry slot WR_REDIS_SLOT, which no memory room uses, so a Redis cookie is never mistaken for
 * a local session. Worker threads (and the admin thread for pause) only. */
#include "waitroom/wr_store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "state/redis_conn.h"
#include "state/redis_script.h"

#define KEY_MAX 256
#define NKEYS 7
#define NARGS 13
#define LUA_INT_MAX INT64_C(9007199254740991) /* 2^53 - 1: Lua's doubles hold it exactly */

struct redis_room {
    char name[64];
};

static _Thread_local uint64_t seed_state;

/* The script's random seed (draws in random mode, pre-queue positions): splitmix64 of a
 * per-thread state taken from getrandom once — no system call per request. */
static uint64_t seed_next(void)
{
    if (!seed_state && getrandom(&seed_state, sizeof(seed_state), GRND_NONBLOCK) !=
                           (ssize_t)sizeof(seed_state))
        seed_state = (uint64_t)(uintptr_t)&seed_state;
    uint64_t z = (seed_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *rr_open(const char *room, uint32_t *nonce)
{
    struct redis_room *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    snprintf(r->name, sizeof(r->name), "%s", room);
    /* Every instance must agree on it: derived from the name (FNV-1a), not random. */
    uint32_t h = 2166136261u;
    for (const char *p = "weir-wr:"; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    for (const char *p = room; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    *nonce = h;
    return r;
}

static void rr_close(void *room)
{
    free(room);
}

static int64_t clamp(int64_t v)
{
    return v < -LUA_INT_MAX ? -LUA_INT_MAX : v > LUA_INT_MAX ? LUA_INT_MAX : v;
}

/* Sends the script for op (one letter) with the room's keys and p; NULL when refused now. */
static struct redis_req *send_op(struct redis_conn *c, const struct redis_room *r, char op,
                                 uint64_t id, const struct wr_params *p, redis_reply_fn cb,
                                 void *arg)
{
    static const char suffix[NKEYS] = {'m', 'w', 'l', 'g', 'r', 'a', 'c'};
    char keys[NKEYS][KEY_MAX], args[NARGS][24];
    const char *argv[NKEYS + NARGS];
    size_t lens[NKEYS + NARGS];
    char base[KEY_MAX];
    size_t bl = redis_key(base, sizeof(base) - 3, redis_conn_cfg(c)->prefix, "wr", r->name,
                          strlen(r->name));
    if (!bl)
        return NULL;
    for (int i = 0; i < NKEYS; i++) {
        memcpy(keys[i], base, bl);
        keys[i][bl] = ':';
        keys[i][bl + 1] = suffix[i];
        argv[i] = keys[i];
        lens[i] = bl + 2;
    }
    uint64_t seed = seed_next();
    uint64_t quota = (uint64_t)p->admit_per_minute * p->window_ms / 60000;
    int64_t nums[NARGS] = {
        0, (int64_t)id, p->max_active, (int64_t)(quota ? quota : 1), p->window_ms,
        clamp((int64_t)p->session_ms), clamp((int64_t)p->abandon_ms), p->mode, p->event,
        clamp(p->prequeue_ms), clamp(p->start_ms), clamp(p->end_ms),
        (int64_t)(seed & 0x7fffffff)};
    for (int i = 0; i < NARGS; i++) {
        int n = i == 0 ? snprintf(args[i], sizeof(args[i]), "%c", op)
                       : snprintf(args[i], sizeof(args[i]), "%" PRId64, nums[i]);
        argv[NKEYS + i] = args[i];
        lens[NKEYS + i] = (size_t)n;
    }
    if (!cb)
        return redis_conn_eval_forget(c, REDIS_SCRIPT_WAITROOM, NKEYS, NKEYS + NARGS, argv, lens)
                   ? (struct redis_req *)1 : NULL;
    return redis_conn_eval(c, REDIS_SCRIPT_WAITROOM, NKEYS, NKEYS + NARGS, argv, lens, cb, arg);
}

static void finish(struct wr_call *call, bool failed)
{
    call->failed = failed;
    call->pending = false;
    call->backend = NULL;
    call->done(call);
}

/* {verdict, fresh, new visitor, id, ahead, active, waiting, admitted per minute} */
static void answered(void *arg, const redisReply *r)
{
    struct wr_call *call = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 8)
        return finish(call, true);
    long long v[8];
    for (size_t i = 0; i < 8; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER || r->element[i]->integer < 0)
            return finish(call, true);
        v[i] = r->element[i]->integer;
    }
    static const enum wr_verdict verdicts[] = {WR_ADMITTED, WR_WAITING, WR_REJECTED, WR_PASS};
    if (v[0] > 3)
        return finish(call, true);
    call->res = (struct wr_result){
        .v = verdicts[v[0]], .fresh = v[1], .new_visitor = v[2], .id = (uint64_t)v[3],
        .slot = WR_REDIS_SLOT, .ahead = (uint64_t)v[4], .active = (uint64_t)v[5],
        .waiting = (uint64_t)v[6], .admitted_last_minute = (uint64_t)v[7]};
    finish(call, false);
}

static void rr_call_async(void *room, struct wr_call *call)
{
    static const char ops[] = {[WR_OP_ARRIVE] = 'a', [WR_OP_POLL] = 'p', [WR_OP_TOUCH] = 't',
                               [WR_OP_REVOKE] = 'v', [WR_OP_ADOPT] = 'j'};
    struct redis_conn *c = redis_conn_here();
    struct redis_req *q = c ? send_op(c, room, ops[call->op], call->id, &call->p, answered, call)
                            : NULL;
    if (!q)
        return finish(call, true);
    call->backend = q;
}

static void rr_cancel(void *room, struct wr_call *call)
{
    (void)room;
    redis_req_cancel(call->backend);
    call->backend = NULL;
}

static void rr_pause(void *room, bool paused)
{
    struct redis_conn *c = redis_conn_here();
    struct wr_params p = {.max_active = 1, .admit_per_minute = 1, .window_ms = 60000};
    if (c)
        send_op(c, room, paused ? 'z' : 'u', 0, &p, NULL, NULL);
}

struct stats_req {
    void (*done)(void *arg, const struct wr_stats *st);
    void *arg;
};

/* {waiting, active, reserved, per minute, issued, admitted, abandoned, expired, revoked,
 * rejected, paused, phase} */
static void stats_answered(void *arg, const redisReply *r)
{
    struct stats_req q = *(struct stats_req *)arg;
    free(arg);
    long long v[12];
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 12;
    for (size_t i = 0; ok && i < 12; i++) {
        ok = r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer >= 0;
        v[i] = ok ? r->element[i]->integer : 0;
    }
    if (!ok || v[11] > WR_OFF)
        return q.done(q.arg, NULL);
    struct wr_stats st = {
        .waiting = (uint64_t)v[0], .active = (uint64_t)v[1], .reserved = (uint64_t)v[2],
        .admitted_last_minute = (uint64_t)v[3], .issued = (uint64_t)v[4],
        .admitted = (uint64_t)v[5], .abandoned = (uint64_t)v[6], .expired = (uint64_t)v[7],
        .revoked = (uint64_t)v[8], .rejected = (uint64_t)v[9], .paused = v[10] != 0,
        .phase = (enum wr_phase)v[11]};
    q.done(q.arg, &st);
}

bool wr_store_redis_stats(void *room, const struct wr_params *p,
                          void (*done)(void *arg, const struct wr_stats *st), void *arg)
{
    struct redis_conn *c = redis_conn_here();
    struct stats_req *q = c ? malloc(sizeof(*q)) : NULL;
    if (!q)
        return false;
    *q = (struct stats_req){.done = done, .arg = arg};
    if (!send_op(c, room, 's', 0, p, stats_answered, q)) {
        free(q);
        return false;
    }
    return true;
}

const struct wr_store_ops wr_store_redis = {
    .name = "redis",
    .open = rr_open,
    .close = rr_close,
    .pause = rr_pause,
    .call_async = rr_call_async,
    .cancel = rr_cancel,
};

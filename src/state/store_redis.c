/* store_redis.c — idempotency records in Redis ("redis"), shared by every weir instance that
 * uses the same Redis and key prefix: a key claimed through one instance is replayed by the
 * others. Each operation is one script (state/redis_script.c) on the calling worker's own
 * connection (redis_conn_here()), so one round trip, atomic in Redis.
 *
 * Record: a hash at {prefix:idem:<sha256(key)>} with h = body hash, t = claim token, x = ttl, r = the
 * stored response once complete. Lifetimes as the memory store's: an in-flight record expires
 * after min(ttl, 60 s), a complete one ttl after completion. Tokens are random 64-bit numbers
 * (the memory store's counter would repeat across instances).
 *
 * No answer within the command timeout (or no connection) → STORE_ERROR at the timeout; the
 * module applies its on_store_error policy. complete / abort are sent without waiting; if they
 * are lost the in-flight record simply expires. `begin` (synchronous) is not offered: this
 * backend answers through begin_async only. `st` is unused (NULL). Worker threads only. */
#include "state/store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "state/redis_conn.h"
#include "state/redis_script.h"

#define INFLIGHT_MAX_MS UINT32_C(60000)
#define KEY_MAX 1024

static _Thread_local uint64_t rng[2];

/* xorshift128+, seeded from getrandom once per thread. */
static uint64_t token_next(void)
{
    if (!(rng[0] | rng[1]) && (getrandom(rng, sizeof(rng), 0) != sizeof(rng) || !(rng[0] | rng[1]))) {
        rng[0] = (uint64_t)(uintptr_t)&rng ^ 0x9e3779b97f4a7c15ull;
        rng[1] = 0xbf58476d1ce4e5b9ull;
    }
    uint64_t a = rng[0], b = rng[1];
    rng[0] = b;
    a ^= a << 23;
    rng[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    uint64_t t = rng[1] + b;
    return t ? t : 1;
}

/* {prefix:idem:<sha256 of the key, hex>}: the caller's key can be long and holds the client's
 * address, neither of which belongs in Redis' key space. */
static size_t record_key(struct redis_conn *c, struct str key, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH];
    static const char digits[] = "0123456789abcdef";
    SHA256((const unsigned char *)key.ptr, key.len, md);
    for (size_t i = 0; i < sizeof(md); i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    return redis_key(out, KEY_MAX, redis_conn_cfg(c)->prefix, "idem", hex, sizeof(hex));
}

static void *redis_open(uint32_t max_entries)
{
    (void)max_entries; /* Redis' own maxmemory policy bounds it */
    return NULL;
}

static void redis_close(void *st)
{
    (void)st;
}

static size_t redis_size(void *st)
{
    (void)st;
    return 0;
}

static enum store_begin redis_begin(void *st, struct str key, uint64_t body_hash, uint64_t now_ms,
                                    uint32_t ttl_ms, char **resp, size_t *resp_len,
                                    uint64_t *token)
{
    (void)st, (void)key, (void)body_hash, (void)now_ms, (void)ttl_ms, (void)resp, (void)resp_len,
        (void)token;
    return STORE_ERROR; /* only begin_async */
}

static void answer(struct store_call *call, enum store_begin status)
{
    call->status = status;
    call->pending = false;
    call->backend = NULL;
    call->done(call);
}

static void begin_reply(void *arg, const redisReply *r)
{
    struct store_call *call = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return answer(call, STORE_ERROR);
    switch (r->element[0]->integer) {
    case 0:
        return answer(call, STORE_NEW);
    case 1:
        return answer(call, STORE_INFLIGHT);
    case 2:
        if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING ||
            !(call->resp = malloc(r->element[1]->len + 1)))
            return answer(call, STORE_ERROR);
        memcpy(call->resp, r->element[1]->str, r->element[1]->len);
        call->resp_len = r->element[1]->len;
        return answer(call, STORE_DONE);
    case 3:
        return answer(call, STORE_MISMATCH);
    default:
        return answer(call, STORE_ERROR);
    }
}

static void redis_begin_async(void *st, struct store_call *call)
{
    (void)st;
    struct redis_conn *c = redis_conn_here();
    char key[KEY_MAX], hash[24], tok[24], inflight[16], ttl[16];
    size_t kl = c ? record_key(c, call->key, key) : 0;
    if (!kl)
        return answer(call, STORE_ERROR);
    uint64_t token = token_next();
    uint32_t in = call->ttl_ms < INFLIGHT_MAX_MS ? call->ttl_ms : INFLIGHT_MAX_MS;
    const char *argv[5] = {key, hash, tok, inflight, ttl};
    size_t lens[5] = {kl,
                      (size_t)snprintf(hash, sizeof(hash), "%" PRIu64, call->body_hash),
                      (size_t)snprintf(tok, sizeof(tok), "%" PRIu64, token),
                      (size_t)snprintf(inflight, sizeof(inflight), "%" PRIu32, in ? in : 1),
                      (size_t)snprintf(ttl, sizeof(ttl), "%" PRIu32, call->ttl_ms ? call->ttl_ms : 1)};
    call->token = token; /* meaningful once the answer is STORE_NEW */
    struct redis_req *r = redis_conn_eval(c, REDIS_SCRIPT_IDEM_BEGIN, 1, 5, argv, lens,
                                          begin_reply, call);
    if (!r)
        return answer(call, STORE_ERROR);
    call->backend = r;
}

static void redis_cancel(void *st, struct store_call *call)
{
    (void)st;
    redis_req_cancel(call->backend);
    call->backend = NULL;
}

static void send_owned(enum redis_script s, struct str key, uint64_t token, const char *resp,
                       size_t len)
{
    struct redis_conn *c = redis_conn_here();
    char k[KEY_MAX], tok[24];
    size_t kl = c ? record_key(c, key, k) : 0;
    if (!kl)
        return;
    const char *argv[3] = {k, tok, resp};
    size_t lens[3] = {kl, (size_t)snprintf(tok, sizeof(tok), "%" PRIu64, token), len};
    redis_conn_eval_forget(c, s, 1, resp ? 3 : 2, argv, lens);
}

static void redis_complete(void *st, struct str key, uint64_t token, const char *resp, size_t len,
                           uint64_t now_ms)
{
    (void)st, (void)now_ms;
    send_owned(REDIS_SCRIPT_IDEM_COMPLETE, key, token, resp, len);
}

static void redis_abort(void *st, struct str key, uint64_t token)
{
    (void)st;
    send_owned(REDIS_SCRIPT_IDEM_ABORT, key, token, NULL, 0);
}

const struct store_ops store_redis = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .begin = redis_begin,
    .complete = redis_complete,
    .abort = redis_abort,
    .size = redis_size,
    .begin_async = redis_begin_async,
    .cancel = redis_cancel,
};

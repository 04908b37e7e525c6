/* store_memory.c — the in-process state store ("memory"): idempotency records of one weir
 * process, shared by its workers.
 *
 * Shape. One mutex guards three views of the same records:
 *   - a chained hash table keyed by the full key bytes (a private copy), hashed with SipHash-1-3
 *     under a random per-store key, so clients choosing Idempotency-Key values cannot pile them
 *     into one chain and turn every lookup under the lock into a list walk;
 *   - a binary min-heap of every record by expiry, so expired records are found in O(1) and
 *     freed in O(log n), whatever mix of TTLs the callers use;
 *   - a list of DONE records in completion order, the eviction order when the store is full.
 * Why one lock rather than stripes: the bound (max_entries) and the eviction order are global.
 * With stripes, each stripe would get max/N records (and a store could answer "full" while
 * other stripes have room), or eviction would have to take every stripe's lock. A critical
 * section is one hash lookup, O(log n) heap work and, on a replay, one copy of the stored
 * response; response copies for complete() are made before the lock is taken.
 *
 * Lifetimes (now_ms comes from the caller; a record has expired when now_ms >= expires_at):
 *   - begin() on an absent key inserts an IN_FLIGHT record expiring at
 *     now + min(ttl, STORE_MEMORY_INFLIGHT_MAX_MS): an owner that vanished (crashed worker, lost
 *     code path) does not block its key for the whole TTL. A request that runs longer than that
 *     loses its protection: a retry after the in-flight expiry gets STORE_NEW and runs again.
 *   - complete() makes it DONE, expiring at completion time + the ttl given at begin.
 *   - Expired records are absent to every operation; begin() frees them lazily (a few per call
 *     from the heap top, and the one it trips over), so nothing needs a timer.
 *
 * Bounds: at most max_entries records. When begin() must insert into a full store it frees
 * expired records first, then evicts the DONE record completed longest ago (its key loses
 * protection early: size max_entries above peak idempotent requests per second × ttl). When
 * every record is IN_FLIGHT and unexpired it returns STORE_ERROR and inserts nothing: the caller
 * answers 503 rather than forward an unprotected request. Memory: about 100 bytes + key length
 * per record, plus the stored responses, plus 8 bytes of heap and ≤ 16 bytes of buckets.
 *
 * Ownership: each claim gets a token (a per-store counter); complete() and abort() act only on
 * an IN_FLIGHT record with that token, so a late owner never overwrites or deletes a DONE
 * response, nor the record of a second request that re-claimed the key after its expiry.
 *
 * Every function may be called from any thread, except that close() must not race with others. */
#include "state/store.h"

#include "core/siphash.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Longest life of an IN_FLIGHT record, whatever the TTL: above any sane upstream timeout. */
#define STORE_MEMORY_INFLIGHT_MAX_MS UINT32_C(60000)
/* Expired records freed from the heap top per begin(), so a mass expiry is paid in slices. */
#define PURGE_BATCH 8
#define MIN_BUCKETS 16

enum rec_state { REC_IN_FLIGHT, REC_DONE };

struct rec {
    struct rec *chain_next;
    struct rec *done_prev, *done_next; /* DONE list links, only while DONE */
    uint64_t hash;                     /* of the key, kept for rehashing and quick compares */
    uint64_t body_hash;
    uint64_t expires_at;
    char *resp; /* DONE only: malloc'd copy */
    size_t resp_len;
    size_t key_len;
    uint64_t token;    /* the claim's */
    uint32_t ttl_ms;   /* as given to begin(), reused by complete() */
    uint32_t heap_idx; /* position in mem->heap */
    enum rec_state state;
    char key[]; /* key_len bytes, not NUL-terminated */
};

struct mem_store {
    pthread_mutex_t lock;
    uint64_t sip_k0, sip_k1;
    struct rec **buckets;
    size_t nbuckets;    /* power of two */
    size_t max_buckets; /* power of two >= max_entries: the table stops growing there */
    struct rec **heap;  /* min-heap by expires_at; heap_len == count */
    size_t heap_cap;
    size_t count;
    uint32_t max_entries;
    uint64_t next_token;
    struct rec *done_head, *done_tail; /* oldest completion first */
};


/* ---- expiry heap ---- */

static void heap_set(struct mem_store *m, size_t i, struct rec *r)
{
    m->heap[i] = r;
    r->heap_idx = (uint32_t)i;
}

static void heap_up(struct mem_store *m, size_t i)
{
    struct rec *r = m->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (m->heap[parent]->expires_at <= r->expires_at)
            break;
        heap_set(m, i, m->heap[parent]);
        i = parent;
    }
    heap_set(m, i, r);
}

static void heap_down(struct mem_store *m, size_t i)
{
    struct rec *r = m->heap[i];
    size_t n = m->count;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && m->heap[child + 1]->expires_at < m->heap[child]->expires_at)
            child++;
        if (r->expires_at <= m->heap[child]->expires_at)
            break;
        heap_set(m, i, m->heap[child]);
        i = child;
    }
    heap_set(m, i, r);
}

/* After r->expires_at changed. */
static void heap_fix(struct mem_store *m, struct rec *r)
{
    heap_up(m, r->heap_idx);
    heap_down(m, r->heap_idx);
}

/* ---- records ---- */

static size_t bucket_of(const struct mem_store *m, uint64_t hash)
{
    return (size_t)hash & (m->nbuckets - 1);
}

static struct rec *lookup(struct mem_store *m, struct str key, uint64_t hash)
{
    for (struct rec *r = m->buckets[bucket_of(m, hash)]; r; r = r->chain_next)
        if (r->hash == hash && r->key_len == key.len &&
            (key.len == 0 || memcmp(r->key, key.ptr, key.len) == 0))
            return r;
    return NULL;
}

static void done_unlink(struct mem_store *m, struct rec *r)
{
    if (r->done_prev)
        r->done_prev->done_next = r->done_next;
    else
        m->done_head = r->done_next;
    if (r->done_next)
        r->done_next->done_prev = r->done_prev;
    else
        m->done_tail = r->done_prev;
    r->done_prev = r->done_next = NULL;
}

static void done_append(struct mem_store *m, struct rec *r)
{
    r->done_next = NULL;
    r->done_prev = m->done_tail;
    if (m->done_tail)
        m->done_tail->done_next = r;
    else
        m->done_head = r;
    m->done_tail = r;
}

/* Unlinks r from all three views and frees it. O(chain length + log n). */
static void rec_remove(struct mem_store *m, struct rec *r)
{
    struct rec **pp = &m->buckets[bucket_of(m, r->hash)];
    while (*pp != r)
        pp = &(*pp)->chain_next;
    *pp = r->chain_next;

    size_t i = r->heap_idx;
    m->count--;
    if (i != m->count) {
        heap_set(m, i, m->heap[m->count]);
        heap_fix(m, m->heap[i]);
    }
    if (r->state == REC_DONE)
        done_unlink(m, r);
    free(r->resp);
    free(r);
}

static bool expired(const struct rec *r, uint64_t now_ms)
{
    return now_ms >= r->expires_at;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Doubles the bucket array while it is smaller than the record count (load factor <= 1) and
 * below max_buckets. A failed allocation keeps the old table: longer chains, still correct. */
static void maybe_grow(struct mem_store *m)
{
    if (m->count < m->nbuckets || m->nbuckets >= m->max_buckets)
        return;
    size_t n = m->nbuckets * 2;
    struct rec **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct rec *r = m->buckets[i];
        while (r) {
            struct rec *next = r->chain_next;
            size_t j = (size_t)r->hash & (n - 1);
            r->chain_next = b[j];
            b[j] = r;
            r = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

/* Makes room for one more record: expired ones first, then the oldest DONE one.
 * False when every record is IN_FLIGHT and unexpired. */
static bool make_room(struct mem_store *m, uint64_t now_ms)
{
    if (m->count < m->max_entries)
        return true;
    /* The heap top is the earliest expiry: if it has not expired, nothing has. */
    if (m->count > 0 && expired(m->heap[0], now_ms)) {
        rec_remove(m, m->heap[0]);
        return true;
    }
    if (m->done_head) {
        rec_remove(m, m->done_head);
        return true;
    }
    return false;
}

/* ---- ops ---- */


/* NULL when max_entries is 0 or memory is short. The caller owns the store until close(). */
static void *mem_open(uint32_t max_entries)
{
    if (max_entries == 0)
        return NULL;
    struct mem_store *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->max_entries = max_entries;
    m->max_buckets = MIN_BUCKETS;
    while (m->max_buckets < max_entries)
        m->max_buckets *= 2;
    m->nbuckets = MIN_BUCKETS;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (m->buckets == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->buckets);
        free(m);
        return NULL;
    }
    siphash_random_key(&m->sip_k0, &m->sip_k1);
    return m;
}

/* Frees every record and the store. No other call may run concurrently or follow. */
static void mem_close(void *st)
{
    struct mem_store *m = st;
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->count; i++) {
        free(m->heap[i]->resp);
        free(m->heap[i]);
    }
    free(m->heap);
    free(m->buckets);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static enum store_begin begin_locked(struct mem_store *m, struct str key, uint64_t hash,
                                     uint64_t body_hash, uint64_t now_ms, uint32_t ttl_ms,
                                     char **resp, size_t *resp_len, uint64_t *token)
{
    for (int i = 0; i < PURGE_BATCH && m->count > 0 && expired(m->heap[0], now_ms); i++)
        rec_remove(m, m->heap[0]);

    struct rec *r = lookup(m, key, hash);
    if (r && expired(r, now_ms)) {
        rec_remove(m, r);
        r = NULL;
    }
    if (r) {
        if (r->body_hash != body_hash)
            return STORE_MISMATCH;
        if (r->state == REC_IN_FLIGHT)
            return STORE_INFLIGHT;
        char *copy = malloc(r->resp_len ? r->resp_len : 1);
        if (copy == NULL)
            return STORE_ERROR;
        if (r->resp_len)
            memcpy(copy, r->resp, r->resp_len);
        if (resp) {
            *resp = copy;
            *resp_len = r->resp_len;
        } else {
            free(copy);
        }
        return STORE_DONE;
    }

    if (!make_room(m, now_ms))
        return STORE_ERROR;
    if (m->count == m->heap_cap) {
        size_t cap = m->heap_cap ? m->heap_cap * 2 : 64;
        if (cap > m->max_entries)
            cap = m->max_entries;
        struct rec **h = realloc(m->heap, cap * sizeof(*h));
        if (h == NULL)
            return STORE_ERROR;
        m->heap = h;
        m->heap_cap = cap;
    }
    r = key.len <= SIZE_MAX - sizeof(*r) ? malloc(sizeof(*r) + key.len) : NULL;
    if (r == NULL)
        return STORE_ERROR;
    *r = (struct rec){
        .hash = hash,
        .body_hash = body_hash,
        .expires_at = add_sat(now_ms, ttl_ms < STORE_MEMORY_INFLIGHT_MAX_MS
                                          ? ttl_ms
                                          : STORE_MEMORY_INFLIGHT_MAX_MS),
        .key_len = key.len,
        .token = ++m->next_token,
        .ttl_ms = ttl_ms,
        .state = REC_IN_FLIGHT,
    };
    if (token)
        *token = r->token;
    if (key.len)
        memcpy(r->key, key.ptr, key.len);
    size_t b = bucket_of(m, hash);
    r->chain_next = m->buckets[b];
    m->buckets[b] = r;
    heap_set(m, m->count, r);
    m->count++;
    heap_up(m, r->heap_idx);
    maybe_grow(m);
    return STORE_NEW;
}

/* See store.h. On STORE_DONE *resp is a malloc'd copy the caller frees (resp may be NULL to
 * only learn the state); otherwise *resp is NULL and *resp_len 0. */
static enum store_begin mem_begin(void *st, struct str key, uint64_t body_hash, uint64_t now_ms,
                                  uint32_t ttl_ms, char **resp, size_t *resp_len, uint64_t *token)
{
    struct mem_store *m = st;
    if (resp) {
        *resp = NULL;
        *resp_len = 0;
    }
    if (token)
        *token = 0;
    uint64_t hash = siphash13(key.len ? key.ptr : "", key.len, m->sip_k0, m->sip_k1);
    pthread_mutex_lock(&m->lock);
    enum store_begin res =
        begin_locked(m, key, hash, body_hash, now_ms, ttl_ms, resp, resp_len, token);
    pthread_mutex_unlock(&m->lock);
    return res;
}

/* Acts only on the claim's IN_FLIGHT record (expired or not: while it is still here nobody
 * else has claimed the key). An absent, DONE or re-claimed record is left alone and the bytes
 * dropped. If the copy cannot be allocated the record is removed, so repeats start afresh
 * instead of waiting. */
static void mem_complete(void *st, struct str key, uint64_t token, const char *resp, size_t len,
                         uint64_t now_ms)
{
    struct mem_store *m = st;
    uint64_t hash = siphash13(key.len ? key.ptr : "", key.len, m->sip_k0, m->sip_k1);
    char *copy = malloc(len ? len : 1);
    if (copy && len)
        memcpy(copy, resp, len);

    pthread_mutex_lock(&m->lock);
    struct rec *r = lookup(m, key, hash);
    if (r && r->state == REC_IN_FLIGHT && r->token == token) {
        if (copy) {
            r->state = REC_DONE;
            r->resp = copy;
            r->resp_len = len;
            r->expires_at = add_sat(now_ms, r->ttl_ms);
            heap_fix(m, r);
            done_append(m, r);
            copy = NULL;
        } else {
            rec_remove(m, r);
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(copy);
}

/* Removes the claim's record only while it is IN_FLIGHT: a DONE response is never thrown away
 * here, nor another claim's record. */
static void mem_abort(void *st, struct str key, uint64_t token)
{
    struct mem_store *m = st;
    uint64_t hash = siphash13(key.len ? key.ptr : "", key.len, m->sip_k0, m->sip_k1);
    pthread_mutex_lock(&m->lock);
    struct rec *r = lookup(m, key, hash);
    if (r && r->state == REC_IN_FLIGHT && r->token == token)
        rec_remove(m, r);
    pthread_mutex_unlock(&m->lock);
}

/* Records held, expired ones not yet freed included. Never above max_entries. */
static size_t mem_size(void *st)
{
    struct mem_store *m = st;
    pthread_mutex_lock(&m->lock);
    size_t n = m->count;
    pthread_mutex_unlock(&m->lock);
    return n;
}

const struct store_ops store_memory = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .complete = mem_complete,
    .abort = mem_abort,
    .size = mem_size,
};

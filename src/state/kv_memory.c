/* kv_memory.c — the in-process kv backend ("memory"), see kv.h.
 *
 * Shape: a fixed chained hash table (buckets: the power of two at or above max_keys), SipHash
 * under a random key so chosen keys (account names, addresses) cannot pile into one chain, and
 * KV_STRIPES mutexes, bucket b under stripe b % KV_STRIPES: a check or hit takes one stripe for
 * one chain walk. An entry is dead once its window ended, it is not locked and its strikes are
 * forgotten; chains drop dead entries as they are walked. At most max_keys entries: a new key
 * in a full table first sweeps the table (at most once a second), and when that frees no room
 * it is not
 * counted (the hit answers 0: under a flood of distinct keys counting fails open, locks
 * already set stay). Memory: about 150 bytes + key length per entry. */
#include "state/kv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/siphash.h"

#define KV_STRIPES 64u

struct ent {
    struct ent *next;
    uint64_t hash;
    uint64_t window_end;         /* the count's window ends here */
    uint64_t lock_until;
    uint64_t forget_at;          /* strikes are kept until here */
    uint64_t members[KV_MEMBERS];
    uint32_t count, nmembers, strikes;
    size_t key_len;
    char key[];
};

struct kv_mem {
    pthread_mutex_t locks[KV_STRIPES];
    uint64_t k0, k1;
    struct ent **buckets;
    size_t nbuckets;             /* power of two, >= KV_STRIPES */
    uint32_t max;
    atomic_uint count;
    _Atomic uint64_t last_sweep_ms;
};

static void *mem_open(uint32_t max_keys)
{
    struct kv_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nbuckets = KV_STRIPES;
    while (m->nbuckets < max_keys)
        m->nbuckets <<= 1;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    m->max = max_keys ? max_keys : 1;
    siphash_random_key(&m->k0, &m->k1);
    for (uint32_t i = 0; i < KV_STRIPES; i++)
        pthread_mutex_init(&m->locks[i], NULL);
    return m;
}

static void mem_close(void *st)
{
    struct kv_mem *m = st;
    if (!m)
        return;
    for (size_t b = 0; b < m->nbuckets; b++)
        for (struct ent *e = m->buckets[b], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    for (uint32_t i = 0; i < KV_STRIPES; i++)
        pthread_mutex_destroy(&m->locks[i]);
    free(m->buckets);
    free(m);
}

static bool dead(const struct ent *e, uint64_t now)
{
    return now >= e->window_end && now >= e->lock_until && now >= e->forget_at;
}

/* Frees the dead entries of bucket b (its stripe held). */
static void sweep_bucket(struct kv_mem *m, size_t b, uint64_t now)
{
    for (struct ent **pp = &m->buckets[b]; *pp;) {
        struct ent *e = *pp;
        if (dead(e, now)) {
            *pp = e->next;
            free(e);
            atomic_fetch_sub(&m->count, 1);
        } else {
            pp = &e->next;
        }
    }
}

/* A full table: frees the dead entries of every stripe it can take without waiting (its own
 * is held), at most once a second, so a flood of new keys into a table full of live ones does
 * not make every request walk the table. */
static void sweep_full(struct kv_mem *m, size_t own, uint64_t now)
{
    uint64_t last = atomic_load(&m->last_sweep_ms);
    if (now < last + 1000 && last != 0)
        return;
    if (!atomic_compare_exchange_strong(&m->last_sweep_ms, &last, now ? now : 1))
        return;
    for (size_t s = 0; s < KV_STRIPES; s++) {
        bool mine = s == own;
        if (!mine && pthread_mutex_trylock(&m->locks[s]) != 0)
            continue;
        for (size_t b = s; b < m->nbuckets; b += KV_STRIPES)
            sweep_bucket(m, b, now);
        if (!mine)
            pthread_mutex_unlock(&m->locks[s]);
    }
}

/* The entry of key (stripe held), made when `make`; NULL when absent or no room. */
static struct ent *find(struct kv_mem *m, size_t b, uint64_t h, struct str key, uint64_t now,
                        bool make)
{
    sweep_bucket(m, b, now);
    for (struct ent *e = m->buckets[b]; e; e = e->next)
        if (e->hash == h && e->key_len == key.len && memcmp(e->key, key.ptr, key.len) == 0)
            return e;
    if (!make)
        return NULL;
    if (atomic_load(&m->count) >= m->max) {
        sweep_full(m, b % KV_STRIPES, now);
        if (atomic_load(&m->count) >= m->max)
            return NULL;
    }
    struct ent *e = calloc(1, sizeof(*e) + key.len);
    if (!e)
        return NULL;
    e->hash = h;
    e->key_len = key.len;
    memcpy(e->key, key.ptr, key.len);
    e->next = m->buckets[b];
    m->buckets[b] = e;
    atomic_fetch_add(&m->count, 1);
    return e;
}

/* Hashes key and takes the stripe of its bucket; returns the mutex to release. */
static pthread_mutex_t *take(struct kv_mem *m, struct str key, uint64_t *h, size_t *b)
{
    *h = siphash13(key.ptr, key.len, m->k0, m->k1);
    *b = *h & (m->nbuckets - 1);
    pthread_mutex_t *l = &m->locks[*b % KV_STRIPES];
    pthread_mutex_lock(l);
    return l;
}

static struct kv_hit mem_hit(void *st, struct str key, uint64_t member, uint64_t now,
                             uint32_t window_ms)
{
    struct kv_mem *m = st;
    struct kv_hit r = {0};
    uint64_t h;
    size_t b;
    pthread_mutex_t *l = take(m, key, &h, &b);
    struct ent *e = find(m, b, h, key, now, true);
    if (e) {
        if (now >= e->window_end) {
            e->count = e->nmembers = 0;
            e->window_end = now + window_ms;
        }
        e->count++;
        bool seen = false;
        for (uint32_t i = 0; i < e->nmembers; i++)
            seen |= e->members[i] == member;
        if (!seen && e->nmembers < KV_MEMBERS)
            e->members[e->nmembers++] = member;
        r = (struct kv_hit){.count = e->count, .distinct = e->nmembers};
    }
    pthread_mutex_unlock(l);
    return r;
}

static uint32_t mem_lock(void *st, struct str key, uint64_t now, uint32_t base_ms,
                         uint32_t max_ms, bool doubling)
{
    struct kv_mem *m = st;
    uint32_t ttl = 0;
    uint64_t h;
    size_t b;
    pthread_mutex_t *l = take(m, key, &h, &b);
    struct ent *e = find(m, b, h, key, now, true);
    if (e) {
        if (now >= e->forget_at)
            e->strikes = 0;
        uint64_t t = base_ms;
        if (doubling)
            t = e->strikes >= 31 ? max_ms : (uint64_t)base_ms << e->strikes;
        ttl = (uint32_t)(t < max_ms ? t : max_ms);
        e->strikes++;
        e->lock_until = now + ttl;
        e->forget_at = e->lock_until + max_ms;
        e->count = e->nmembers = 0;
        e->window_end = now;
    }
    pthread_mutex_unlock(l);
    return ttl;
}

static uint64_t mem_check(void *st, struct str key, uint64_t now, uint32_t *strikes)
{
    struct kv_mem *m = st;
    uint64_t until = 0;
    *strikes = 0;
    uint64_t h;
    size_t b;
    pthread_mutex_t *l = take(m, key, &h, &b);
    struct ent *e = find(m, b, h, key, now, false);
    if (e) {
        until = e->lock_until > now ? e->lock_until : 0;
        *strikes = e->strikes;
    }
    pthread_mutex_unlock(l);
    return until;
}

static void mem_reset(void *st, struct str key)
{
    struct kv_mem *m = st;
    uint64_t h;
    size_t b;
    pthread_mutex_t *l = take(m, key, &h, &b);
    struct ent *e = find(m, b, h, key, 0, false);
    if (e)
        e->count = e->nmembers = 0;
    pthread_mutex_unlock(l);
}

static bool unlink_key(struct kv_mem *m, size_t b, uint64_t h, struct str key)
{
    for (struct ent **pp = &m->buckets[b]; *pp; pp = &(*pp)->next) {
        struct ent *e = *pp;
        if (e->hash == h && e->key_len == key.len && !memcmp(e->key, key.ptr, key.len)) {
            *pp = e->next;
            free(e);
            atomic_fetch_sub(&m->count, 1);
            return true;
        }
    }
    return false;
}

static bool mem_unlock(void *st, struct str key)
{
    struct kv_mem *m = st;
    bool found = false;
    uint64_t h;
    size_t b;
    pthread_mutex_t *l = take(m, key, &h, &b);
    found = unlink_key(m, b, h, key);
    pthread_mutex_unlock(l);
    return found;
}

/* Walks every bucket (admin only: O(buckets)), stripe by stripe. */
static size_t walk(struct kv_mem *m, struct str prefix, uint64_t now, bool drop,
                   void (*fn)(void *arg, struct str key, uint64_t until_ms, uint32_t strikes),
                   void *arg)
{
    size_t n = 0;
    for (uint32_t s = 0; s < KV_STRIPES; s++) {
        pthread_mutex_lock(&m->locks[s]);
        for (size_t b = s; b < m->nbuckets; b += KV_STRIPES)
            for (struct ent **pp = &m->buckets[b]; *pp;) {
                struct ent *e = *pp;
                bool match = e->lock_until > now && e->key_len >= prefix.len &&
                             !memcmp(e->key, prefix.ptr, prefix.len);
                if (match) {
                    n++;
                    if (fn)
                        fn(arg, str_from(e->key, e->key_len), e->lock_until, e->strikes);
                }
                if (match && drop) {
                    *pp = e->next;
                    free(e);
                    atomic_fetch_sub(&m->count, 1);
                } else {
                    pp = &e->next;
                }
            }
        pthread_mutex_unlock(&m->locks[s]);
    }
    return n;
}

static size_t mem_list(void *st, struct str prefix, uint64_t now,
                       void (*fn)(void *arg, struct str key, uint64_t until_ms, uint32_t strikes),
                       void *arg)
{
    return walk(st, prefix, now, false, fn, arg);
}

static size_t mem_unlock_prefix(void *st, struct str prefix)
{
    return walk(st, prefix, 0, true, NULL, NULL);
}

static size_t mem_size(void *st)
{
    return atomic_load(&((struct kv_mem *)st)->count);
}

const struct kv_ops kv_memory = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .hit = mem_hit,
    .lock = mem_lock,
    .check = mem_check,
    .reset = mem_reset,
    .unlock = mem_unlock,
    .list = mem_list,
    .unlock_prefix = mem_unlock_prefix,
    .size = mem_size,
};

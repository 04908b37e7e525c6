/* cache_store.c — see cache_store.h (the locking is described there). */
#include "cache/cache_store.h"

#include <stdlib.h>
#include <string.h>

#include "cache/cache_vary.h"
#include "core/dlist.h"

#define BUCKETS_MIN 256u

struct shard {
    pthread_mutex_t lock;
    struct cache_obj **buckets;
    uint32_t nbuckets;             /* a power of two */
    uint64_t count, bytes, cap;
    void *policy;                  /* the policy's state */
};

struct cache_store {
    struct dlist link;             /* the registry */
    char *name;
    const struct cache_policy_ops *policy;
    atomic_uint_fast64_t max_size;
    struct cache_flights *flights;
    char *prewarm;                 /* under registry_lock */
    struct cache_store_stats stats;
    struct shard shards[CACHE_SHARDS];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dlist registry = {&registry, &registry};

/* ---- the store --------------------------------------------------------------------------- */

static struct shard *shard_of(struct cache_store *s, uint64_t hash)
{
    return &s->shards[(hash >> 56) % CACHE_SHARDS];
}

struct cache_store *cache_store_new(const char *name, uint64_t max_size,
                                    const struct cache_policy_ops *policy)
{
    struct cache_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->name = strdup(name ? name : "");
    s->policy = policy;
    atomic_init(&s->max_size, max_size);
    uint32_t ok = 0;
    for (; ok < CACHE_SHARDS; ok++) {
        struct shard *sh = &s->shards[ok];
        pthread_mutex_init(&sh->lock, NULL);
        sh->cap = max_size / CACHE_SHARDS;
        sh->nbuckets = BUCKETS_MIN;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        sh->policy = calloc(1, policy->state_size);
        if (!sh->buckets || !sh->policy || policy->init(sh->policy, sh->cap) != 0) {
            free(sh->buckets);
            free(sh->policy);
            pthread_mutex_destroy(&sh->lock);
            break;
        }
    }
    s->flights = cache_flights_new();
    if (ok < CACHE_SHARDS || !s->name || !s->flights) {
        for (uint32_t i = 0; i < ok; i++) {
            policy->fini(s->shards[i].policy);
            free(s->shards[i].policy);
            free(s->shards[i].buckets);
            pthread_mutex_destroy(&s->shards[i].lock);
        }
        cache_flights_free(s->flights);
        free(s->name);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    dlist_push_back(&registry, &s->link);
    pthread_mutex_unlock(&registry_lock);
    return s;
}

void cache_store_free(struct cache_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&registry_lock);
    dlist_remove(&s->link);
    pthread_mutex_unlock(&registry_lock);
    for (uint32_t i = 0; i < CACHE_SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        for (uint32_t b = 0; b < sh->nbuckets; b++) {
            struct cache_obj *o = sh->buckets[b];
            while (o) {
                struct cache_obj *next = o->hnext;
                o->linked = false;
                cache_object_unref(o);
                o = next;
            }
        }
        s->policy->fini(sh->policy);
        free(sh->policy);
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    cache_flights_free(s->flights);
    free(s->prewarm);
    free(s->name);
    free(s);
}

struct cache_flights *cache_store_flights(struct cache_store *s)
{
    return s->flights;
}

void cache_store_set_prewarm(struct cache_store *s, const char *path)
{
    char *copy = path ? strdup(path) : NULL;
    pthread_mutex_lock(&registry_lock);
    free(s->prewarm);
    s->prewarm = copy;
    pthread_mutex_unlock(&registry_lock);
}

char *cache_store_prewarm(struct cache_store *s)
{
    /* Called from cache_store_foreach's callbacks, which hold registry_lock already. */
    return s->prewarm ? strdup(s->prewarm) : NULL;
}

void cache_store_resize(struct cache_store *s, uint64_t max_size)
{
    atomic_store(&s->max_size, max_size);
    for (uint32_t i = 0; i < CACHE_SHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        s->shards[i].cap = max_size / CACHE_SHARDS;
        pthread_mutex_unlock(&s->shards[i].lock);
    }
}

struct cache_store_stats *cache_store_stats(struct cache_store *s)
{
    return &s->stats;
}

const char *cache_store_name(const struct cache_store *s)
{
    return s->name;
}

const struct cache_policy_ops *cache_store_policy(const struct cache_store *s)
{
    return s->policy;
}

void cache_store_usage(struct cache_store *s, uint64_t *bytes, uint64_t *objects)
{
    *bytes = *objects = 0;
    for (uint32_t i = 0; i < CACHE_SHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        *bytes += s->shards[i].bytes;
        *objects += s->shards[i].count;
        pthread_mutex_unlock(&s->shards[i].lock);
    }
}

/* Unlinks o from its bucket and its policy; the table's reference is the caller's to drop.
 * Under the shard lock. */
static void unlink_obj(struct cache_store *s, struct shard *sh, struct cache_obj *o)
{
    struct cache_obj **pp = &sh->buckets[o->pn.hash & (sh->nbuckets - 1)];
    while (*pp && *pp != o)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = o->hnext;
    o->hnext = NULL;
    o->linked = false;
    s->policy->remove(sh->policy, &o->pn);
    sh->count--;
    sh->bytes -= o->pn.charge;
}

static void grow(struct shard *sh)
{
    uint32_t n = sh->nbuckets * 2;
    struct cache_obj **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (uint32_t i = 0; i < sh->nbuckets; i++) {
        struct cache_obj *o = sh->buckets[i];
        while (o) {
            struct cache_obj *next = o->hnext;
            o->hnext = b[o->pn.hash & (n - 1)];
            b[o->pn.hash & (n - 1)] = o;
            o = next;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

struct cache_obj *cache_store_lookup(struct cache_store *s, uint64_t hash, struct str key,
                                     const struct h1_request *req)
{
    struct shard *sh = shard_of(s, hash);
    struct cache_obj *found = NULL;
    pthread_mutex_lock(&sh->lock);
    for (struct cache_obj *o = sh->buckets[hash & (sh->nbuckets - 1)]; o; o = o->hnext) {
        if (o->pn.hash != hash || !str_eq(o->key, key))
            continue;
        if (req && !cache_vary_match(o->vary_names, o->vary_key, req))
            continue;
        /* Inserts go to the front of the chain: the first match is the newest. */
        found = o;
        break;
    }
    if (found) {
        cache_object_ref(found);
        if (!found->pass)
            s->policy->hit(sh->policy, &found->pn);
    }
    pthread_mutex_unlock(&sh->lock);
    return found;
}

bool cache_store_insert(struct cache_store *s, struct cache_obj *o)
{
    struct shard *sh = shard_of(s, o->pn.hash);
    struct cache_obj *dropped[8];
    uint32_t ndropped = 0;
    bool ok = true;
    pthread_mutex_lock(&sh->lock);
    if (o->pn.charge > sh->cap) {
        ok = false;
    } else {
        /* The same variant (or a pass marker) goes: the new response replaces it. */
        struct cache_obj **pp = &sh->buckets[o->pn.hash & (sh->nbuckets - 1)];
        while (*pp) {
            struct cache_obj *e = *pp;
            if (e->pn.hash == o->pn.hash && str_eq(e->key, o->key) &&
                (e->pass || o->pass || str_eq(e->vary_key, o->vary_key))) {
                unlink_obj(s, sh, e);
                if (ndropped < 8)
                    dropped[ndropped++] = e;
                else
                    cache_object_unref(e); /* refs > 1 only while being served: never freed here */
                continue;
            }
            pp = &e->hnext;
        }
        while (sh->bytes + o->pn.charge > sh->cap) {
            struct cache_pnode *v = s->policy->victim(sh->policy);
            if (!v)
                break;
            struct cache_obj *e = (struct cache_obj *)v;
            unlink_obj(s, sh, e);
            atomic_fetch_add_explicit(&s->stats.evicted, 1, memory_order_relaxed);
            if (ndropped < 8)
                dropped[ndropped++] = e;
            else
                cache_object_unref(e);
        }
        if (sh->count >= sh->nbuckets)
            grow(sh);
        uint32_t b = o->pn.hash & (sh->nbuckets - 1);
        o->hnext = sh->buckets[b];
        sh->buckets[b] = o;
        o->linked = true;
        s->policy->insert(sh->policy, &o->pn);
        sh->count++;
        sh->bytes += o->pn.charge;
    }
    pthread_mutex_unlock(&sh->lock);
    /* Frees (bodies can be large) outside the lock. */
    for (uint32_t i = 0; i < ndropped; i++)
        cache_object_unref(dropped[i]);
    if (!ok)
        cache_object_unref(o);
    return ok;
}

uint32_t cache_store_remove_key(struct cache_store *s, uint64_t hash, struct str key)
{
    struct shard *sh = shard_of(s, hash);
    struct cache_obj *gone = NULL;
    uint32_t n = 0;
    pthread_mutex_lock(&sh->lock);
    struct cache_obj **pp = &sh->buckets[hash & (sh->nbuckets - 1)];
    while (*pp) {
        struct cache_obj *e = *pp;
        if (e->pn.hash == hash && str_eq(e->key, key)) {
            unlink_obj(s, sh, e);
            e->hnext = gone;
            gone = e;
            if (!e->pass)
                n++;
            continue;
        }
        pp = &e->hnext;
    }
    pthread_mutex_unlock(&sh->lock);
    while (gone) {
        struct cache_obj *next = gone->hnext;
        cache_object_unref(gone);
        gone = next;
    }
    return n;
}

uint32_t cache_store_purge(struct cache_store *s,
                           bool (*match)(const struct cache_obj *o, void *arg), void *arg,
                           bool soft)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < CACHE_SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        struct cache_obj *gone = NULL;
        pthread_mutex_lock(&sh->lock);
        for (uint32_t b = 0; b < sh->nbuckets; b++) {
            struct cache_obj **pp = &sh->buckets[b];
            while (*pp) {
                struct cache_obj *e = *pp;
                if (e->pass || !match(e, arg)) {
                    pp = &e->hnext;
                    continue;
                }
                n++;
                if (soft) {
                    atomic_store(&e->stale, true);
                    pp = &e->hnext;
                    continue;
                }
                unlink_obj(s, sh, e);
                e->hnext = gone;
                gone = e;
            }
        }
        pthread_mutex_unlock(&sh->lock);
        while (gone) {
            struct cache_obj *next = gone->hnext;
            cache_object_unref(gone);
            gone = next;
        }
    }
    atomic_fetch_add_explicit(&s->stats.purged, n, memory_order_relaxed);
    return n;
}

void cache_store_foreach(void (*fn)(struct cache_store *s, void *arg), void *arg)
{
    pthread_mutex_lock(&registry_lock);
    for (struct dlist *l = registry.next; l != &registry; l = l->next)
        fn(container_of(l, struct cache_store, link), arg);
    pthread_mutex_unlock(&registry_lock);
}

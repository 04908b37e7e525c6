/* cache_flight.c — see cache_flight.h. */
#include "cache/cache_flight.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/waitq.h"

struct cache_flight {
    struct cache_flight *next;     /* its stripe's list */
    atomic_uint refs;
    uint64_t hash;
    char *key;
    size_t key_len;
    struct waitq *q;
    atomic_bool done, uncacheable;
};

struct stripe {
    pthread_mutex_t lock;
    struct cache_flight *head;
};

struct cache_flights {
    struct stripe stripes[CACHE_FLIGHT_STRIPES];
};

struct cache_flights *cache_flights_new(void)
{
    struct cache_flights *t = calloc(1, sizeof(*t));
    for (int i = 0; t && i < CACHE_FLIGHT_STRIPES; i++)
        pthread_mutex_init(&t->stripes[i].lock, NULL);
    return t;
}

void cache_flights_free(struct cache_flights *t)
{
    if (!t)
        return;
    /* Flights still listed belong to exchanges that hold references; they are only unlisted
     * here (the store goes when no route uses it: no exchange is left). */
    for (int i = 0; i < CACHE_FLIGHT_STRIPES; i++)
        pthread_mutex_destroy(&t->stripes[i].lock);
    free(t);
}

static struct stripe *stripe_of(struct cache_flights *t, uint64_t hash)
{
    return &t->stripes[(hash >> 52) % CACHE_FLIGHT_STRIPES];
}

struct cache_flight *cache_flight_join(struct cache_flights *t, uint64_t hash, struct str key,
                                       uint32_t nworkers, bool *leader)
{
    struct stripe *st = stripe_of(t, hash);
    pthread_mutex_lock(&st->lock);
    for (struct cache_flight *f = st->head; f; f = f->next)
        if (f->hash == hash && str_eq(str_from(f->key, f->key_len), key)) {
            atomic_fetch_add(&f->refs, 1);
            pthread_mutex_unlock(&st->lock);
            *leader = false;
            return f;
        }
    struct cache_flight *f = calloc(1, sizeof(*f) + key.len);
    if (f)
        f->q = waitq_new(nworkers);
    if (!f || !f->q) {
        free(f);
        pthread_mutex_unlock(&st->lock);
        return NULL;
    }
    f->key = (char *)(f + 1);
    if (key.len)
        memcpy(f->key, key.ptr, key.len);
    f->key_len = key.len;
    f->hash = hash;
    atomic_init(&f->refs, 1);
    f->next = st->head;
    st->head = f;
    pthread_mutex_unlock(&st->lock);
    *leader = true;
    return f;
}

struct waitq *cache_flight_waitq(struct cache_flight *f)
{
    return f->q;
}

void cache_flight_finish(struct cache_flights *t, struct cache_flight *f, bool uncacheable)
{
    struct stripe *st = stripe_of(t, f->hash);
    pthread_mutex_lock(&st->lock);
    for (struct cache_flight **pp = &st->head; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    pthread_mutex_unlock(&st->lock);
    atomic_store(&f->uncacheable, uncacheable);
    atomic_store(&f->done, true);
}

bool cache_flight_done(const struct cache_flight *f, bool *uncacheable)
{
    if (!atomic_load(&f->done))
        return false;
    *uncacheable = atomic_load(&f->uncacheable);
    return true;
}

void cache_flight_ref(struct cache_flight *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void cache_flight_put(struct cache_flight *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        waitq_unref(f->q);
        free(f);
    }
}

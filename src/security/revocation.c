/* revocation.c — see revocation.h. The memory backend: a chained hash table under one mutex
 * (revocations are rare; lookups are one hash and a short chain), expired entries dropped when
 * met and swept when the table is full. */
#include "security/revocation.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096

struct rv_entry {
    struct rv_entry *next;
    int64_t until_s;
    uint8_t kind;
    uint16_t len;
    char value[];
};

struct rv_mem {
    pthread_mutex_t mu;
    uint32_t max, count;
    struct rv_entry *buckets[NBUCKETS];
};

static uint32_t rv_hash(enum revocation_kind kind, struct str v)
{
    uint32_t h = 2166136261u ^ (uint32_t)kind; /* FNV-1a */
    for (size_t i = 0; i < v.len; i++)
        h = (h ^ (uint8_t)v.ptr[i]) * 16777619u;
    return h % NBUCKETS;
}

static void *rv_open(uint32_t max_entries)
{
    struct rv_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->max = max_entries;
    return m;
}

static void rv_close(void *st)
{
    struct rv_mem *m = st;
    if (!m)
        return;
    for (uint32_t b = 0; b < NBUCKETS; b++)
        for (struct rv_entry *e = m->buckets[b], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Drops the expired entries of one chain. Under the lock. */
static void sweep_chain(struct rv_mem *m, struct rv_entry **pp, int64_t now_s)
{
    while (*pp) {
        struct rv_entry *e = *pp;
        if (e->until_s <= now_s) {
            *pp = e->next;
            free(e);
            m->count--;
        } else {
            pp = &e->next;
        }
    }
}

static struct rv_entry **find(struct rv_mem *m, enum revocation_kind kind, struct str v)
{
    struct rv_entry **pp = &m->buckets[rv_hash(kind, v)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->kind == kind && (*pp)->len == v.len && !memcmp((*pp)->value, v.ptr, v.len))
            return pp;
    return pp;
}

static int rv_add(void *st, enum revocation_kind kind, struct str v, int64_t until_s,
                  int64_t now_s)
{
    struct rv_mem *m = st;
    if (v.len == 0 || v.len > REVOCATION_VALUE_MAX)
        return -1;
    pthread_mutex_lock(&m->mu);
    sweep_chain(m, &m->buckets[rv_hash(kind, v)], now_s);
    struct rv_entry **pp = find(m, kind, v);
    int rc = 0;
    if (*pp) {
        (*pp)->until_s = until_s;
        goto out;
    }
    if (m->count >= m->max)
        for (uint32_t b = 0; b < NBUCKETS; b++)
            sweep_chain(m, &m->buckets[b], now_s);
    struct rv_entry *e = m->count < m->max ? malloc(sizeof(*e) + v.len) : NULL;
    if (!e) {
        rc = -1;
        goto out;
    }
    *e = (struct rv_entry){.until_s = until_s, .kind = (uint8_t)kind, .len = (uint16_t)v.len};
    memcpy(e->value, v.ptr, v.len);
    *pp = e;
    m->count++;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static bool rv_contains(void *st, enum revocation_kind kind, struct str v, int64_t now_s)
{
    struct rv_mem *m = st;
    if (v.len == 0 || v.len > REVOCATION_VALUE_MAX)
        return false;
    pthread_mutex_lock(&m->mu);
    struct rv_entry *e = *find(m, kind, v);
    bool hit = e && e->until_s > now_s;
    pthread_mutex_unlock(&m->mu);
    return hit;
}

static size_t rv_list(void *st, int64_t now_s, revocation_each_fn each, void *arg)
{
    struct rv_mem *m = st;
    size_t n = 0;
    pthread_mutex_lock(&m->mu);
    for (uint32_t b = 0; b < NBUCKETS; b++)
        for (struct rv_entry *e = m->buckets[b]; e; e = e->next)
            if (e->until_s > now_s) {
                each(arg, (enum revocation_kind)e->kind, str_from(e->value, e->len), e->until_s);
                n++;
            }
    pthread_mutex_unlock(&m->mu);
    return n;
}

static size_t rv_size(void *st)
{
    struct rv_mem *m = st;
    pthread_mutex_lock(&m->mu);
    size_t n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const struct revocation_ops revocation_memory = {
    .name = "memory",
    .open = rv_open,
    .close = rv_close,
    .add = rv_add,
    .contains = rv_contains,
    .list = rv_list,
    .size = rv_size,
};

static struct revocation def;
static pthread_once_t def_once = PTHREAD_ONCE_INIT;
static atomic_bool def_used;

static void def_init(void)
{
    def.ops = &revocation_memory;
    def.st = revocation_memory.open(65536);
}

struct revocation *revocation_default(void)
{
    pthread_once(&def_once, def_init);
    return def.st ? &def : NULL;
}

bool revocation_empty(void)
{
    return !atomic_load_explicit(&def_used, memory_order_acquire);
}

int revocation_add(enum revocation_kind kind, struct str value, int64_t until_s, int64_t now_s)
{
    struct revocation *r = revocation_default();
    if (!r)
        return -1;
    atomic_store_explicit(&def_used, true, memory_order_release);
    return r->ops->add(r->st, kind, value, until_s, now_s);
}

bool revocation_check(struct str jti, struct str sub, int64_t now_s)
{
    if (revocation_empty())
        return false;
    struct revocation *r = revocation_default();
    return r && ((jti.len && r->ops->contains(r->st, REVOKE_JTI, jti, now_s)) ||
                 (sub.len && r->ops->contains(r->st, REVOKE_SUB, sub, now_s)));
}

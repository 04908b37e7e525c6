/* policy_s3fifo.c — S3-FIFO (Yang et al., SOSP '23), the default: a small FIFO queue (10 % of
 * the bytes) that new objects enter, a main FIFO queue, and a ghost queue of keys recently
 * evicted from the small one. Most objects in a skewed workload are seen once: they leave from
 * the small queue without polluting the main one ("quick demotion"). An object hit while in
 * the small queue moves to the main one when it reaches the tail; one evicted from it unhit is
 * remembered in the ghost, and re-enters straight into the main queue if requested again. The
 * main queue gives each hit object a second chance (its count decremented) at its tail.
 * A hit only bumps a small counter: no list moves on the hit path.
 *
 * The ghost is a direct-mapped table of key hashes sized for the objects the cache may hold
 * (a collision forgets the older key: an approximation that costs a little hit ratio). */
#include "cache/cache_policy.h"

#include <stdlib.h>

#define S3_SMALL 0
#define S3_MAIN 1
#define S3_FREQ_MAX 3
#define S3_GHOST_MIN 1024u
#define S3_GHOST_MAX (1u << 20)
#define S3_AVG_OBJECT 4096u  /* guess at the mean charge, to size the ghost */

struct s3fifo {
    struct cache_plist small, main;
    uint64_t cap, small_cap;
    uint64_t *ghost;
    uint32_t ghost_mask;
};

static int s3_init(void *st, uint64_t cap)
{
    struct s3fifo *s = st;
    cache_plist_init(&s->small);
    cache_plist_init(&s->main);
    s->cap = cap;
    s->small_cap = cap / 10;
    uint64_t want = cap / S3_AVG_OBJECT;
    uint32_t slots = S3_GHOST_MIN;
    while (slots < want && slots < S3_GHOST_MAX)
        slots <<= 1;
    s->ghost = calloc(slots, sizeof(*s->ghost));
    if (!s->ghost)
        return -1;
    s->ghost_mask = slots - 1;
    return 0;
}

static void s3_fini(void *st)
{
    struct s3fifo *s = st;
    free(s->ghost);
    s->ghost = NULL;
}

/* 0 is "empty": a hash of 0 is stored as 1. */
static uint64_t ghost_tag(uint64_t h)
{
    return h ? h : 1;
}

static bool ghost_take(struct s3fifo *s, uint64_t h)
{
    uint64_t *slot = &s->ghost[h & s->ghost_mask];
    if (*slot != ghost_tag(h))
        return false;
    *slot = 0;
    return true;
}

static void s3_insert(void *st, struct cache_pnode *n)
{
    struct s3fifo *s = st;
    n->freq = 0;
    if (ghost_take(s, n->hash)) {
        n->queue = S3_MAIN;
        cache_plist_push(&s->main, n);
    } else {
        n->queue = S3_SMALL;
        cache_plist_push(&s->small, n);
    }
}

static void s3_hit(void *st, struct cache_pnode *n)
{
    (void)st;
    if (n->freq < S3_FREQ_MAX)
        n->freq++;
}

static void s3_remove(void *st, struct cache_pnode *n)
{
    struct s3fifo *s = st;
    cache_plist_unlink(n->queue == S3_MAIN ? &s->main : &s->small, n);
}

static struct cache_pnode *s3_victim(void *st)
{
    struct s3fifo *s = st;
    for (;;) {
        struct cache_pnode *t;
        bool from_small = s->small.bytes >= s->small_cap || !cache_plist_tail(&s->main);
        if (from_small && (t = cache_plist_tail(&s->small))) {
            if (t->freq > 0) { /* hit while small: promote */
                cache_plist_unlink(&s->small, t);
                t->freq = 0;
                t->queue = S3_MAIN;
                cache_plist_push(&s->main, t);
                continue;
            }
            s->ghost[t->hash & s->ghost_mask] = ghost_tag(t->hash);
            return t;
        }
        t = cache_plist_tail(&s->main);
        if (!t)
            return cache_plist_tail(&s->small);
        if (t->freq > 0) { /* second chance */
            cache_plist_unlink(&s->main, t);
            t->freq--;
            cache_plist_push(&s->main, t);
            continue;
        }
        return t;
    }
}

const struct cache_policy_ops cache_policy_s3fifo = {
    .name = "s3fifo",
    .state_size = sizeof(struct s3fifo),
    .init = s3_init,
    .fini = s3_fini,
    .insert = s3_insert,
    .hit = s3_hit,
    .remove = s3_remove,
    .victim = s3_victim,
};

/* policy_fifo.c — first in, first out: hits change nothing (no write on the hit path). */
#include "cache/cache_policy.h"

static int fifo_init(void *st, uint64_t cap)
{
    (void)cap;
    cache_plist_init(st);
    return 0;
}

static void fifo_fini(void *st)
{
    (void)st;
}

static void fifo_insert(void *st, struct cache_pnode *n)
{
    cache_plist_push(st, n);
}

static void fifo_hit(void *st, struct cache_pnode *n)
{
    (void)st;
    (void)n;
}

static void fifo_remove(void *st, struct cache_pnode *n)
{
    cache_plist_unlink(st, n);
}

static struct cache_pnode *fifo_victim(void *st)
{
    return cache_plist_tail(st);
}

const struct cache_policy_ops cache_policy_fifo = {
    .name = "fifo",
    .state_size = sizeof(struct cache_plist),
    .init = fifo_init,
    .fini = fifo_fini,
    .insert = fifo_insert,
    .hit = fifo_hit,
    .remove = fifo_remove,
    .victim = fifo_victim,
};

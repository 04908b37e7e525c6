/* policy_lru.c — least recently used: a hit moves the node to the head, the tail goes. */
#include "cache/cache_policy.h"

static int lru_init(void *st, uint64_t cap)
{
    (void)cap;
    cache_plist_init(st);
    return 0;
}

static void lru_fini(void *st)
{
    (void)st;
}

static void lru_insert(void *st, struct cache_pnode *n)
{
    cache_plist_push(st, n);
}

static void lru_hit(void *st, struct cache_pnode *n)
{
    cache_plist_unlink(st, n);
    cache_plist_push(st, n);
}

static void lru_remove(void *st, struct cache_pnode *n)
{
    cache_plist_unlink(st, n);
}

static struct cache_pnode *lru_victim(void *st)
{
    return cache_plist_tail(st);
}

const struct cache_policy_ops cache_policy_lru = {
    .name = "lru",
    .state_size = sizeof(struct cache_plist),
    .init = lru_init,
    .fini = lru_fini,
    .insert = lru_insert,
    .hit = lru_hit,
    .remove = lru_remove,
    .victim = lru_victim,
};

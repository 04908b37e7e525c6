/* cache_policy.c — the registry of eviction policies and the list they share. */
#include "cache/cache_policy.h"

#include <string.h>

const struct cache_policy_ops *const cache_policies[] = {
    &cache_policy_s3fifo,
    &cache_policy_tinylfu,
    &cache_policy_lru,
    &cache_policy_lfu,
    &cache_policy_fifo,
    NULL,
};

const struct cache_policy_ops *cache_policy_find(const char *name)
{
    for (size_t i = 0; cache_policies[i]; i++)
        if (strcmp(cache_policies[i]->name, name) == 0)
            return cache_policies[i];
    return NULL;
}

void cache_plist_init(struct cache_plist *l)
{
    l->head.next = l->head.prev = &l->head;
    l->bytes = 0;
}

void cache_plist_push(struct cache_plist *l, struct cache_pnode *n)
{
    n->prev = &l->head;
    n->next = l->head.next;
    l->head.next->prev = n;
    l->head.next = n;
    l->bytes += n->charge;
}

void cache_plist_unlink(struct cache_plist *l, struct cache_pnode *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
    l->bytes -= n->charge;
}

struct cache_pnode *cache_plist_tail(struct cache_plist *l)
{
    return l->head.prev == &l->head ? NULL : l->head.prev;
}

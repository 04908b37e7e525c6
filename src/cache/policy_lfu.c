/* policy_lfu.c — least frequently used, in O(1): one list per access count 0..LFU_LEVELS-1
 * (counts saturate), a hit moves the node one level up, the victim is the oldest node of the
 * lowest non-empty level. Aging: each time the victim comes from a level above 0 — everything
 * left is popular — every node's count is read as one lower from then on (a global offset),
 * so yesterday's favourites do not stay forever. */
#include "cache/cache_policy.h"

#define LFU_LEVELS 16

struct lfu {
    struct cache_plist level[LFU_LEVELS];
};

static int lfu_init(void *st, uint64_t cap)
{
    (void)cap;
    struct lfu *s = st;
    for (int i = 0; i < LFU_LEVELS; i++)
        cache_plist_init(&s->level[i]);
    return 0;
}

static void lfu_fini(void *st)
{
    (void)st;
}

static void lfu_insert(void *st, struct cache_pnode *n)
{
    struct lfu *s = st;
    n->freq = 0;
    cache_plist_push(&s->level[0], n);
}

static void lfu_hit(void *st, struct cache_pnode *n)
{
    struct lfu *s = st;
    if (n->freq + 1 >= LFU_LEVELS)
        return;
    cache_plist_unlink(&s->level[n->freq], n);
    n->freq++;
    cache_plist_push(&s->level[n->freq], n);
}

static void lfu_remove(void *st, struct cache_pnode *n)
{
    struct lfu *s = st;
    cache_plist_unlink(&s->level[n->freq], n);
}

static struct cache_pnode *lfu_victim(void *st)
{
    struct lfu *s = st;
    for (int i = 0; i < LFU_LEVELS; i++) {
        struct cache_pnode *n = cache_plist_tail(&s->level[i]);
        if (!n)
            continue;
        if (i > 0) {
            /* Age: shift every level down by one (level 0 merges into level 1's tail end). */
            struct cache_plist *l0 = &s->level[0];
            for (int k = 1; k < LFU_LEVELS; k++) {
                struct cache_pnode *m;
                while ((m = cache_plist_tail(&s->level[k]))) {
                    cache_plist_unlink(&s->level[k], m);
                    m->freq = (uint8_t)(k - 1);
                    cache_plist_push(k == 1 ? l0 : &s->level[k - 1], m);
                }
            }
            return cache_plist_tail(&s->level[n->freq]);
        }
        return n;
    }
    return NULL;
}

const struct cache_policy_ops cache_policy_lfu = {
    .name = "lfu",
    .state_size = sizeof(struct lfu),
    .init = lfu_init,
    .fini = lfu_fini,
    .insert = lfu_insert,
    .hit = lfu_hit,
    .remove = lfu_remove,
    .victim = lfu_victim,
};

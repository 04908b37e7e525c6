/* cache_policy.h — eviction policies, one `static const struct cache_policy_ops` each, in one
 * registry table (cache_policy.c), like balance/'s lb_ops. A policy sees only nodes (embedded
 * in the store's objects, or in the bench's fake ones), each with its charge in bytes, and
 * answers "which node goes next" when the store is over its size. Byte-weighted: queue sizes
 * are sums of charges.
 *
 * Threads: a policy's state belongs to one store shard and is only touched under that shard's
 * lock (cache_store.c), so policies do no locking of their own. */
#ifndef WEIR_CACHE_POLICY_H
#define WEIR_CACHE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cache_pnode {
    struct cache_pnode *prev, *next;
    uint64_t hash;          /* the key's hash (ghost queues remember keys by it) */
    uint32_t charge;        /* bytes */
    uint8_t freq;           /* lfu, s3fifo: access count (capped) */
    uint8_t queue;          /* s3fifo: small or main */
};

/* A circular list with a sentinel: head.next is the newest. */
struct cache_plist {
    struct cache_pnode head;
    uint64_t bytes;
};

void cache_plist_init(struct cache_plist *l);
void cache_plist_push(struct cache_plist *l, struct cache_pnode *n); /* at the head */
void cache_plist_unlink(struct cache_plist *l, struct cache_pnode *n);
struct cache_pnode *cache_plist_tail(struct cache_plist *l);        /* oldest, or NULL */

struct cache_policy_ops {
    const char *name;
    size_t state_size;
    /* Fills zeroed state for a capacity of `cap` bytes. 0 or -1 (out of memory). */
    int (*init)(void *st, uint64_t cap);
    void (*fini)(void *st);
    void (*insert)(void *st, struct cache_pnode *n);
    void (*hit)(void *st, struct cache_pnode *n);
    void (*remove)(void *st, struct cache_pnode *n);
    /* The node to evict (still linked: the store calls remove), or NULL when empty. May
     * reorder nodes (second chances) before it answers. */
    struct cache_pnode *(*victim)(void *st);
};

extern const struct cache_policy_ops cache_policy_lru, cache_policy_lfu, cache_policy_fifo,
    cache_policy_s3fifo, cache_policy_tinylfu;

/* By name ("s3fifo", "tinylfu", "lru", "lfu", "fifo"), or NULL. */
const struct cache_policy_ops *cache_policy_find(const char *name);
/* The policies, NULL-terminated (bench, docs). */
extern const struct cache_policy_ops *const cache_policies[];
#define CACHE_POLICY_DEFAULT (&cache_policy_s3fifo)

#endif

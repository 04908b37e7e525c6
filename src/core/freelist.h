/* freelist.h — a bounded stack of malloc'd blocks kept for reuse, which gives back the blocks
 * that went unused.
 *
 * A worker keeps freed buffers and connection structs here so that the steady-state request
 * path does not call malloc. Without a way back, a list filled by one burst would hold its
 * blocks for ever; so the owner calls freelist_decay() on a period (a second): the blocks that
 * stayed in the list for the whole period were not needed, and all of them but `keep` are
 * freed. Under steady load the list holds about what the load's ups and downs need.
 *
 * Not thread-safe: one owner thread. Every block is freed with free(). */
#ifndef WEIR_CORE_FREELIST_H
#define WEIR_CORE_FREELIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct freelist {
    void **items;
    uint32_t n;   /* blocks held */
    uint32_t max; /* never more */
    uint32_t low; /* fewest held since the last decay: these were never taken */
};

/* Returns 0, or -1 when out of memory. */
int freelist_init(struct freelist *fl, uint32_t max);
/* Frees every block held and the list itself. */
void freelist_destroy(struct freelist *fl);

/* A block, or NULL when the list is empty (the caller mallocs one). Inline: several per
 * request. */
static inline void *freelist_get(struct freelist *fl)
{
    if (fl->n == 0)
        return NULL;
    if (--fl->n < fl->low)
        fl->low = fl->n;
    return fl->items[fl->n];
}

/* Keeps p and returns true, or returns false when the list is full (the caller frees p). */
static inline bool freelist_put(struct freelist *fl, void *p)
{
    if (fl->n == fl->max)
        return false;
    fl->items[fl->n++] = p;
    return true;
}

/* Frees the blocks no freelist_get() took since the last decay, keeping at least `keep`; starts
 * the next period. Returns how many blocks were freed. */
uint32_t freelist_decay(struct freelist *fl, uint32_t keep);

#endif

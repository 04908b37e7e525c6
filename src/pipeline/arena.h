/* arena.h — the per-exchange arena: what the pipeline and its modules allocate for one request,
 * freed in one go when the exchange ends, with cleanup hooks for what is not plain memory.
 *
 * The first chunk is supplied by the owner (embedded in the exchange, so a request that needs
 * little allocates nothing); later chunks come from malloc and grow geometrically. Allocations
 * are 16-byte aligned. Cleanup hooks run in reverse order of registration. One thread. */
#ifndef WEIR_PIPELINE_ARENA_H
#define WEIR_PIPELINE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct arena_chunk;
struct arena_cleanup;

struct arena {
    char *cur, *end;                /* free space of the current chunk */
    struct arena_chunk *chunks;     /* malloc'd chunks, newest first */
    struct arena_cleanup *cleanups; /* newest first */
    char *first;                    /* the owner's chunk */
    size_t first_size;
    size_t next_size;               /* size of the next malloc'd chunk */
};

#define ARENA_MIN_CHUNK 4096u

/* first/size: the owner's storage (may be NULL/0). Inline: once per exchange, with constants. */
static inline void arena_init(struct arena *a, void *first, size_t size)
{
    char *end = first ? (char *)first + size : NULL;
    char *cur = first ? (char *)(((uintptr_t)first + 15u) & ~(uintptr_t)15u) : NULL;
    *a = (struct arena){.cur = cur > end ? end : cur, .end = end, .first = first,
                        .first_size = first ? size : 0, .next_size = ARENA_MIN_CHUNK};
}

void *arena_alloc_slow(struct arena *a, size_t n);

/* Returns n bytes (16-byte aligned, uninitialised) or NULL when out of memory. Inline while
 * the current chunk has room (every allocation of a plain proxied request). */
static inline void *arena_alloc(struct arena *a, size_t n)
{
    n = n ? (n + 15u) & ~(size_t)15u : 16u;
    if (a->cur && (size_t)(a->end - a->cur) >= n) {
        void *p = a->cur;
        a->cur += n;
        return p;
    }
    return arena_alloc_slow(a, n);
}
/* The same, zeroed. */
void *arena_calloc(struct arena *a, size_t n);
/* A NUL-terminated copy of s; NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* A copy of s as a slice; STR_NULL (ptr NULL) when out of memory and s was not empty. */
struct str arena_str(struct arena *a, struct str s);

/* Registers fn(arg) to run when the arena is reset. Returns 0, or -1 when out of memory
 * (then fn has not been registered: the caller cleans up itself). */
int arena_on_reset(struct arena *a, void (*fn)(void *arg), void *arg);

/* Runs the cleanup hooks (newest first), frees the malloc'd chunks and makes the arena empty
 * again on its first chunk. */
void arena_reset(struct arena *a);

#endif

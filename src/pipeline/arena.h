/* arena.h — the per-exchange arena: what the pipeline and its modules allocate for one request,
 * freed in one go when the exchange ends, with cleanup hooks for what is not plain memory.
 *
 * The first chunk is supplied by the owner (embedded in the exchange, so a request that needs
 * little allocates nothing); later chunks come from malloc and grow geometrically. Allocations
 * are 16-byte aligned. Cleanup hooks run in reverse order of registration. One thread. */
#ifndef WEIR_PIPELINE_ARENA_H
#define WEIR_PIPELINE_ARENA_H

#include <stddef.h>

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

/* first/size: the owner's storage (may be NULL/0). */
void arena_init(struct arena *a, void *first, size_t size);

/* Returns n bytes (16-byte aligned, uninitialised) or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
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

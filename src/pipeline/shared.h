/* shared.h — state a module shares between workers and keeps across reloads, keyed by the
 * address of what it belongs to (a route's or a group's registry state, which outlives
 * generations the same way). The first get creates it, the last put frees it. A mutex guards
 * the registry; gets and puts happen when a worker builds or drops a generation, never per
 * request. What the object holds documents its own locking. */
#ifndef WEIR_PIPELINE_SHARED_H
#define WEIR_PIPELINE_SHARED_H

#include <stddef.h>

struct pipeline_shared_type {
    const char *name;
    size_t size;
    /* Fills a zeroed object for key; returns 0 or -1 (then fini is not called). */
    int (*init)(void *obj, const void *key);
    void (*fini)(void *obj);
};

/* The object of (type, key), created on first use; a reference is taken. NULL when out of
 * memory or init failed. */
void *pipeline_shared_get(const struct pipeline_shared_type *t, const void *key);
void pipeline_shared_put(void *obj);

#endif

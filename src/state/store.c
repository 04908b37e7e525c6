/* store.c — the registry of state-store backends: one explicit table. Adding a backend = one
 * file, one extern in store.h, one line here (docs/internals/state.md sketches the Redis one). */
#include "state/store.h"

#include <string.h>

static const struct store_ops *const registry[] = {
    &store_memory,
};

/* The backend named `name`, or NULL. O(number of backends); called at config load, never per
 * request. Any thread. */
const struct store_ops *store_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

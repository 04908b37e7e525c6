/* lb.c — the registry of balancing strategies: one explicit table. */
#include "balance/lb.h"

#include <string.h>

static const struct lb_ops *const registry[] = {
    &lb_round_robin,
};

const struct lb_ops *lb_find(const char *name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

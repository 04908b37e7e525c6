/* lb.c — the registry of balancing strategies: one explicit table, in the order lb_names()
 * lists them. Adding a strategy = one file, one extern in lb.h, one line here, one name in
 * lb_names() (tests/unit/balance/test_lb_rules.c checks the two agree). */
#include "balance/lb.h"

#include <string.h>

static const struct lb_ops *const registry[] = {
    &lb_round_robin, &lb_random, &lb_least_connections, &lb_weighted, &lb_hash,
};

/* O(number of strategies); called at config load, never per request. */
const struct lb_ops *lb_find(const char *name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

/* A literal rather than a string built from the table: no buffer, no first-call race. */
const char *lb_names(void)
{
    return "round_robin, random, least_connections, weighted, hash";
}

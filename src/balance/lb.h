/* lb.h — load-balancing strategies behind one ops struct.
 *
 * A strategy sees an upstream group's servers through `struct lb_server` (weight, up, in-flight
 * count) and returns an index. State is per worker and per group (no locks): each worker
 * balances its own share, which keeps the global split even. Called on a worker thread only. */
#ifndef WEIR_BALANCE_LB_H
#define WEIR_BALANCE_LB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config_types.h"
#include "core/str.h"

struct lb_server {
    uint32_t weight;
    uint32_t active; /* in-flight requests from this worker */
    bool up;
    bool backup;
};

/* What a pick may look at besides the servers. */
struct lb_ctx {
    struct str key;  /* hash key (client IP, header or cookie value), empty when none */
    uint64_t rand;   /* a fresh random number from the worker's generator */
};

struct lb_ops {
    const char *name;
    /* Per-worker state for a group of n servers; NULL on out of memory. */
    void *(*create)(const struct cfg_upstream *group);
    /* Index of the chosen server among s[0..n) (only `up` ones, primaries before backups),
     * or -1 when none is usable. */
    int (*pick)(void *state, const struct lb_server *s, uint32_t n, const struct lb_ctx *ctx);
    void (*destroy)(void *state);
};

/* The strategy registered under `name`, or NULL. */
const struct lb_ops *lb_find(const char *name);

extern const struct lb_ops lb_round_robin;

#endif

/* lb.h — load-balancing strategies behind one ops struct.
 *
 * A strategy picks among a group's servers, seen as `struct lb_server`: state shared by every
 * worker (atomics written by health checks and by the proxy, read by every pick). A strategy's
 * own state (rotation position, smooth-weighted counters, hash ring) is per worker and per
 * group, so picks take no lock. Called on a worker thread only, except create/destroy which
 * may run on any thread that owns the group's servers.
 *
 * Rules every strategy follows:
 * - only servers with `up` set and `weight_now` > 0 are picked;
 * - primaries first; backups only when no primary can be picked;
 * - ctx->exclude (a server index, or -1) is avoided when any other server can be picked
 *   (a retry goes to a different server);
 * - -1 when nothing can be picked. */
#ifndef WEIR_BALANCE_LB_H
#define WEIR_BALANCE_LB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

struct lb_server {
    atomic_bool up;          /* health: false while the server is down */
    atomic_uint inflight;    /* requests in flight to it, all workers */
    atomic_uint weight_now;  /* effective weight: `weight`, ramped by slow start */
    uint32_t weight;         /* configured weight, >= 1 */
    bool backup;
    struct str id;           /* stable identity (the address text): hash ring points, cookies */
};

/* What a pick may look at besides the servers. */
struct lb_ctx {
    struct str key;  /* hash key (client IP, header or cookie value); empty = none */
    uint64_t rand;   /* a fresh random number from the worker's generator */
    int exclude;     /* server index to avoid, or -1 */
};

struct lb_ops {
    const char *name;
    /* Per-worker state for the group s[0..n) (servers' weights and ids are fixed for the
     * group's lifetime). NULL on out of memory. */
    void *(*create)(struct lb_server *const *s, uint32_t n);
    /* Index of the chosen server in s[0..n), or -1. */
    int (*pick)(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx);
    void (*destroy)(void *state);
};

/* The strategy registered under `name`, or NULL. */
const struct lb_ops *lb_find(const char *name);
/* Comma-separated names of every registered strategy (for error messages). */
const char *lb_names(void);

/* True when s may be picked (up and weight_now > 0). */
static inline bool lb_usable(const struct lb_server *s)
{
    return atomic_load_explicit(&s->up, memory_order_relaxed) &&
           atomic_load_explicit(&s->weight_now, memory_order_relaxed) > 0;
}

/* The strategies, one file each (registry names in quotes). */
extern const struct lb_ops lb_round_robin;       /* "round_robin"       lb_round_robin.c */
extern const struct lb_ops lb_random;            /* "random"            lb_random.c */
extern const struct lb_ops lb_least_connections; /* "least_connections" lb_least_conn.c */
extern const struct lb_ops lb_weighted;          /* "weighted"          lb_weighted.c */
extern const struct lb_ops lb_hash;              /* "hash"              lb_hash.c */

#endif

/* lb_weighted.c — smooth weighted round robin (nginx's algorithm, ngx_http_upstream_round_robin.c
 * "smooth weighted balancing", 2012).
 *
 * Each pick adds every candidate's weight_now to its `current`, picks the largest current, and
 * subtracts the round's total weight from the winner. Over any window of `total` picks each
 * server is chosen exactly `weight` times, and the picks interleave: 5:3:2 gives
 * a b c a a b a c b a, never the a a a a a b b b c c of a naive expansion, so a heavy server
 * never takes a burst.
 *
 * `current` is per worker (each worker runs its own sequence; with W workers the global split is
 * still by weight, it is only the interleaving that is per worker). Using weight_now rather than
 * the configured weight lets slow start ramp a server in smoothly. A server that is not a
 * candidate this pick (down, zero weight, other tier, excluded) neither gains nor loses, so a
 * server coming back resumes where it stood instead of receiving a burst to "catch up".
 *
 * Cost: O(n) per pick, two relaxed atomic loads per server, no lock, no allocation. Primaries
 * first; backups only when no primary is usable; ctx->exclude only when it is the only usable
 * server of its tier (and then it is returned without touching the counters). */
#include <stdlib.h>

#include "balance/lb.h"

struct swrr_state {
    uint32_t n;
    int64_t current[]; /* sums to 0 over the group; each stays within a few total weights */
};

static void *swrr_create(struct lb_server *const *s, uint32_t n)
{
    (void)s;
    struct swrr_state *st = calloc(1, sizeof(*st) + (size_t)n * sizeof(st->current[0]));
    if (st)
        st->n = n;
    return st;
}

static int swrr_scan(struct swrr_state *st, struct lb_server *const *s, uint32_t n, bool backup,
                     int exclude)
{
    int best = -1, fallback = -1;
    int64_t total = 0;

    for (uint32_t i = 0; i < n; i++) {
        const struct lb_server *sv = s[i];
        if (sv->backup != backup || !atomic_load_explicit(&sv->up, memory_order_relaxed))
            continue;
        int64_t w = atomic_load_explicit(&sv->weight_now, memory_order_relaxed);
        if (w == 0)
            continue;
        if ((int)i == exclude) {
            fallback = (int)i;
            continue;
        }
        st->current[i] += w;
        total += w;
        if (best < 0 || st->current[i] > st->current[best])
            best = (int)i;
    }
    if (best < 0)
        return fallback;
    st->current[best] -= total;
    return best;
}

static int swrr_pick(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx)
{
    struct swrr_state *st = state;
    if (n > st->n)
        n = st->n; /* the group never grows; this only guards the counter array */
    int idx = swrr_scan(st, s, n, false, ctx->exclude);
    return idx >= 0 ? idx : swrr_scan(st, s, n, true, ctx->exclude);
}

static void swrr_destroy(void *state)
{
    free(state);
}

const struct lb_ops lb_weighted = {
    .name = "weighted",
    .create = swrr_create,
    .pick = swrr_pick,
    .destroy = swrr_destroy,
};

/* lb_least_conn.c — least connections, weighted: the usable server with the lowest
 * inflight / weight_now, counted over all workers (`inflight` is shared).
 *
 * Ratios are compared by cross-multiplication in 64 bits (a.inflight * b.weight <
 * b.inflight * a.weight), exact and without floats; both factors are 32-bit, so no overflow.
 *
 * Ties are common (an idle group is all ties), and always taking the first would send every
 * quiet-time request to s[0]. So the scan starts at a per-worker rotating index and keeps the
 * first strictly better server it meets; the next scan starts just after the winner, which
 * turns ties into a round robin among the equally loaded servers. The invariant the tests check
 * is the other half: a server is never chosen while a usable one with a strictly lower ratio
 * is seen in the same scan (counters move concurrently, so "seen" means at the load).
 *
 * Cost: O(n) per pick, three relaxed atomic loads per server, no lock, no allocation.
 * Primaries first; backups only when no primary is usable; ctx->exclude only when it is the
 * only usable server of its tier. */
#include <stdlib.h>

#include "balance/lb.h"

struct lc_state {
    uint32_t next; /* where the next scan starts */
};

static void *lc_create(struct lb_server *const *s, uint32_t n)
{
    (void)s;
    (void)n;
    return calloc(1, sizeof(struct lc_state));
}

static int lc_scan(struct lc_state *st, struct lb_server *const *s, uint32_t n, bool backup,
                   int exclude)
{
    int best = -1, fallback = -1;
    uint64_t best_load = 0, best_w = 1;
    uint32_t start = st->next < n ? st->next : 0;

    for (uint32_t k = 0, i = start; k < n; k++, i = (i + 1 == n) ? 0 : i + 1) {
        const struct lb_server *sv = s[i];
        if (sv->backup != backup || !atomic_load_explicit(&sv->up, memory_order_relaxed))
            continue;
        uint64_t w = atomic_load_explicit(&sv->weight_now, memory_order_relaxed);
        if (w == 0)
            continue;
        if ((int)i == exclude) {
            fallback = (int)i;
            continue;
        }
        uint64_t load = atomic_load_explicit(&sv->inflight, memory_order_relaxed);
        if (best < 0 || load * best_w < best_load * w) {
            best = (int)i;
            best_load = load;
            best_w = w;
        }
    }
    if (best < 0)
        return fallback;
    st->next = (uint32_t)best + 1;
    return best;
}

static int lc_pick(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx)
{
    int idx = lc_scan(state, s, n, false, ctx->exclude);
    return idx >= 0 ? idx : lc_scan(state, s, n, true, ctx->exclude);
}

static void lc_destroy(void *state)
{
    free(state);
}

const struct lb_ops lb_least_connections = {
    .name = "least_connections",
    .create = lc_create,
    .pick = lc_pick,
    .destroy = lc_destroy,
};

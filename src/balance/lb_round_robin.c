/* lb_round_robin.c — plain rotation over the usable servers, weights ignored. O(1) when every
 * server is usable, O(n) in the worst case (skipping unusable ones). */
#include <stdlib.h>

#include "balance/lb.h"

struct rr_state {
    uint32_t next;
};

static void *rr_create(struct lb_server *const *s, uint32_t n)
{
    (void)s;
    struct rr_state *st = calloc(1, sizeof(*st));
    /* Workers start at different places, so the first requests of each do not all land on
     * server 0 (the state's address is as good a seed as any and costs nothing). */
    if (st && n)
        st->next = (uint32_t)(((uintptr_t)st >> 4) * 0x9e3779b97f4a7c15ull >> 40) % n;
    return st;
}

static int rr_scan(struct rr_state *st, struct lb_server *const *s, uint32_t n, bool backup,
                   int exclude)
{
    int fallback = -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = (st->next + i) % n;
        if (s[idx]->backup != backup || !lb_usable(s[idx]))
            continue;
        if ((int)idx == exclude) {
            fallback = (int)idx;
            continue;
        }
        st->next = idx + 1;
        return (int)idx;
    }
    return fallback;
}

static int rr_pick(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx)
{
    int idx = rr_scan(state, s, n, false, ctx->exclude);
    return idx >= 0 ? idx : rr_scan(state, s, n, true, ctx->exclude);
}

static void rr_destroy(void *state)
{
    free(state);
}

const struct lb_ops lb_round_robin = {
    .name = "round_robin",
    .create = rr_create,
    .pick = rr_pick,
    .destroy = rr_destroy,
};

/* lb_round_robin.c — plain rotation over the usable servers; backups only when no primary is
 * up. O(n) in the worst case (skipping down servers), O(1) when all are up. */
#include <stdlib.h>

#include "balance/lb.h"

struct rr_state {
    uint32_t next;
};

static void *rr_create(const struct cfg_upstream *group)
{
    (void)group;
    return calloc(1, sizeof(struct rr_state));
}

static int rr_pick_class(struct rr_state *st, const struct lb_server *s, uint32_t n, bool backup)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = (st->next + i) % n;
        if (s[idx].up && s[idx].backup == backup) {
            st->next = idx + 1;
            return (int)idx;
        }
    }
    return -1;
}

static int rr_pick(void *state, const struct lb_server *s, uint32_t n, const struct lb_ctx *ctx)
{
    (void)ctx;
    int idx = rr_pick_class(state, s, n, false);
    return idx >= 0 ? idx : rr_pick_class(state, s, n, true);
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

/* lb_random.c — power of two choices: draw two distinct usable servers at random, each drawn
 * with probability proportional to its weight_now, and send to the one with fewer requests in
 * flight (a tie goes to the first drawn, so an idle group splits exactly by weight).
 *
 * Why: random picks need no coordination between workers (round robin per worker is only even
 * per worker), and a second draw compared on load avoids the herd on one slow server that pure
 * random leaves; the gain from a third draw is small (Mitzenmacher, "The Power of Two Choices").
 *
 * The comparison is on raw `inflight`, not inflight/weight: a stronger server drains faster, so
 * it already shows fewer in flight, and the weighted draw has honoured its weight once.
 *
 * State per worker: a snapshot of this pick's candidates (index and running weight total), so
 * both draws see one consistent view while health checks and slow start change the atomics.
 * Cost: O(n) per pick for the snapshot, then two binary searches; no lock, no allocation.
 * Primaries first; backups only when no primary is usable; ctx->exclude is dropped from the
 * candidates unless it is the only usable server of its tier. */
#include <stdlib.h>

#include "balance/hash.h"
#include "balance/lb.h"

struct rnd_cand {
    uint64_t end; /* running total of weights up to and including this candidate */
    uint32_t idx; /* index in the group */
};

struct rnd_state {
    uint32_t n;
    struct rnd_cand c[]; /* [n]; the first m are this pick's candidates */
};

static void *rnd_create(struct lb_server *const *s, uint32_t n)
{
    (void)s;
    struct rnd_state *st = calloc(1, sizeof(*st) + (size_t)n * sizeof(st->c[0]));
    if (st)
        st->n = n;
    return st;
}

/* Lists the usable servers of one tier, minus `exclude`, in st->c; returns how many.
 * *usable counts the tier's usable servers, the excluded one included, so `*usable > 0` with
 * no candidate means the excluded server is the tier's only usable one. */
static uint32_t snapshot(struct rnd_state *st, struct lb_server *const *s, uint32_t n, bool backup,
                         int exclude, uint32_t *usable)
{
    uint64_t total = 0;
    uint32_t m = 0, count = 0; /* a local count: *usable may alias st->c[].idx */
    for (uint32_t i = 0; i < n; i++) {
        if (s[i]->backup != backup || !atomic_load_explicit(&s[i]->up, memory_order_relaxed))
            continue;
        uint32_t w = atomic_load_explicit(&s[i]->weight_now, memory_order_relaxed);
        if (w == 0)
            continue;
        count++;
        if ((int)i == exclude)
            continue;
        total += w;
        st->c[m].end = total;
        st->c[m].idx = i;
        m++;
    }
    *usable = count;
    return m;
}

/* A number in [0, bound) from a random word. For the usual bound (< 2^32) this is a multiply
 * and a shift (Lemire's range reduction) instead of a 64-bit division, ~20 ns saved per pick;
 * its bias is below bound / 2^32, far under any share a test or an operator could see. */
static inline uint64_t below(uint64_t r, uint64_t bound)
{
    if (bound <= UINT32_MAX)
        return ((r >> 32) * bound) >> 32;
    return r % bound;
}

/* The candidate whose weight interval [end - w, end) holds u: the first with end > u. */
static uint32_t owner(const struct rnd_cand *c, uint32_t m, uint64_t u)
{
    uint32_t lo = 0, len = m;
    while (len > 0) {
        uint32_t half = len / 2;
        if (c[lo + half].end <= u) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return lo; /* < m because u < total = c[m - 1].end */
}

static int rnd_pick(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx)
{
    struct rnd_state *st = state;
    if (n > st->n)
        n = st->n; /* the group never grows; this only guards the snapshot array */

    uint32_t usable;
    uint32_t m = snapshot(st, s, n, false, ctx->exclude, &usable);
    if (usable == 0) {
        m = snapshot(st, s, n, true, ctx->exclude, &usable);
        if (usable == 0)
            return -1;
    }
    if (m == 0)
        return ctx->exclude; /* the tier's only usable server */
    if (m == 1)
        return (int)st->c[0].idx;

    /* First draw over the whole weight; the second over the rest, by drawing in a range one
     * weight shorter and stepping over the first's interval: two distinct servers, each
     * weight-proportional, in one binary search each. The second random word is a bijective
     * remix of the first. */
    uint64_t total = st->c[m - 1].end;
    uint32_t a = owner(st->c, m, below(ctx->rand, total));
    uint64_t a_end = st->c[a].end;
    uint64_t a_start = a ? st->c[a - 1].end : 0;
    uint64_t u =
        below(lb_mix64(ctx->rand ^ UINT64_C(0x9e3779b97f4a7c15)), total - (a_end - a_start));
    if (u >= a_start)
        u += a_end - a_start;
    uint32_t b = owner(st->c, m, u);

    uint32_t ia = st->c[a].idx, ib = st->c[b].idx;
    unsigned la = atomic_load_explicit(&s[ia]->inflight, memory_order_relaxed);
    unsigned lb = atomic_load_explicit(&s[ib]->inflight, memory_order_relaxed);
    return lb < la ? (int)ib : (int)ia;
}

static void rnd_destroy(void *state)
{
    free(state);
}

const struct lb_ops lb_random = {
    .name = "random",
    .create = rnd_create,
    .pick = rnd_pick,
    .destroy = rnd_destroy,
};

/* lb_hash.c — consistent hashing on a ring (Karger et al. 1997) over ctx->key.
 *
 * Each server owns LB_HASH_POINTS_PER_WEIGHT x weight points on a 64-bit ring, at
 * lb_hash64("<id>#<i>"); a key goes to the owner of the first point at or after
 * lb_hash64(key), clockwise. Because a point depends only on the server's id, adding or removing
 * a server moves only the keys that land on (or leave) its points: about 1/(n+1) of them, and
 * none between the other servers. Many points per server keep the shares close to the weights
 * (the spread of a share shrinks as 1/sqrt(points)).
 *
 * A key whose owner cannot be picked (down, weight_now 0, or ctx->exclude) walks on clockwise
 * to the next point of a usable server: the keys of a down server spread over the others, and
 * come back to it when it is up again. With an empty key, ctx->rand is the ring position, which
 * is a weighted random pick.
 *
 * Primaries and backups have separate rings, so a backup's points never capture primary keys.
 * Points use the configured `weight`, not weight_now: slow start must not move keys around.
 * When 160 x the tier's total weight exceeds LB_HASH_MAX_POINTS, every server's count is scaled
 * down to fit (at least one point each); that is the one case where a weight change in one
 * server would move keys between the others. Ids are stable for the group's lifetime (lb.h).
 *
 * State per worker (built in create, read-only after): for each tier, positions and owners in
 * two parallel sorted arrays, 12 bytes per point (160 points for a weight-1 server, ~2 KB;
 * at most 768 KB per tier).
 * Cost: create O(P log P) for P points. pick: one key hash, an O(n) scan to choose the tier,
 * a binary search (log2 P steps), and a walk past unusable points (none while all are up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/hash.h"
#include "balance/lb.h"

#define LB_HASH_POINTS_PER_WEIGHT 160
#define LB_HASH_MAX_POINTS 65536
#define RING_SEED UINT64_C(0x7765697272696e67) /* "weirring": any constant, never change it */

struct ring {
    uint32_t npoints;
    uint64_t *pos; /* sorted ascending */
    uint32_t *idx; /* owner of pos[i], an index into the group's servers */
};

struct hash_state {
    uint32_t n;
    struct ring tier[2]; /* [0] primaries, [1] backups */
};

struct point {
    uint64_t pos;
    uint32_t idx;
};

static int point_cmp(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* a 2^-64 collision still sorts stably */
}

static uint32_t points_for(uint32_t weight, uint64_t units)
{
    uint64_t want = (uint64_t)LB_HASH_POINTS_PER_WEIGHT * (weight ? weight : 1);
    if (units <= LB_HASH_MAX_POINTS)
        return (uint32_t)want;
    uint64_t scaled = want * LB_HASH_MAX_POINTS / units;
    return scaled ? (uint32_t)scaled : 1;
}

/* Builds the ring of one tier. 0 on success (an empty tier is an empty ring), -1 on OOM. */
static int ring_build(struct ring *r, struct lb_server *const *s, uint32_t n, bool backup)
{
    uint64_t units = 0;
    size_t longest = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i]->backup != backup)
            continue;
        units += (uint64_t)LB_HASH_POINTS_PER_WEIGHT * (s[i]->weight ? s[i]->weight : 1);
        if (s[i]->id.len > longest)
            longest = s[i]->id.len;
    }
    if (units == 0)
        return 0;

    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        if (s[i]->backup == backup)
            total += points_for(s[i]->weight, units);

    struct point *pts = malloc(total * sizeof(*pts));
    char *buf = malloc(longest + 12); /* "<id>#<up to 10 digits>" */
    r->pos = malloc(total * sizeof(*r->pos));
    r->idx = malloc(total * sizeof(*r->idx));
    if (!pts || !buf || !r->pos || !r->idx)
        goto fail;

    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i]->backup != backup)
            continue;
        size_t len = s[i]->id.len;
        if (len)
            memcpy(buf, s[i]->id.ptr, len);
        uint32_t np = points_for(s[i]->weight, units);
        for (uint32_t p = 0; p < np; p++) {
            int d = snprintf(buf + len, 12, "#%u", (unsigned)p);
            pts[k].pos = lb_hash64(buf, len + (size_t)d, RING_SEED);
            pts[k].idx = i;
            k++;
        }
    }
    qsort(pts, total, sizeof(*pts), point_cmp);
    for (size_t i = 0; i < total; i++) {
        r->pos[i] = pts[i].pos;
        r->idx[i] = pts[i].idx;
    }
    r->npoints = (uint32_t)total;
    free(pts);
    free(buf);
    return 0;

fail:
    free(pts);
    free(buf);
    free(r->pos);
    free(r->idx);
    r->pos = NULL;
    r->idx = NULL;
    return -1;
}

static void hash_destroy(void *state)
{
    struct hash_state *st = state;
    if (!st)
        return;
    for (int t = 0; t < 2; t++) {
        free(st->tier[t].pos);
        free(st->tier[t].idx);
    }
    free(st);
}

static void *hash_create(struct lb_server *const *s, uint32_t n)
{
    struct hash_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->n = n;
    if (ring_build(&st->tier[0], s, n, false) == -1 || ring_build(&st->tier[1], s, n, true) == -1) {
        hash_destroy(st);
        return NULL;
    }
    return st;
}

/* First point at or after h, wrapping past the top of the ring to point 0. */
static uint32_t ring_find(const struct ring *r, uint64_t h)
{
    uint32_t lo = 0, len = r->npoints;
    while (len > 0) {
        uint32_t half = len / 2;
        if (r->pos[lo + half] < h) {
            lo += half + 1;
            len -= half + 1;
        } else {
            len = half;
        }
    }
    return lo == r->npoints ? 0 : lo;
}

/* Counts the usable servers of a tier: *others those that are not `exclude`. */
static uint32_t tier_usable(struct lb_server *const *s, uint32_t n, bool backup, int exclude,
                            uint32_t *others)
{
    uint32_t count = 0;
    *others = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i]->backup != backup || !lb_usable(s[i]))
            continue;
        count++;
        if ((int)i != exclude)
            (*others)++;
    }
    return count;
}

static int hash_pick(void *state, struct lb_server *const *s, uint32_t n, const struct lb_ctx *ctx)
{
    const struct hash_state *st = state;
    if (n > st->n)
        n = st->n;

    /* The O(n) pre-scan bounds the walk below: without it a key would walk a whole ring of
     * down servers (up to 64k points) before learning the tier is empty. */
    uint32_t others;
    int t = 0;
    if (tier_usable(s, n, false, ctx->exclude, &others) == 0) {
        t = 1;
        if (tier_usable(s, n, true, ctx->exclude, &others) == 0)
            return -1;
    }
    if (others == 0)
        return ctx->exclude; /* the tier's only usable server */

    const struct ring *r = &st->tier[t];
    uint64_t h = ctx->key.len ? lb_hash64(ctx->key.ptr, ctx->key.len, RING_SEED) : ctx->rand;
    uint32_t p = ring_find(r, h);
    for (uint32_t k = 0; k < r->npoints; k++) {
        uint32_t i = r->idx[p];
        if (i < n && (int)i != ctx->exclude && lb_usable(s[i]))
            return (int)i;
        if (++p == r->npoints)
            p = 0;
    }
    /* Only when health changed between the scan and the walk: fall back to the excluded one. */
    return ctx->exclude >= 0 && (uint32_t)ctx->exclude < n && lb_usable(s[ctx->exclude])
               ? ctx->exclude
               : -1;
}

const struct lb_ops lb_hash = {
    .name = "hash",
    .create = hash_create,
    .pick = hash_pick,
    .destroy = hash_destroy,
};

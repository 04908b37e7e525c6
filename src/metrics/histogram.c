/* histogram.c — see histogram.h.
 *
 * Bucket layout: values v < HIST_SUB map to bucket v. Otherwise, with e = floor(log2 v) (e >=
 * HIST_SUB_BITS), the top HIST_SUB_BITS+1 bits of v select sub-bucket (v >> (e - SUB_BITS)) -
 * HIST_SUB inside the e-th power of two: bucket = HIST_SUB + (e - SUB_BITS) * HIST_SUB + sub.
 * Each bucket spans 2^(e - SUB_BITS) values above 2^e: relative width <= 1/HIST_SUB. */
#include "metrics/histogram.h"

#include <string.h>

uint32_t hist_bucket_of(uint64_t us)
{
    if (us < HIST_SUB)
        return (uint32_t)us;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(us);
    if (e > HIST_MAX_EXP)
        return HIST_NBUCKETS - 1;
    uint32_t sub = (uint32_t)(us >> (e - HIST_SUB_BITS)) - HIST_SUB;
    return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + sub;
}

uint64_t hist_bucket_lower(uint32_t i)
{
    if (i < HIST_SUB)
        return i;
    uint32_t e = (i - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
    uint32_t sub = (i - HIST_SUB) % HIST_SUB;
    return (uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS);
}

uint64_t hist_bucket_upper(uint32_t i)
{
    if (i < HIST_SUB)
        return i;
    uint32_t e = (i - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
    return hist_bucket_lower(i) + ((uint64_t)1 << (e - HIST_SUB_BITS)) - 1;
}

static inline void bump(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void hist_record(struct histogram *h, uint64_t us)
{
    bump(&h->counts[hist_bucket_of(us)], 1);
    bump(&h->count, 1);
    bump(&h->sum_us, us);
    if (us > atomic_load_explicit(&h->max_us, memory_order_relaxed))
        atomic_store_explicit(&h->max_us, us, memory_order_relaxed);
}

void hist_add_to(struct hist_snapshot *dst, const struct histogram *src)
{
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++)
        dst->counts[i] += atomic_load_explicit(&src->counts[i], memory_order_relaxed);
    dst->count += atomic_load_explicit(&src->count, memory_order_relaxed);
    dst->sum_us += atomic_load_explicit(&src->sum_us, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&src->max_us, memory_order_relaxed);
    if (m > dst->max_us)
        dst->max_us = m;
}

void hist_snapshot_add(struct hist_snapshot *dst, const struct hist_snapshot *src)
{
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

void hist_snapshot_diff(struct hist_snapshot *dst, const struct hist_snapshot *a,
                        const struct hist_snapshot *b)
{
    uint64_t total = 0;
    uint32_t top = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        dst->counts[i] = a->counts[i] >= b->counts[i] ? a->counts[i] - b->counts[i] : 0;
        total += dst->counts[i];
        if (dst->counts[i])
            top = i;
    }
    dst->count = total;
    dst->sum_us = a->sum_us >= b->sum_us ? a->sum_us - b->sum_us : 0;
    /* The interval's max is not kept: bound it by its highest non-empty bucket. */
    dst->max_us = total ? (hist_bucket_upper(top) < a->max_us ? hist_bucket_upper(top) : a->max_us)
                        : 0;
}

uint64_t hist_quantile(const struct hist_snapshot *s, double p)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++)
        n += s->counts[i];
    if (!n)
        return 0;
    if (p <= 0)
        p = 0;
    if (p > 1)
        p = 1;
    uint64_t rank = (uint64_t)(p * (double)n + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        seen += s->counts[i];
        if (seen >= rank) {
            uint64_t up = hist_bucket_upper(i);
            return s->max_us && up > s->max_us ? s->max_us : up;
        }
    }
    return s->max_us;
}

uint64_t hist_count_le(const struct hist_snapshot *s, uint64_t le_us)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS && hist_bucket_upper(i) <= le_us; i++)
        n += s->counts[i];
    return n;
}

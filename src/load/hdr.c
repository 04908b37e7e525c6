/* hdr.c — log-linear latency histogram; see hdr.h for the layout and its error bound. */
#include "load/hdr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hdr *hdr_new(void)
{
    struct hdr *h = calloc(1, sizeof(*h));
    if (h)
        h->min_us = UINT64_MAX;
    return h;
}

void hdr_reset(struct hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

uint32_t hdr_bucket_of(uint64_t us)
{
    if (us > HDR_MAX_US)
        us = HDR_MAX_US;
    if (us < (1u << HDR_SUB_BITS))
        return (uint32_t)us;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(us); /* >= HDR_SUB_BITS */
    uint32_t sub = (uint32_t)(us >> (e - (HDR_SUB_BITS - 1))) & (HDR_HALF - 1);
    return (1u << HDR_SUB_BITS) + (e - HDR_SUB_BITS) * HDR_HALF + sub;
}

uint64_t hdr_bucket_lower(uint32_t i)
{
    if (i < (1u << HDR_SUB_BITS))
        return i;
    uint32_t k = i - (1u << HDR_SUB_BITS);
    uint32_t e = HDR_SUB_BITS + k / HDR_HALF;
    uint64_t width = 1ull << (e - (HDR_SUB_BITS - 1));
    return (1ull << e) + (uint64_t)(k % HDR_HALF) * width;
}

uint64_t hdr_bucket_upper(uint32_t i)
{
    if (i < (1u << HDR_SUB_BITS))
        return i;
    uint32_t e = HDR_SUB_BITS + (i - (1u << HDR_SUB_BITS)) / HDR_HALF;
    return hdr_bucket_lower(i) + (1ull << (e - (HDR_SUB_BITS - 1))) - 1;
}

void hdr_record_n(struct hdr *h, uint64_t us, uint64_t n)
{
    if (n == 0)
        return;
    if (us > HDR_MAX_US)
        h->clamped += n;
    h->counts[hdr_bucket_of(us)] += n;
    h->count += n;
    h->sum_us += us * n;
    if (us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
}

void hdr_record(struct hdr *h, uint64_t us)
{
    hdr_record_n(h, us, 1);
}

void hdr_add(struct hdr *dst, const struct hdr *src)
{
    if (src->count == 0)
        return;
    for (uint32_t i = 0; i < HDR_NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    dst->clamped += src->clamped;
    if (src->min_us < dst->min_us)
        dst->min_us = src->min_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

uint64_t hdr_quantile(const struct hdr *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min_us;
    uint64_t rank = (uint64_t)ceil(p * (double)h->count);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HDR_NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hdr_bucket_upper(i);
            if (v > h->max_us)
                v = h->max_us;
            if (v < h->min_us)
                v = h->min_us;
            return v;
        }
    }
    return h->max_us;
}

double hdr_mean(const struct hdr *h)
{
    return h->count ? (double)h->sum_us / (double)h->count : 0;
}

uint64_t hdr_count_le(const struct hdr *h, uint64_t us)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < HDR_NBUCKETS && hdr_bucket_upper(i) <= us; i++)
        n += h->counts[i];
    return n;
}

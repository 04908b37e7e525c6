/* hdr.h — the load tester's latency histogram: 3 significant digits from 1 µs to 1 h.
 *
 * Log-linear buckets in the manner of HdrHistogram (the idea, not its code): every value below
 * 2^HDR_SUB_BITS µs has its own bucket; above, each power of two [2^e, 2^(e+1)) is cut into
 * 2^(HDR_SUB_BITS-1) equal buckets, so a bucket is at most 1/1024 of the values it holds wide:
 * a reported quantile is within 0.1 % of the exact one. Values above HDR_MAX_US are counted in
 * the last bucket (and in `clamped`).
 *
 * Not thread-safe: one histogram per thread, merged with hdr_add (counts are plain sums, so
 * merging is exact). About 190 KB each: allocate with hdr_new, never on the stack. */
#ifndef WEIR_LOAD_HDR_H
#define WEIR_LOAD_HDR_H

#include <stdint.h>

#define HDR_SUB_BITS 11u
#define HDR_HALF (1u << (HDR_SUB_BITS - 1)) /* buckets per power of two above the linear part */
#define HDR_MAX_US 3600000000ull            /* 1 h */
#define HDR_TOP_EXP 31u                     /* 2^31 <= HDR_MAX_US < 2^32 */
#define HDR_NBUCKETS ((1u << HDR_SUB_BITS) + (HDR_TOP_EXP - HDR_SUB_BITS + 1) * HDR_HALF)

struct hdr {
    uint64_t count;
    uint64_t sum_us;
    uint64_t min_us, max_us;
    uint64_t clamped; /* values over HDR_MAX_US */
    uint64_t counts[HDR_NBUCKETS];
};

/* A zeroed histogram, or NULL when out of memory. Free with free(). */
struct hdr *hdr_new(void);
void hdr_reset(struct hdr *h);

/* O(1). */
void hdr_record(struct hdr *h, uint64_t us);
/* Records n copies of us. */
void hdr_record_n(struct hdr *h, uint64_t us, uint64_t n);

/* dst += src. */
void hdr_add(struct hdr *dst, const struct hdr *src);

/* Bucket index of a value and the inclusive value range of a bucket. */
uint32_t hdr_bucket_of(uint64_t us);
uint64_t hdr_bucket_lower(uint32_t i);
uint64_t hdr_bucket_upper(uint32_t i);

/* The p-quantile (0 <= p <= 1) in µs with the rank convention of an exact sort
 * (sorted[ceil(p*n)-1]): the upper bound of the bucket holding that rank, kept within
 * [min, max]. 0 when empty. */
uint64_t hdr_quantile(const struct hdr *h, double p);
double hdr_mean(const struct hdr *h);

/* Number of values <= us (exact at bucket upper bounds). */
uint64_t hdr_count_le(const struct hdr *h, uint64_t us);

#endif

/* histogram.h — latency histograms with bounded relative error, lock-free for one writer.
 *
 * Log-linear buckets in the style of HdrHistogram: values (microseconds) below 2^HIST_SUB_BITS
 * have a bucket each; above, every power of two is split into 2^HIST_SUB_BITS equal buckets, so
 * a value's bucket bounds it within 1/2^HIST_SUB_BITS (1.6 %) whatever its size, from 1 µs to
 * 2^HIST_MAX_EXP µs (≈ 19 h; larger values land in the last bucket).
 *
 * One writer (the worker that owns the histogram) records with relaxed loads and stores (no
 * locked instruction); any thread may read it concurrently into a snapshot and merge snapshots
 * of several workers. A reader may see a record half-applied (count before sum): harmless for
 * monitoring. */
#ifndef WEIR_METRICS_HISTOGRAM_H
#define WEIR_METRICS_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 36
#define HIST_NBUCKETS ((HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB + HIST_SUB)

struct histogram {
    atomic_uint_fast64_t counts[HIST_NBUCKETS];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t max_us;
};

struct hist_snapshot {
    uint64_t counts[HIST_NBUCKETS];
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
};

/* Owner thread only. O(1): a count-leading-zeros and three relaxed stores. */
void hist_record(struct histogram *h, uint64_t us);

/* Any thread. dst += src (dst zeroed by the caller for a fresh snapshot). */
void hist_add_to(struct hist_snapshot *dst, const struct histogram *src);
/* dst += src for snapshots. */
void hist_snapshot_add(struct hist_snapshot *dst, const struct hist_snapshot *src);
/* dst = a - b (a taken after b): the distribution of what was recorded in between. */
void hist_snapshot_diff(struct hist_snapshot *dst, const struct hist_snapshot *a,
                        const struct hist_snapshot *b);

/* Bucket index of a value, and the value range [lower, upper] a bucket covers. */
uint32_t hist_bucket_of(uint64_t us);
uint64_t hist_bucket_lower(uint32_t i);
uint64_t hist_bucket_upper(uint32_t i);

/* The p-quantile (0 < p <= 1) in µs: the upper bound of the bucket holding the rank, capped at
 * max_us; 0 for an empty snapshot. O(buckets). */
uint64_t hist_quantile(const struct hist_snapshot *s, double p);

/* Count of recorded values <= le_us (exact at bucket boundaries; a bucket straddling le_us
 * counts when its upper bound is <= le_us). For Prometheus' cumulative `le` buckets. */
uint64_t hist_count_le(const struct hist_snapshot *s, uint64_t le_us);

#endif

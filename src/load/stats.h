/* stats.h — what a load worker counts, and the lock that lets the main thread take it.
 *
 * A worker records into its own struct stats under its own mutex (uncontended but for the
 * main thread's once-a-second stats_take), so each per-second interval is exact across
 * threads without any atomics on the hot path. */
#ifndef WEIR_LOAD_STATS_H
#define WEIR_LOAD_STATS_H

#include <pthread.h>
#include <stdint.h>

#include "load/hdr.h"

struct stats_counts {
    uint64_t sent, done, ok, s4xx, s5xx, errors, timeouts, late, conn_waits, bytes_in;
    uint64_t conn_full;  /* waits while at --max-connections (the generator was the limit) */
    uint64_t conns_added; /* connections opened beyond -c because sends had to wait */
};

struct stats {
    struct stats_counts c;
    struct hdr *corr;  /* from the intended send time (open model; = unc when closed) */
    struct hdr *unc;   /* from the actual send time */
    struct hdr *lag;   /* actual - intended send time */
};

/* 0, or -1 when out of memory (then stats_free is still safe). */
int stats_init(struct stats *s);
void stats_free(struct stats *s);
void stats_reset(struct stats *s);
/* dst += src. */
void stats_add(struct stats *dst, const struct stats *src);
void stats_counts_add(struct stats_counts *dst, const struct stats_counts *src);

#endif

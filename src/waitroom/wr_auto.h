/* wr_auto.h — `admit_per_minute: auto`: the admission rate follows what the upstream can take.
 *
 * Inputs, per room: the outcome of every admitted request that went upstream (latency, and
 * whether it failed: 5xx or no response), counted by the module in on_end with atomics; and,
 * when the route's group has a concurrency limiter (fixed or adaptive), its signal: requests
 * queued for a slot (the limiter is saturated).
 *
 * Control law (AIMD, one step per second, taken by whichever request first sees the second
 * has passed — a trylock, so nobody waits):
 *   over the last second: n requests, e failures, p99 latency (log2 buckets);
 *   base = the lowest p99 seen (rising 1 %/s, so it follows a slower but healthy backend);
 *   unhealthy  = (n >= 5 and e/n > 5 %) or (n >= 5 and p99 > 2 x base + 10 ms)
 *                or the group's limiter has requests queued;
 *   unhealthy            -> rate = max(min, rate x 0.7)            (multiplicative back-off)
 *   healthy and demand   -> rate = min(max_active, rate x 1.05 + 1)  (probe upward)
 *   otherwise            -> unchanged
 * with min = max(1, max_active / 100), start = max(min, max_active / 10), and demand meaning
 * the last second's admissions reached 90 % of what the rate allowed or someone waits. */
#ifndef WEIR_WAITROOM_WR_AUTO_H
#define WEIR_WAITROOM_WR_AUTO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define WR_LAT_BUCKETS 24 /* log2 of milliseconds: < 1 ms ... >= 2^22 ms */

struct wr_auto {
    atomic_bool on;
    atomic_uint max_active;
    atomic_uint rate;                      /* admissions per minute now */
    atomic_uint_fast64_t req, err;
    atomic_uint_fast64_t lat[WR_LAT_BUCKETS];
    pthread_mutex_t mu;                    /* the step (trylock) */
    atomic_int_fast64_t next_ms;           /* read before the trylock: one load per request */
    uint64_t last_req, last_err, last_lat[WR_LAT_BUCKETS];
    double base_p99_ms, frate;
    uint32_t last_p99_ms;                  /* for the figures */
};

void wr_auto_init(struct wr_auto *a);
void wr_auto_fini(struct wr_auto *a);
void wr_auto_configure(struct wr_auto *a, bool on, uint32_t max_active);
/* One upstream outcome of an admitted request. */
void wr_auto_observe(struct wr_auto *a, uint64_t latency_us, bool failed);
/* Takes a step when a second has passed. waiting: someone waits; saturated: the group's
 * limiter queues. */
void wr_auto_tick(struct wr_auto *a, int64_t now_ms, bool waiting, bool saturated);
uint32_t wr_auto_rate(const struct wr_auto *a);

#endif

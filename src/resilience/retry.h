/* retry.h — when a retry is safe, how long to wait before it, and the retry budget.
 *
 * The budget is shared by every worker of a group: requests and retries are counted in
 * one-second buckets over a sliding window (atomics, no lock); a retry is allowed while
 *   retries_in_window < budget_min_per_s * window_s + ratio * requests_in_window.
 * Thread-safe. */
#ifndef WEIR_RESILIENCE_RETRY_H
#define WEIR_RESILIENCE_RETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config_types.h"
#include "http/h1_types.h"

#define RETRY_BUDGET_BUCKETS 64 /* window up to 64 s */

struct retry_budget {
    atomic_uint_fast64_t bucket_sec[RETRY_BUDGET_BUCKETS]; /* which second a bucket holds */
    atomic_uint requests[RETRY_BUDGET_BUCKETS];
    atomic_uint retries[RETRY_BUDGET_BUCKETS];
    atomic_uint_fast64_t refused;   /* retries refused by the budget (total) */
    atomic_uint_fast64_t allowed;   /* retries allowed (total) */
};

void retry_budget_init(struct retry_budget *b);
/* A request (first attempt) entered the group. */
void retry_budget_request(struct retry_budget *b, uint64_t now_ms);
/* May one retry happen now? Counts it when yes, counts a refusal when no. */
bool retry_budget_try(struct retry_budget *b, const struct cfg_retry *cfg, uint64_t now_ms);

/* GET, HEAD, OPTIONS, PUT, DELETE (and TRACE): safe to send twice. */
bool retry_method_idempotent(enum h1_method m);

/* Full-jitter exponential backoff before attempt number `attempt` (2 = first retry):
 * uniform in [0, min(backoff_max, backoff_base * 2^(attempt-2))], from `rand`. */
uint32_t retry_backoff_ms(const struct cfg_retry *cfg, uint32_t attempt, uint64_t rand);

/* Is `status` one of the configured retryable statuses? */
bool retry_status(const struct cfg_retry *cfg, int status);

#endif

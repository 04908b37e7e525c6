/* limiter.h — a concurrency limit (bulkhead) for an upstream group, fixed or adaptive.
 *
 * Fixed: at most `max` requests in flight across all workers. Adaptive: the limit moves
 * between min_limit and max_limit from observed latency (a gradient limiter in the style of
 * Netflix's concurrency-limits: limit follows min_rtt / current_rtt, plus a small headroom
 * so it can probe upward), so it settles near the backend's real capacity.
 * Thread-safe (atomics for the count; a mutex around the adaptive update). */
#ifndef WEIR_RESILIENCE_LIMITER_H
#define WEIR_RESILIENCE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config_types.h"

struct limiter;

struct limiter *limiter_new(const struct cfg_concurrency *cfg);
void limiter_free(struct limiter *l);

/* Takes a slot when fewer than limit() are in flight. */
bool limiter_try_acquire(struct limiter *l);
/* Gives the slot back with the call's outcome: rtt_us its latency, `dropped` when it failed
 * in a way that signals overload (timeout, 503) — the adaptive limit then backs off. */
void limiter_release(struct limiter *l, uint64_t rtt_us, bool dropped, uint64_t now_us);

uint32_t limiter_limit(struct limiter *l);
uint32_t limiter_inflight(struct limiter *l);

#endif

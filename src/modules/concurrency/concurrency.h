/* concurrency.h — the upstream group's concurrency limit (a bulkhead) on the pipeline: at most
 * `concurrency.max` requests in flight to the group across all workers (or an adaptive limit,
 * resilience/limiter.c); beyond it a bounded queue (`queue`, `queue_timeout`), then 503. A
 * waiter is woken when a slot is released on any worker (pipeline/waitq.h), not by polling.
 * Configured on the group; keyless. Shared state per group: the limiter and the wait queue. */
#ifndef WEIR_MODULES_CONCURRENCY_H
#define WEIR_MODULES_CONCURRENCY_H

#include "pipeline/module.h"

extern const struct pipeline_module concurrency_module;

#endif

/* shed.h — load shedding: a worker that is behind (event-loop lag) or over its in-flight limit
 * refuses new requests at once with 503 + Retry-After instead of queueing them into timeouts.
 * Configured globally (limits.shed_loop_lag, limits.shed_inflight); keyless. */
#ifndef WEIR_MODULES_SHED_H
#define WEIR_MODULES_SHED_H

#include "pipeline/module.h"

extern const struct pipeline_module shed_module;

#endif

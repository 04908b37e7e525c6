/* request_buffering.h — the request body is read whole before the request goes on (route
 * `request_buffering`, on by default): a client that uploads slowly holds a weir connection,
 * never a concurrency slot, an upstream connection or a thread of the server behind. In the
 * limit phase after shedding and rate limiting (a refused request is not read first) and before
 * idempotency (which hashes the body) and the concurrency limit. The module only asks
 * (pipeline_need_body); the host reads the body, in memory or in a temp file, within its
 * bounds (proxy/buffering.h). Keyless: its settings are the route's `request_buffering`. */
#ifndef WEIR_MODULES_REQUEST_BUFFERING_H
#define WEIR_MODULES_REQUEST_BUFFERING_H

#include "pipeline/module.h"

extern const struct pipeline_module request_buffering_module;

#endif

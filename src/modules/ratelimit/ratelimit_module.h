/* ratelimit_module.h — the route's rate limit (GCRA, resilience/ratelimit.c) on the pipeline:
 * a request over the limit gets 429 with Retry-After and the IETF RateLimit-Policy / RateLimit
 * fields; an allowed one carries those fields on its response. Configured by the route's
 * `rate_limit` key (parsed with the route, core/config_resilience.c); the key table is the
 * route's shared state (one per route, all workers, lock-striped). */
#ifndef WEIR_MODULES_RATELIMIT_MODULE_H
#define WEIR_MODULES_RATELIMIT_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module ratelimit_module;

#endif

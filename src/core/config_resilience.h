/* config_resilience.h — internal to the config loader: the resilience settings.
 *
 * An upstream group's `retry`, `circuit_breaker` and `concurrency`, a route's `rate_limit`
 * and `idempotency`, and the load-shedding keys of `limits`. Split from config_upstream.c and
 * config.c to keep files small; same rules: main thread only, 0 on success, -1 after writing
 * the first error into the context. Every loader stores its defaults before reading anything,
 * so the fields are set even when the sections are absent. */
#ifndef WEIR_CORE_CONFIG_RESILIENCE_H
#define WEIR_CORE_CONFIG_RESILIENCE_H

#include "core/config.h"
#include "core/config_yaml.h"

/* Fills u->retry, u->breaker and u->concurrency from the group mapping `group` (which
 * ymap_check has already accepted). u->name must already be set. Allocates nothing. */
int config_load_group_resilience(struct ycx *cx, const struct ynode *group,
                                 struct cfg_upstream *u);

/* Fills r->ratelimit and r->idempotency from the route mapping `route` (already accepted by
 * ymap_check); idx names the route in messages. On error what was allocated stays in r for
 * config_route_resilience_free. */
int config_load_route_resilience(struct ycx *cx, const struct ynode *route, uint32_t idx,
                                 struct cfg_route *r);
/* Frees what config_load_route_resilience allocated (safe on a zeroed route). */
void config_route_resilience_free(struct cfg_route *r);

/* Reads `shed_loop_lag` and `shed_inflight` from the `limits` mapping (already accepted by
 * ymap_check). The defaults are stored by the caller (config_new). */
int config_load_shedding(struct ycx *cx, const struct ynode *limits, struct cfg_limits *lim);

#endif

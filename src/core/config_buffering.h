/* config_buffering.h — internal to the config loader: request and response buffering.
 *
 * The top-level `buffering` section (per-worker bounds, the temp directory) and a route's
 * `request_buffering` / `response_buffering`. Same rules as the other loader files: main
 * thread only, 0 on success, -1 after writing the first error into the context. */
#ifndef WEIR_CORE_CONFIG_BUFFERING_H
#define WEIR_CORE_CONFIG_BUFFERING_H

#include "core/config.h"
#include "core/config_yaml.h"

/* Stores the defaults of cfg->buffering (config_new calls it). Returns -1 on out of memory. */
int config_buffering_defaults(struct cfg_buffering *b);
/* Reads the `buffering` mapping over the defaults. */
int config_load_buffering(struct ycx *cx, const struct ynode *v, struct cfg_buffering *b);

/* Fills r->buffering from the route mapping `route` (already accepted by ymap_check): the
 * defaults, then `request_buffering` and `response_buffering`. Allocates nothing. */
int config_load_route_buffering(struct ycx *cx, const struct ynode *route, uint32_t idx,
                                struct cfg_route *r);

#endif

/* router.h — picks the route for a request.
 *
 * Precedence: the most specific host first (exact > longest wildcard "*.suffix" > any), then
 * the longest path prefix, then a route that lists methods over one that does not.
 * O(number of routes) per request; pure and thread-safe (reads the immutable config). */
#ifndef WEIR_PROXY_ROUTER_H
#define WEIR_PROXY_ROUTER_H

#include "core/config_types.h"
#include "core/str.h"

/* host: without port, any case. path: the origin-form target (query ignored). NULL: no route. */
const struct cfg_route *router_match(const struct config *cfg, struct str host, struct str path,
                                     struct str method);

#endif

/* cache_serve.h — a stored object as the response to a request (RFC 9111 §4, RFC 9110 §13,
 * §14): the stored status and fields, Age, an optional X-Cache, and the request's
 * conditionals (304 / 412) and Range (206 / 416, one range) evaluated against the stored
 * validators and body. HEAD gets the GET's head. The body is served from the object's memory
 * (not copied): the caller keeps a reference to it until the exchange ends. Worker thread. */
#ifndef WEIR_CACHE_SERVE_H
#define WEIR_CACHE_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_store.h"

struct exchange;
struct response;

/* Fills r (in x's arena) from o. `conditionals`: evaluate the request's preconditions and
 * Range (false when answering in place of a failed upstream response). label: the X-Cache
 * value, or NULL. Returns 0 or -1 (out of memory). */
int cache_serve_fill(struct exchange *x, const struct cache_obj *o, int64_t age,
                     const char *label, bool conditionals, struct response *r);

#endif

/* cache_vary.h — Vary (RFC 9111 §4.1): a stored response is used for a request only when the
 * request's values of the fields the response's Vary names match those of the request that
 * stored it. Values are normalised before they are compared: field lines joined, list
 * elements trimmed of whitespace and joined with ",", and the Accept* fields lowercased (their
 * tokens are case-insensitive). A field absent differs from a field present but empty. `*`
 * never matches (such responses are not stored). Pure; any thread. */
#ifndef WEIR_CACHE_VARY_H
#define WEIR_CACHE_VARY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "http/h1_types.h"

/* The field names of a response's Vary lines, lowercased and joined with ",", into out.
 * Returns the length (0: no Vary), -1 when out is too small, -2 for "*". */
int cache_vary_names(const struct str *values, size_t nvalues, char *out, size_t cap);

/* The selecting values of req for `names` (from cache_vary_names), written as
 * "<name>:<normalised value>\n" or "<name>!\n" when absent. Returns the length or -1. */
int cache_vary_key(struct str names, const struct h1_request *req, char *out, size_t cap);

/* Does req select the variant stored with names / key? */
bool cache_vary_match(struct str names, struct str key, const struct h1_request *req);

#endif

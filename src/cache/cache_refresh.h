/* cache_refresh.h — the internal request that refreshes a stored response (revalidation,
 * stale-while-revalidate) or fills the cache (docs/cache.md): it goes through weir's own front
 * door (pipeline_worker.fetch) marked with REFRESH_HEADER, which the cache trusts only on an
 * internal exchange and never forwards. Pure; any thread. */
#ifndef WEIR_CACHE_REFRESH_H
#define WEIR_CACHE_REFRESH_H

#include <stddef.h>

#include "cache/cache_object.h"
#include "core/str.h"
#include "http/h1_types.h"

struct arena;

#define REFRESH_HEADER "Weir-Cache-Refresh"

/* "GET <path> HTTP/1.1", Host, the fields of req that may select a variant (not framing,
 * hop-by-hop, conditionals, Range, Cache-Control, Pragma), REFRESH_HEADER and
 * "Connection: close". req may be NULL. Returns a malloc'd head (*len bytes), or NULL. */
char *cache_refresh_request(struct str host, struct str path, const struct h1_request *req,
                            size_t *len);

/* "If-None-Match: <etag>\r\nIf-Modified-Since: <last-modified>\r\n" for what o has, in the
 * arena; STR_NULL when out of memory. */
struct str cache_refresh_validators(struct arena *a, const struct cache_obj *o);

#endif

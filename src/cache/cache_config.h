/* cache_config.h — a route's `cache:` section (docs/config.md): `on` (the defaults), `off`, or
 * a mapping. Loaded by the config loader (main thread), immutable after, read by every
 * worker without locks. */
#ifndef WEIR_CACHE_CONFIG_H
#define WEIR_CACHE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_key.h"
#include "cache/cache_policy.h"

struct ycx;
struct ynode;

struct cache_conf {
    uint64_t max_size;             /* bytes stored for the route; default 256 MiB */
    uint64_t max_object;           /* larger responses are passed, not stored; default 8 MiB */
    const struct cache_policy_ops *policy;  /* default s3fifo */
    int64_t default_ttl;           /* seconds given to responses without freshness or
                                      validator; 0 (default): not stored */
    int64_t heuristic_max;         /* cap of the Last-Modified heuristic; default 1 day */
    bool x_cache;                  /* add X-Cache; default true */
    bool coalesce;                 /* collapse concurrent misses; default true */
    uint32_t coalesce_wait_ms;     /* how long a collapsed request waits; default 10 s */
    int64_t pass_ttl;              /* hit-for-pass: seconds misses of an uncacheable key go
                                      straight upstream; default 10 */
    char *tag_header;              /* response field with purge tags; default "Cache-Tag" */
    char *prewarm_file;            /* URLs (one a line) POST /cache/warm?from=config fetches */
    struct cache_key_conf key;
};

int cache_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **out);
void cache_config_free(void *conf);

#endif

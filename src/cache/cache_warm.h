/* cache_warm.h — pre-warming: fetch a list of URLs through weir's own front door, as a client
 * would (so they take the normal route, module and upstream path and the cache stores them),
 * at a bounded rate and concurrency, counting done, failed and bytes.
 *
 * Each URL is absolute ("http://<weir's address>/path"): the warmer connects to its authority
 * and sends it as Host, unless a Host is given for all of them (routes matched by host). One
 * job at a time, run by its own threads (one coordinator, `concurrency` fetchers) apart from
 * the workers and the admin loop; progress is read with atomics. Any thread may start or read
 * a job; cache_warm_shutdown (at exit) stops and joins it. */
#ifndef WEIR_CACHE_WARM_H
#define WEIR_CACHE_WARM_H

#include <stdbool.h>
#include <stdint.h>

struct cache_warm_progress {
    bool running;
    uint64_t queued, done, failed, bytes;
};

/* Starts a job over urls (copied). Returns 0, -1 when one is running (busy), -2 when out of
 * memory or a thread could not start. rate: URLs started per second (0: no limit). */
int cache_warm_start(char *const *urls, uint32_t n, uint32_t concurrency, uint32_t rate,
                     const char *host);
void cache_warm_progress(struct cache_warm_progress *p);
/* Stops the job (fetches in progress finish) and joins its threads. */
void cache_warm_shutdown(void);

/* One fetch (exposed for tests): 0 on a 2xx/3xx answer read to its end, -1 otherwise;
 * *bytes gets what was read. */
int cache_warm_fetch(const char *url, const char *host, uint64_t *bytes);

#endif

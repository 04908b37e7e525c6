/* fetch.h — pipeline_worker.fetch: a request weir sends itself through its own front door,
 * for modules that need an upstream response no client is waiting for (a cache's background
 * refresh, pre-warming). The request enters as a connection from an internal client (one end
 * of a socketpair, marked `internal`), so it takes exactly the path a client's request takes:
 * routing, the route's modules, balancing, retries, pools. The other end reads the response,
 * notes its status and drops the bytes — or, for fetch_reply, keeps up to a cap of them and
 * hands the parsed head and the de-chunked body to the caller (a JWKS document, a forward-auth
 * answer). Worker thread. */
#ifndef WEIR_PROXY_FETCH_H
#define WEIR_PROXY_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct pipeline_worker;
struct worker;

int fetch_start(struct pipeline_worker *self, const char *req, size_t len,
                void (*done)(void *arg, uint16_t status), void *arg);
struct fetch_reply;
int fetch_reply_start(struct pipeline_worker *self, const char *req, size_t len,
                      size_t max_bytes, void (*done)(void *arg, const struct fetch_reply *r),
                      void *arg);
/* At worker exit: the fetches still open end with status 0. */
void fetch_abort_all(struct worker *w);

#endif

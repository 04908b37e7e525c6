/* upstream.h — upstream connections and the per-worker, per-server pool of idle ones.
 *
 * A pooled connection is watched by the loop while idle: any event on it (the server closed
 * it, or sent bytes nobody asked for) closes it, so a request is never written to a connection
 * already known dead. The remaining race (the FIN arrives after the pick) is covered by
 * forward.c retrying a body-less request once on a fresh connection.
 * Worker thread only. */
#ifndef WEIR_PROXY_UPSTREAM_H
#define WEIR_PROXY_UPSTREAM_H

#include "proxy/proxy_types.h"

void pool_init(struct pool *p, struct worker *w, struct wconf *wc, const struct cfg_upstream *g,
               const struct cfg_server *s);
/* Closes every idle connection (reload, shutdown). */
void pool_close_idle(struct pool *p);

/* Gives `owner` a connection: an idle one (u->reused) or a new one whose connect is in flight
 * (u->connecting) unless `fresh` is set, in which case a new one always. Returns NULL with
 * *err = errno when a connect fails at once or memory runs out. The connection's in-buffer is
 * allocated. */
struct upconn *pool_acquire(struct pool *p, struct client *owner, bool fresh, int *err);

/* The exchange no longer needs u: back to the idle list when reusable (and the pool has room
 * and its generation is current), otherwise closed. */
void upconn_release(struct upconn *u, bool reusable);

/* Arms u's timer for its owner's phase (connect, response, idle). */
void upconn_arm(struct upconn *u, uint32_t ms);

#endif

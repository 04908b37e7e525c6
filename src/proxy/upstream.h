/* upstream.h — upstream connections and the per-worker, per-server pool of idle ones.
 *
 * A pooled connection is watched by the loop while idle: any event on it (the server closed
 * it, or sent bytes nobody asked for) closes it, so a request is never written to a connection
 * already known dead. The remaining race (the FIN arrives after the pick) is covered by
 * forward.c retrying a body-less request once on a fresh connection.
 *
 * `max_conns` of a server bounds its connections across all workers (an atomic count in its
 * shared state); a request that finds no idle connection and no free slot waits in the pool's
 * queue up to `pool.acquire_timeout`, then gets 503. Worker thread only. */
#ifndef WEIR_PROXY_UPSTREAM_H
#define WEIR_PROXY_UPSTREAM_H

#include "proxy/proxy_types.h"

void pool_init(struct pool *p, struct worker *w, struct wconf *wc, const struct cfg_upstream *g,
               const struct cfg_server *s, struct server_state *st);
/* Closes every idle or warming connection (reload, shutdown). Waiters must be gone. */
void pool_close_idle(struct pool *p);
/* Before the pool's memory goes (its generation is freed): idle connections closed, out of
 * the server's slot queue. */
void pool_fini(struct pool *p);

/* Gives `owner` a connection: an idle one (u->reused) or a new one whose connect is in flight
 * (u->connecting); `fresh` forces a new one. Returns NULL with *err = errno when a connect
 * fails at once, ENOMEM, or EAGAIN when the server is at max_conns (the caller waits with
 * pool_wait). The connection's in-buffer is allocated. */
struct upconn *pool_acquire(struct pool *p, struct client *owner, bool fresh, int *err);

/* The exchange no longer needs u: back to the idle list when reusable (and the pool has room,
 * its generation is current and no limit says otherwise), otherwise closed. */
void upconn_release(struct upconn *u, bool reusable);

/* Arms u's timer for its owner's phase (connect, response, idle). */
void upconn_arm(struct upconn *u, uint32_t ms);

/* Queues c for a connection slot of p (c->x->wait_deadline_ms set by the caller). */
void pool_wait(struct pool *p, struct client *c);
/* Whether the server has a connection slot free now (after pool_wait: see attempt.c). */
bool pool_slot_free(const struct pool *p);
/* Removes c from its pool's queue (no-op when not waiting). */
void pool_unwait(struct pool *p, struct client *c);

/* Closes idle connections while another worker waits for a slot of this server and none
 * waits here (health timer): idle connections must not starve other workers. */
void pool_yield(struct pool *p);

/* Publishes the pool's sizes into its metrics shard (health timer). */
void pool_publish(struct pool *p);

/* Opens connections until min_idle are idle or warming (health timer). */
void pool_warm(struct pool *p);

#endif

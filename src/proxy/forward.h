/* forward.h — one exchange between a client and an upstream: the request head and body go up,
 * the response head and body come down, both streamed through fixed buffers with backpressure
 * (a side is read only when the other side has taken the previous bytes). Also the WebSocket
 * tunnel after a 101. Worker thread only. */
#ifndef WEIR_PROXY_FORWARD_H
#define WEIR_PROXY_FORWARD_H

#include "proxy/proxy_types.h"

/* Starts forwarding c->x->req along c->x->route. Its head has just been consumed from c->in (the
 * slices still point into it); body bytes, if any, follow at the front of c->in. */
void forward_start(struct client *c, bool websocket);

/* The client's socket or the upstream's socket has news. */
void forward_client_event(struct client *c);
void forward_upstream_event(struct client *c);

/* The upstream connection's timer or the client's timer fired during the exchange. */
void forward_upstream_timeout(struct client *c);
void forward_client_timeout(struct client *c);

/* A connection slot may be free for c, which waits in a pool's queue (pool.c calls this). */
void forward_slot_ready(struct client *c);

/* The exchange is over (response written or weir's own reply sent): releases what admission
 * and the attempts held (concurrency slot, idempotency record, buffered body). */
void forward_end(struct client *c);

/* Drops the upstream side of the exchange (closing the connection); for client_abort. */
void forward_abort(struct client *c);

#endif

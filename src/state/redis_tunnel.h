/* redis_tunnel.h — TLS to Redis for hiredis 0.14, which has no TLS: an in-process tunnel on
 * the worker's own loop. hiredis connects (asynchronously, as always) to a private unix
 * socket; the tunnel accepts that connection and bridges it to a TLS connection to Redis made
 * with the state store's client context (tls/tls_client.h: verification, SNI, client
 * certificate, session reuse). No thread, nothing blocks.
 *
 * The private socket: a fresh 0700 directory (mkdtemp), a listener in it, hiredis' connect
 * (a unix connect completes at once), accept, then listener, socket path and directory are
 * gone before anything else runs; the peer must be this process (SO_PEERCRED).
 *
 * Bridging: two buffers of TUNNEL_BUF bytes (hiredis → Redis, Redis → hiredis): a full one
 * stops reading its side, so memory stays bounded whatever either side does. Commands hiredis
 * writes before the handshake finished wait in the first. Any failure (TCP connect refused,
 * handshake or certificate rejected, Redis closing, an I/O error) closes the tunnel's end of
 * the unix socket: hiredis sees its connection end and redis_conn.c reconnects with its
 * backoff; a handshake that hangs is bounded by redis_conn's connect timeout like a TCP
 * connect. One thread: the loop's. */
#ifndef WEIR_STATE_REDIS_TUNNEL_H
#define WEIR_STATE_REDIS_TUNNEL_H

#include "core/config_types.h"
#include "event/loop.h"

#define TUNNEL_BUF 16384

struct redis_tunnel;
struct redisAsyncContext;
struct tls_client;

/* Connects to a's host:port with TLS from tc and returns hiredis' asynchronous context on
 * the private socket in *ac (hooks not attached yet). session_slot: where the session for the
 * next connect is kept (NULL-initialised void *, freed with tls_client_session_free). NULL on
 * failure (*ac NULL; `why` says why). */
struct redis_tunnel *redis_tunnel_open(struct ev_loop *loop, const struct cfg_state_addr *a,
                                       const struct tls_client *tc, void **session_slot,
                                       struct redisAsyncContext **ac);
/* Closes both ends now; the memory goes after the current batch of events. NULL is fine. */
void redis_tunnel_free(struct redis_tunnel *t);
/* Why the tunnel failed ("" while it has not): a refused connect, the TLS error. */
const char *redis_tunnel_why(const struct redis_tunnel *t);

#endif

/* headers.h — rewriting heads as they cross weir (RFC 9110 §7.6).
 *
 * Hop-by-hop fields are dropped both ways: Connection and every field it names, Keep-Alive,
 * TE, Trailer, Transfer-Encoding (weir frames the message itself), Upgrade (kept only for a
 * WebSocket hand-shake), Proxy-Connection and every Proxy-* field. Requests gain
 * X-Forwarded-For/-Proto/-Host and Via; both directions carry X-Request-Id. Worker thread. */
#ifndef WEIR_PROXY_HEADERS_H
#define WEIR_PROXY_HEADERS_H

#include "proxy/proxy_types.h"

/* The request head for the upstream, from c->x->req, into c->x->uphead.
 * Returns 0, or -1 when it does not fit (the caller answers 431). */
int headers_build_request(struct client *c, bool websocket);

/* A chunked request body was read whole and decoded (buffering.c): replaces the chunked
 * framing headers_build_request wrote into `uphead` (not yet sent) with Content-Length: len.
 * Returns 0, or -1 when it does not fit. */
int headers_chunked_to_length(struct buf *uphead, uint64_t len);

/* The response head for the client as a structure (in the exchange's arena), from c->x->resp:
 * hop-by-hop fields and the framing (Content-Length, Transfer-Encoding) left out — the writer
 * frames — Upgrade kept for a 101, Via joined with ours, X-Request-Id ours.
 * Returns 0, or -1 when out of memory (the caller answers 502). */
int headers_response_view(struct client *c, struct response *r);

/* The request id the client sent if it is usable (1..128 visible ASCII), else empty. */
struct str headers_client_request_id(const struct h1_request *req);

/* The host to route on: the authority of an absolute-form target, else Host; port removed.
 * *path is set to the origin-form path (with query) of the target. */
struct str headers_route_host(const struct h1_request *req, struct str *path);

#endif

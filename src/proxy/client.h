/* client.h — a client connection: reading and parsing request heads, routing, weir's own
 * responses, keep-alive and pipelining, lingering close. The exchange with the upstream is in
 * forward.h. All functions run on the owning worker's thread. */
#ifndef WEIR_PROXY_CLIENT_H
#define WEIR_PROXY_CLIENT_H

#include "proxy/proxy_types.h"

/* Takes ownership of an accepted, non-blocking fd. Closes it on failure. */
/* The listener index of a connection weir made to itself (an internal fetch): plain, no
 * listener options. */
#define CLIENT_LISTENER_INTERNAL UINT16_MAX

/* Takes a connection accepted on listener `listener`; returns its client, or NULL (fd closed). */
struct client *client_accept(struct worker *w, int fd, const struct sockaddr_storage *peer,
                             uint16_t listener);

/* A connection that is no socket: vc is a virtual connection (tls_conn_virtual: an HTTP/2
 * stream's lane), owned by the client from here (tls_conn_free tells its owner when the client
 * closes). No fd, no epoll registration: its owner calls client_wake with the readiness events
 * epoll would have reported. NULL when it cannot be made (vc is then not taken). */
struct client *client_accept_virtual(struct worker *w, struct tls_conn *vc,
                                     const struct sockaddr_storage *peer);
void client_wake(struct client *c, uint32_t events);

/* Graceful stop: closes the connection now if it is between requests, otherwise makes it close
 * after the current response. */
void client_drain(struct client *c);

/* Closes the connection now, whatever it is doing (fast stop, drain deadline, fatal error). */
void client_abort(struct client *c);

/* Sends a response weir makes itself ("<status> <reason>: <detail> (request id …)") and then
 * either continues with the next request or closes (close == true, or the request body was
 * not fully read). Only valid before any response byte went to the client. */
void client_reply(struct client *c, int status, const char *detail, bool close);
/* The same with `extra` header lines ("Name: value\r\n"…); a Retry-After among them replaces
 * the default one of 429/503. */
void client_reply_ex(struct client *c, int status, const char *detail, bool close,
                     const char *extra);

/* Writes c->x->base.reply (made by a module, or by client_reply): the response hooks of the
 * modules that ran, the head, the body; then ends the exchange as client_reply does. */
void client_send_reply(struct client *c);
/* The module that held back the next window of the reply's file has it in memory: go on. */
void client_reply_continue(struct client *c);
/* Writes what is left of a reply (CS_REPLY): its head, then its body (client_reply.c). */
void client_reply_progress(struct client *c);
/* For client_reply.c: closes the connection at once; gives b a buffer of `size` bytes when it
 * has none (0, or -1 out of memory). */
void client_close_now(struct client *c);
int client_ensure_buf(struct worker *w, struct buf *b, uint32_t size);

/* The exchange finished (response fully written): logs it, releases its resources and moves
 * on to the next request on the connection, or closes it. */
void client_exchange_done(struct client *c);

/* Flushes c->out to the socket. Returns 0 when empty, 1 when data remains (not writable),
 * -1 on a write error (the caller aborts). */
int client_flush_out(struct client *c);

#endif

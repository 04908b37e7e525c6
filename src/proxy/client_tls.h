/* client_tls.h — what a client connection does because of its listener's TLS settings: the
 * handshake (with failures counted by reason and logged at debug), plain HTTP sent to a TLS
 * port, HSTS, the redirect of a plain listener to HTTPS, the verified client certificate's
 * subject for the upstream. The bytes themselves go through tls/tls_io.h. Worker thread. */
#ifndef WEIR_PROXY_CLIENT_TLS_H
#define WEIR_PROXY_CLIENT_TLS_H

#include "core/str.h"
#include "pipeline/response.h"
#include "proxy/proxy_types.h"

/* A new connection on c->listener: its TLS side when the listener has one, and
 * c->subject_header: the listener's `client_auth.subject_header`, or when it verifies no
 * clients, that of the first listener that does — so no client can forge the header through
 * another listener (it is removed from every request; only a verified subject sets it).
 * Returns the first timeout (the handshake's, or the request head's on a plain listener), 0
 * on out of memory. */
uint32_t client_tls_accept(struct client *c, int fd);
/* Sets c->subject_header: the request header weir sets from a verified client certificate
 * (and drops from requests) when any listener verifies clients. */
void client_tls_subject_header(struct client *c);
/* An event on a TLS connection: readiness the waiting OpenSSL call needs, and the handshake
 * while it lasts. 1: established, go on with the request cycle (the header timeout armed at the
 * handshake's end); 0: waiting; -1: failed (the caller closes); -2: plain HTTP came in, a 400
 * was written raw and c->tls is gone (the caller lingers, then closes). */
int client_tls_event(struct client *c, uint32_t events);
/* The handshake did not finish in time (counted; the caller closes). */
void client_tls_timeout(struct client *c);
/* A plain listener with redirect_https: answers 308 to the same host and path over HTTPS. */
void client_tls_redirect(struct client *c, struct str host, struct str path);
/* Fields the listener adds to every response (HSTS). 0, or -1 out of memory. */
int client_tls_fields(struct client *c, struct response *r);
/* The verified subject of c's client certificate into buf ("" when none, or when c's listener
 * does not verify clients). */
void client_tls_subject(const struct client *c, char *buf, size_t len);

#endif

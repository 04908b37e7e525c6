/* tls_server.h — a TLS listener's context: its certificates (RSA and/or ECDSA, with chains)
 * chosen per handshake by SNI (tls_sni.h), protocol and cipher settings, ALPN, session cache
 * and tickets (tls_ticket.h), OCSP stapling, client certificates (mTLS).
 *
 * Built on the main thread when a configuration is loaded (every PEM read and checked then,
 * so a bad file refuses the load or reload with the file named); afterwards only read by the
 * workers (OpenSSL's SSL_CTX is shared between threads; its session cache locks itself). It
 * lives as long as its config generation, which every connection accepted under it holds. */
#ifndef WEIR_TLS_TLS_SERVER_H
#define WEIR_TLS_TLS_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "core/config_types.h"

struct tls_server;

/* Builds the context of listener `idx` of cfg. NULL with err written ("listen[0] tls:
 * certificate '/path': ..."). */
struct tls_server *tls_server_new(const struct config *cfg, uint32_t idx, char *err,
                                  size_t errlen);
void tls_server_free(struct tls_server *s);

SSL_CTX *tls_server_ctx(const struct tls_server *s);

/* The verified client certificate's subject (RFC 2253) into buf; "" when none was sent or
 * it did not verify. */
void tls_server_peer_subject(SSL *ssl, char *buf, size_t len);

#endif

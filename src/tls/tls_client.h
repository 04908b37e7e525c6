/* tls_client.h — an upstream group's (or the Redis state store's) TLS client context: verification on by default (the
 * system's CA store or the configured bundle, and the server's name or IP checked against its
 * certificate), SNI, an optional client certificate, session reuse.
 *
 * Sessions: each pool (one server, one worker) keeps the last session its server issued
 * (tls_conn.session_slot) and offers it on its next new connection, so a pool that opens
 * connections again resumes instead of doing full handshakes. Built on the main thread with
 * the config (a bad file refuses the load), then read-only. */
#ifndef WEIR_TLS_TLS_CLIENT_H
#define WEIR_TLS_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config_types.h"
#include "tls/tls_conn.h"

struct tls_client;

/* The context of upstream group `idx`. NULL with err written (the file named). */
struct tls_client *tls_client_new(const struct config *cfg, uint32_t idx, char *err,
                                  size_t errlen);
/* The same from a `tls` section t (kept referenced: it must outlive the context), `where`
 * naming it in errors ("file: state.tls"); http: offer ALPN http/1.1 (else no ALPN, e.g. for
 * Redis). */
struct tls_client *tls_client_new_cfg(const struct cfg_tls_upstream *t, const char *where,
                                      bool http, char *err, size_t errlen);
void tls_client_free(struct tls_client *tc);

/* A connection to `server` (its address text, "host:port") over fd, offering *session_slot
 * (an SSL_SESSION * or NULL) and storing the server's next session there. NULL on out of
 * memory. */
struct tls_conn *tls_client_conn(const struct tls_client *tc, int fd, const char *server,
                                 void **session_slot);
/* What every client context of weir sets (also the load tester's): TLS 1.2+, no
 * renegotiation or compression, an EOF without close_notify is an end, partial writes, ALPN
 * http/1.1. */
void tls_client_ctx_defaults(SSL_CTX *ctx);
/* SNI = host unless it is an IP address; with verify, the certificate must be for host (a
 * name or an IP). 0, or -1 on out of memory. */
int tls_client_set_peer(struct tls_conn *t, const char *host, bool verify);
/* Frees a session kept in a slot. */
void tls_client_session_free(void *session);

#endif

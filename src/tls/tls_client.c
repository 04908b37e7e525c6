/* tls_client.c — see tls_client.h. */
#include "tls/tls_client.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

struct tls_client {
    SSL_CTX *ctx;
    const struct cfg_tls_upstream *cfg;
};

static struct tls_client *fail(struct tls_client *tc, char *err, size_t errlen,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static struct tls_client *fail(struct tls_client *tc, char *err, size_t errlen,
                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r && n > 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ": %s", r);
    ERR_clear_error();
    tls_client_free(tc);
    return NULL;
}

/* A session the server issued (after the handshake in TLS 1.3): kept in the slot of the
 * connection's pool for the next new connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_conn *t = SSL_get_app_data(ssl);
    if (!t || !t->session_slot)
        return 0;
    SSL_SESSION_free(*t->session_slot);
    *t->session_slot = sess;
    return 1; /* the slot holds the reference */
}

void tls_client_ctx_defaults(SSL_CTX *ctx)
{
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)TLS_ALPN_HTTP11,
                            sizeof(TLS_ALPN_HTTP11) - 1);
}

int tls_client_set_peer(struct tls_conn *t, const char *host, bool verify)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    int ok = 1;
    if (!is_ip)
        ok &= SSL_set_tlsext_host_name(t->ssl, host);
    if (verify)
        ok &= is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host)
                    : SSL_set1_host(t->ssl, host);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

struct tls_client *tls_client_new(const struct config *cfg, uint32_t idx, char *err,
                                  size_t errlen)
{
    const struct cfg_upstream *g = &cfg->upstreams[idx];
    char where[128];
    snprintf(where, sizeof(where), "%s: upstreams.%s.tls", cfg->source, g->name);
    return tls_client_new_cfg(g->tls, where, true, err, errlen);
}

struct tls_client *tls_client_new_cfg(const struct cfg_tls_upstream *t, const char *where,
                                      bool http, char *err, size_t errlen)
{
    struct tls_client *tc = calloc(1, sizeof(*tc));
    if (!tc || !(tc->ctx = SSL_CTX_new(TLS_client_method())))
        return fail(tc, err, errlen, "%s: cannot create a TLS context", where);
    tc->cfg = t;
    SSL_CTX *ctx = tc->ctx;
    tls_client_ctx_defaults(ctx);
    if (!http)
        SSL_CTX_set_alpn_protos(ctx, NULL, 0); /* not HTTP: offer no ALPN */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
        return fail(tc, err, errlen, "%s: ciphers '%s'", where, t->ciphers);
    if (t->ca ? SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1
              : SSL_CTX_set_default_verify_paths(ctx) != 1)
        return fail(tc, err, errlen, "%s: CA '%s'", where, t->ca ? t->ca : "(system)");
    SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (t->client_cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, t->client_cert) != 1)
            return fail(tc, err, errlen, "%s: client certificate '%s'", where, t->client_cert);
        if (SSL_CTX_use_PrivateKey_file(ctx, t->client_key, SSL_FILETYPE_PEM) != 1)
            return fail(tc, err, errlen, "%s: client key '%s'", where, t->client_key);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return fail(tc, err, errlen, "%s: client key '%s' does not match certificate '%s'",
                        where, t->client_key, t->client_cert);
    }
    if (t->session_reuse) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return tc;
}

void tls_client_free(struct tls_client *tc)
{
    if (!tc)
        return;
    SSL_CTX_free(tc->ctx);
    free(tc);
}

/* The host part of "host:port" or "[v6]:port" into buf. */
static void host_of(const char *server, char *buf, size_t len)
{
    const char *start = server, *end;
    if (*start == '[') {
        start++;
        end = strchr(start, ']');
    } else {
        end = strrchr(start, ':');
    }
    size_t n = end ? (size_t)(end - start) : strlen(start);
    if (n >= len)
        n = len - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
}

struct tls_conn *tls_client_conn(const struct tls_client *tc, int fd, const char *server,
                                 void **session_slot)
{
    struct tls_conn *t = tls_conn_new(tc->ctx, fd, false);
    if (!t)
        return NULL;
    char host[256];
    if (tc->cfg->sni)
        snprintf(host, sizeof(host), "%s", tc->cfg->sni);
    else
        host_of(server, host, sizeof(host));
    if (tls_client_set_peer(t, host, tc->cfg->verify) == -1) {
        tls_conn_free(t);
        return NULL;
    }
    if (tc->cfg->session_reuse) {
        t->session_slot = session_slot;
        if (*session_slot)
            SSL_set_session(t->ssl, *session_slot);
    }
    return t;
}

void tls_client_session_free(void *session)
{
    SSL_SESSION_free(session);
}

/* transport_tls.c — https for load connections: weir's client-side TLS connection
 * (tls_conn.h) over a non-blocking TCP connect.
 *
 * The server's certificate is verified by default (the system's store or --ca, the URL's host
 * checked against it; --insecure turns that off), SNI is the URL's host unless it is an IP,
 * ALPN offers http/1.1. Resumption: the context keeps the last session a server issued (TLS
 * 1.3 sends it after the handshake) and every new connection offers it, so the tester's
 * reconnects resume like a browser's instead of paying full handshakes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "event/sock.h"
#include "load/transport.h"
#include "tls/tls_client.h"

struct tls_tp_ctx {
    SSL_CTX *ssl_ctx;
    char host[256];
    bool verify;
    pthread_mutex_t mu;    /* guards session: the workers share it */
    SSL_SESSION *session;  /* the last one issued, offered by new connections */
};

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_tp_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    pthread_mutex_lock(&c->mu);
    SSL_SESSION_free(c->session);
    c->session = sess;
    pthread_mutex_unlock(&c->mu);
    return 1; /* the context holds the reference */
}

static void tls_ctx_free(void *p)
{
    struct tls_tp_ctx *c = p;
    if (!c)
        return;
    SSL_SESSION_free(c->session);
    SSL_CTX_free(c->ssl_ctx);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void *tls_ctx_new(const struct transport_opts *o, char *err, size_t errlen)
{
    struct tls_tp_ctx *c = calloc(1, sizeof(*c));
    if (!c || !(c->ssl_ctx = SSL_CTX_new(TLS_client_method()))) {
        free(c);
        snprintf(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->host, sizeof(c->host), "%s", o->host);
    c->verify = !o->insecure;
    SSL_CTX *ctx = c->ssl_ctx;
    SSL_CTX_set_app_data(ctx, c);
    tls_client_ctx_defaults(ctx);
    if (c->verify && (o->ca ? SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1
                            : SSL_CTX_set_default_verify_paths(ctx) != 1)) {
        unsigned long e = ERR_peek_last_error();
        snprintf(err, errlen, "--ca %s: %s", o->ca ? o->ca : "(system)",
                 e ? ERR_reason_error_string(e) : "cannot load");
        ERR_clear_error();
        tls_ctx_free(c);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    return c;
}

static int tls_open(void *ctx, const struct sockaddr *sa, socklen_t salen, void **state)
{
    struct tls_tp_ctx *c = ctx;
    *state = NULL;
    int fd = sock_connect(sa, salen);
    if (fd == -1)
        return -1;
    struct tls_conn *t = tls_conn_new(c->ssl_ctx, fd, false);
    int ok = t != NULL && tls_client_set_peer(t, c->host, c->verify) == 0;
    if (ok) {
        /* a copy: OpenSSL changes a session a TLS 1.3 connection resumed (single use), which
         * would spoil it for the other connections */
        pthread_mutex_lock(&c->mu);
        SSL_SESSION *s = c->session ? SSL_SESSION_dup(c->session) : NULL;
        pthread_mutex_unlock(&c->mu);
        if (s) {
            ok = SSL_set_session(t->ssl, s);
            SSL_SESSION_free(s);
        }
    }
    if (!ok) {
        ERR_clear_error();
        tls_conn_free(t);
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    *state = t;
    return fd;
}

/* 1 once the handshake is done, else -1 with errno (EAGAIN while it goes on). */
static int tls_ready(struct tls_conn *t, bool writing)
{
    int r = tls_conn_handshake(t);
    if (r == 1)
        return 1;
    if (r == 0) {
        /* a write waits for the server's flight unless the handshake waits to write */
        if (writing && !t->rd_wants_write)
            t->wr_wants_read = true;
        errno = EAGAIN;
    } else {
        errno = ECONNRESET; /* a failed handshake, verification included */
    }
    return -1;
}

static ssize_t tls_read(int fd, void *state, void *buf, size_t len)
{
    (void)fd;
    struct tls_conn *t = state;
    if (!t->established && tls_ready(t, false) != 1)
        return -1;
    return tls_conn_recv(t, buf, len);
}

static ssize_t tls_write(int fd, void *state, const void *buf, size_t len)
{
    (void)fd;
    struct tls_conn *t = state;
    if (!t->established && tls_ready(t, true) != 1)
        return -1;
    return tls_conn_send(t, buf, len);
}

static int tls_connected(int fd, void *state)
{
    int rc = sock_connect_result(fd);
    if (rc == 0 && tls_ready(state, false) == -1 && errno != EAGAIN)
        return ECONNRESET;
    return rc;
}

static uint32_t tls_events(void *state, uint32_t events)
{
    struct tls_conn *t = state;
    /* during the handshake any event may let it go on, and the write waiting for it (a
     * request queued at connect) must be tried before the read, which may finish it */
    if (!t->established && !(events & (EPOLLERR | EPOLLHUP)))
        return events | EPOLLIN | EPOLLOUT;
    bool readable = false, writable = false;
    tls_conn_events(state, events, &readable, &writable);
    return events | (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
}

static void tls_close(int fd, void *state)
{
    tls_conn_free(state);
    close(fd);
}

const struct transport_ops transport_tls = {
    .scheme = "https",
    .ctx_new = tls_ctx_new,
    .ctx_free = tls_ctx_free,
    .open = tls_open,
    .read = tls_read,
    .write = tls_write,
    .connected = tls_connected,
    .events = tls_events,
    .close = tls_close,
};

/* transport.h — how a load connection moves bytes: an ops struct per transport, found in an
 * explicit registry by URL scheme (plain TCP for http, TLS for https).
 *
 * A transport has a run-wide context (ctx_new: for TLS the SSL_CTX, the verification
 * settings and the session kept for resumption) and per-connection state. TLS's open() starts
 * the TCP connect, connected() sends the ClientHello, and read()/write() finish the handshake
 * first, returning -1/EAGAIN until it is done, so conn.c never needs to know which transport it
 * uses. events() turns the socket's readiness into the readiness a waiting call needs (TLS
 * may have to read while writing). Connection calls come from the connection's worker thread
 * only; a context is shared by the workers. */
#ifndef WEIR_LOAD_TRANSPORT_H
#define WEIR_LOAD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct transport_opts {
    const char *host;  /* the URL's host: SNI and the name verified (an IP: no SNI) */
    const char *ca;    /* PEM bundle to verify against; NULL: the system's store */
    bool insecure;     /* do not verify the server's certificate */
};

struct transport_ops {
    const char *scheme; /* "http", "https" */
    /* The run-wide context, or NULL with err written (for TCP: a non-NULL dummy). */
    void *(*ctx_new)(const struct transport_opts *o, char *err, size_t errlen);
    void (*ctx_free)(void *ctx);
    /* Starts a non-blocking connect; returns the fd, or -1 with errno set. *state is the
     * transport's per-connection state (NULL for TCP). */
    int (*open)(void *ctx, const struct sockaddr *sa, socklen_t salen, void **state);
    /* read(2)/write(2) semantics: bytes, 0 at EOF (read), -1 with errno (EAGAIN included). */
    ssize_t (*read)(int fd, void *state, void *buf, size_t len);
    ssize_t (*write)(int fd, void *state, const void *buf, size_t len);
    /* 0 once the connect finished well, else its errno. */
    int (*connected)(int fd, void *state);
    /* The epoll events seen, plus those a waiting call gets from them. */
    uint32_t (*events)(void *state, uint32_t events);
    void (*close)(int fd, void *state);
};

/* The transport for a URL scheme (tls: https), or NULL when none is built in. */
const struct transport_ops *transport_find(bool tls);

/* transport_tls.c: the https entry of the registry. */
extern const struct transport_ops transport_tls;

#endif

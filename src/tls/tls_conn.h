/* tls_conn.h — one TLS connection over a non-blocking socket: the handshake and read/write
 * calls with the errno conventions of recv/send, so the proxy's loops (read until EAGAIN or a
 * short read, write until EAGAIN or a short write, edge-triggered epoll) work unchanged:
 * - a read fills the buffer from as many records as the socket has, so a short read still
 *   means the socket is drained; 0 is the end (close_notify, or an EOF: HTTP frames its own
 *   messages, like nginx); -1 with EAGAIN when OpenSSL waits for the socket. OpenSSL reads
 *   ahead (one read(2) takes all the socket has, up to its buffer) and a callback on the
 *   socket BIO notes when a read came back short: then the socket is drained and the call
 *   returns without the extra read(2) that would only say EAGAIN — a kept-alive request
 *   costs the same system calls as on plain TCP;
 * - a write encrypts and sends until everything went or the socket is full (a short count);
 *   the bytes not taken must be offered again, first, on the next call (OpenSSL's rule for
 *   a record it already built), which the proxy's buffers do by construction;
 * - OpenSSL may need to write while reading (a key update) or read while writing: the
 *   caller's event handler calls tls_conn_events, which turns the other direction's event
 *   into the readiness the waiting call needs.
 * Worker thread; the SSL object is this connection's alone. */
#ifndef WEIR_TLS_TLS_CONN_H
#define WEIR_TLS_TLS_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

#include "tls/tls_stats.h"

/* ALPN's wire form of the protocols weir speaks (h2 on listeners with `http2: true`). */
#define TLS_ALPN_HTTP11 "\x08http/1.1"
#define TLS_ALPN_H2 "\x02h2"

/* A connection that is no socket (an HTTP/2 stream's lane, src/h2/h2_stream.c): the calls
 * below go to these functions with the same return and errno conventions; ssl is NULL. */
struct tls_vt {
    ssize_t (*recv)(void *arg, void *buf, size_t len);
    ssize_t (*sendv)(void *arg, const struct iovec *iov, int n);
    void (*close)(void *arg);    /* from tls_conn_free: the connection is gone */
};

struct tls_conn {
    SSL *ssl;
    const struct tls_vt *vt;      /* non-NULL: a virtual connection (ssl NULL) */
    void *vt_arg;
    bool rd_wants_write;          /* a read waits for the socket to take bytes */
    bool wr_wants_read;           /* a write waits for bytes from the peer */
    bool established;             /* the handshake finished */
    bool ktls_tx;                 /* the kernel encrypts what we send (KTLS) */
    bool broken;                  /* a fatal TLS error after the handshake */
    bool drained;                 /* the last socket read returned less than asked */
    void **session_slot;          /* client side: where a session the server issues goes
                                     (an SSL_SESSION *, owned by the slot's holder) */
    enum tls_fail fail;           /* why the handshake failed */
    char why[160];                /* the same in words, for the log */
};

/* A connection over fd from a context; accept (server) or connect (client) side. NULL on
 * out of memory. */
struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd, bool server);
void tls_conn_free(struct tls_conn *t);
/* A virtual connection over vt (established, never TLS). NULL on out of memory. */
struct tls_conn *tls_conn_virtual(const struct tls_vt *vt, void *arg);

/* Drives the handshake: 1 done, 0 waiting for the socket (the wants flags say which way),
 * -1 failed (t->fail, t->why). Counts finished server handshakes in tls_stats. */
int tls_conn_handshake(struct tls_conn *t);

ssize_t tls_conn_recv(struct tls_conn *t, void *buf, size_t len);
ssize_t tls_conn_send(struct tls_conn *t, const void *buf, size_t len);
ssize_t tls_conn_sendv(struct tls_conn *t, const struct iovec *iov, int n);
/* From a file at *off (advanced): through the kernel (KTLS) when it encrypts, else read in
 * pieces and encrypted here. */
ssize_t tls_conn_sendfile(struct tls_conn *t, int fd, off_t *off, size_t len);
/* An idle (pooled) connection became readable: true when that was only TLS messages without
 * bytes (session tickets, a key update), false for bytes nobody asked for, an end or an
 * error (the caller closes it). */
bool tls_conn_idle_ok(struct tls_conn *t);
/* Sends close_notify (best effort, never blocks). */
void tls_conn_shutdown(struct tls_conn *t);

/* Event bits seen on the socket (EPOLLIN / EPOLLOUT): sets *readable / *writable for a call
 * that waits on the other direction. */
static inline void tls_conn_events(struct tls_conn *t, uint32_t events, bool *readable,
                                   bool *writable)
{
    if (t->wr_wants_read && (events & EPOLLIN))
        *writable = true;
    if (t->rd_wants_write && (events & EPOLLOUT))
        *readable = true;
}

/* "TLSv1.3", the cipher's name, the SNI sent ("" when none) — for the access log. */
const char *tls_conn_protocol(const struct tls_conn *t);
const char *tls_conn_cipher(const struct tls_conn *t);
const char *tls_conn_sni(const struct tls_conn *t);
/* The handshake agreed on ALPN h2. */
bool tls_conn_is_h2(const struct tls_conn *t);

#endif

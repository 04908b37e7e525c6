/* tls_io.h — the one read/write interface of the proxy's connections: plain TCP goes straight
 * to the system call (one predictable branch on the connection's tls pointer), TLS through
 * tls_conn.h with the same return and errno conventions. Nothing is copied on the plain
 * path. */
#ifndef WEIR_TLS_TLS_IO_H
#define WEIR_TLS_TLS_IO_H

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tls/tls_conn.h"

static inline ssize_t tls_io_recv(int fd, struct tls_conn *t, void *buf, size_t len)
{
    if (__builtin_expect(t != NULL, 0))
        return tls_conn_recv(t, buf, len);
    return recv(fd, buf, len, 0);
}

/* flags: more send(2) flags for plain TCP (MSG_MORE); TLS records ignore them. */
static inline ssize_t tls_io_send(int fd, struct tls_conn *t, const void *buf, size_t len,
                                  int flags)
{
    if (__builtin_expect(t != NULL, 0))
        return tls_conn_send(t, buf, len);
    return send(fd, buf, len, MSG_NOSIGNAL | flags);
}

/* send() for one buffer (no iovec import in the kernel), writev() for more. */
static inline ssize_t tls_io_sendv(int fd, struct tls_conn *t, const struct iovec *iov, int n)
{
    if (__builtin_expect(t != NULL, 0))
        return tls_conn_sendv(t, iov, n);
    if (n == 1)
        return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    return writev(fd, iov, n);
}

static inline ssize_t tls_io_sendfile(int fd, struct tls_conn *t, int in_fd, off_t *off,
                                      size_t len)
{
    if (__builtin_expect(t != NULL, 0))
        return tls_conn_sendfile(t, in_fd, off, len);
    return sendfile(fd, in_fd, off, len);
}

#endif

/* transport.h — how a load connection moves bytes: an ops struct per transport.
 *
 * Plain TCP is the only one today. A TLS transport (issue 10) slots in as a second entry of
 * transport_registry: its open() starts the TCP connect and its read()/write() run the handshake
 * first and return -1/EAGAIN until it is done, so conn.c never needs to know which one it uses.
 * Calls come from the connection's worker thread only. */
#ifndef WEIR_LOAD_TRANSPORT_H
#define WEIR_LOAD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct transport_ops {
    const char *scheme; /* "http" */
    /* Starts a non-blocking connect; returns the fd, or -1 with errno set. *state is the
     * transport's per-connection state (NULL for TCP). */
    int (*open)(const struct sockaddr *sa, socklen_t salen, void **state);
    /* read(2)/write(2) semantics: bytes, 0 at EOF (read), -1 with errno (EAGAIN included). */
    ssize_t (*read)(int fd, void *state, void *buf, size_t len);
    ssize_t (*write)(int fd, void *state, const void *buf, size_t len);
    /* 0 once the connect finished well, else its errno. */
    int (*connected)(int fd, void *state);
    void (*close)(int fd, void *state);
};

/* The transport for a URL scheme ("http"), or NULL when none is built in. */
const struct transport_ops *transport_find(bool tls);

#endif

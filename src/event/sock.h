/* sock.h — socket helpers: listeners, non-blocking connects, peer names.
 * Thread-safe (no shared state); none of them blocks. */
#ifndef WEIR_EVENT_SOCK_H
#define WEIR_EVENT_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

/* Creates a non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT (so each worker
 * can have its own). Returns the fd, or -1 with errno set. */
int sock_listen(const struct sockaddr *sa, socklen_t salen, int backlog);

/* Starts a non-blocking TCP connect with TCP_NODELAY. Returns the fd (connected or in
 * progress: wait for writability, then sock_connect_result), or -1 with errno set. */
int sock_connect(const struct sockaddr *sa, socklen_t salen);

/* 0 when the pending connect succeeded, else the errno it failed with. */
int sock_connect_result(int fd);

/* Failures whose cause is this process or host, not the peer: out of descriptors (the
 * process's or the system's), memory, buffer space, local ports, or epoll watches. An upstream
 * connect that fails this way says nothing about the server. */
enum sock_local_error {
    SOCK_LOCAL_EMFILE,
    SOCK_LOCAL_ENFILE,
    SOCK_LOCAL_ENOMEM,
    SOCK_LOCAL_ENOBUFS,
    SOCK_LOCAL_EADDRNOTAVAIL,
    SOCK_LOCAL_ENOSPC,
    SOCK_LOCAL_KINDS
};

/* The kind of errno value err, or -1 when it is not a local shortage. */
int sock_local_error(int err);

/* How many TCP sockets of this network namespace listen on the local port of listening socket
 * fd (any address, IPv4 and IPv6), asked of the kernel's socket diagnostics (netlink). -1 when
 * it cannot tell. Blocking: for rare events (a graceful stop, on the main thread), never per
 * request. */
int sock_port_listeners(int fd);
/* The lower-case errno name of a kind ("emfile"), for metric labels. */
const char *sock_local_error_name(enum sock_local_error kind);

/* Formats the address part only ("127.0.0.1", "::1") into buf. */
void sock_ntop(const struct sockaddr_storage *ss, char *buf, size_t len);

/* Formats "ip:port" ("[::1]:80" for IPv6). */
void sock_ntop_port(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif

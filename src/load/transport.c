/* transport.c — plain TCP for load connections, and the registry a TLS transport joins. */
#include "load/transport.h"

#include <errno.h>
#include <unistd.h>

#include "event/sock.h"

static int tcp_open(const struct sockaddr *sa, socklen_t salen, void **state)
{
    *state = NULL;
    return sock_connect(sa, salen);
}

static ssize_t tcp_read(int fd, void *state, void *buf, size_t len)
{
    (void)state;
    return read(fd, buf, len);
}

static ssize_t tcp_write(int fd, void *state, const void *buf, size_t len)
{
    (void)state;
    return write(fd, buf, len);
}

static int tcp_connected(int fd, void *state)
{
    (void)state;
    return sock_connect_result(fd);
}

static void tcp_close(int fd, void *state)
{
    (void)state;
    close(fd);
}

static const struct transport_ops transport_tcp = {
    .scheme = "http",
    .open = tcp_open,
    .read = tcp_read,
    .write = tcp_write,
    .connected = tcp_connected,
    .close = tcp_close,
};

/* [tls] = the transport for https: none until a TLS transport is built (issue 10). */
static const struct transport_ops *const transport_registry[2] = {
    [0] = &transport_tcp,
    [1] = NULL,
};

const struct transport_ops *transport_find(bool tls)
{
    return transport_registry[tls ? 1 : 0];
}

/* transport.c — plain TCP for load connections, and the registry by scheme. */
#include "load/transport.h"

#include <errno.h>
#include <unistd.h>

#include "event/sock.h"

static void *tcp_ctx_new(const struct transport_opts *o, char *err, size_t errlen)
{
    (void)o;
    (void)err;
    (void)errlen;
    static char none;
    return &none;
}

static void tcp_ctx_free(void *ctx)
{
    (void)ctx;
}

static int tcp_open(void *ctx, const struct sockaddr *sa, socklen_t salen, void **state)
{
    (void)ctx;
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

static uint32_t tcp_events(void *state, uint32_t events)
{
    (void)state;
    return events;
}

static void tcp_close(int fd, void *state)
{
    (void)state;
    close(fd);
}

static const struct transport_ops transport_tcp = {
    .scheme = "http",
    .ctx_new = tcp_ctx_new,
    .ctx_free = tcp_ctx_free,
    .open = tcp_open,
    .read = tcp_read,
    .write = tcp_write,
    .connected = tcp_connected,
    .events = tcp_events,
    .close = tcp_close,
};

/* [tls] = the transport for https */
static const struct transport_ops *const transport_registry[2] = {
    [0] = &transport_tcp,
    [1] = &transport_tls,
};

const struct transport_ops *transport_find(bool tls)
{
    return transport_registry[tls ? 1 : 0];
}

/* tunnel.c — the WebSocket tunnel after a 101: bytes both ways until either side closes. */
#include <errno.h>
#include <unistd.h>

#include "proxy/client.h"
#include "proxy/exchange.h"
#include "proxy/upstream.h"
#include "tls/tls_io.h"


/* Moves bytes from `from` (with its buffer) to `to`. Returns progress, or -1 when a side is
 * finished (EOF or error) and everything read from it has been delivered. */
static int tunnel_move(int from_fd, struct tls_conn *from_tls, bool *from_readable,
                       bool *from_eof, struct buf *b, int to_fd, struct tls_conn *to_tls,
                       bool *to_writable)
{
    int progress = 0;
    for (;;) {
        if (b->len && *to_writable) {
            ssize_t w = tls_io_send(to_fd, to_tls, buf_head(b), b->len, 0);
            if (w == -1) {
                if (errno != EAGAIN && errno != EINTR)
                    return -1;
                *to_writable = false;
            } else {
                buf_consume(b, (uint32_t)w);
                progress = 1;
                if (b->len)
                    *to_writable = false;
            }
        }
        if (b->len == 0 && *from_eof)
            return -1;
        if (!*from_readable || *from_eof || buf_room(b) == 0)
            break;
        ssize_t n = tls_io_recv(from_fd, from_tls, buf_tail(b), buf_room(b));
        if (n > 0) {
            b->len += (uint32_t)n;
            progress = 1;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            *from_eof = true;
        } else {
            *from_readable = false;
        }
        if (!b->len && !*from_eof)
            break;
    }
    return progress;
}

void tunnel_pump(struct client *c)
{
    struct upconn *u = c->x->up;
    if (c->out.len) {
        int r = client_flush_out(c);
        if (r < 0) {
            client_abort(c);
            return;
        }
        if (r > 0)
            return;
    }
    int a = tunnel_move(c->io.fd, c->tls, &c->readable, &c->eof, &c->in, u->io.fd, u->tls,
                        &u->writable);
    int b = tunnel_move(u->io.fd, u->tls, &u->readable, &u->eof, &u->in, c->io.fd, c->tls,
                        &c->writable);
    if (a < 0 || b < 0) {
        client_abort(c); /* either side closed: the tunnel ends */
        return;
    }
    upconn_arm(u, group_of(c)->idle_timeout_ms);
}

void tunnel_start(struct client *c)
{
    timer_disarm(&c->w->loop.timers, &c->x->total_timer);
    attempt_release_server(c, false); /* a tunnel is not an in-flight request */
    c->state = CS_TUNNEL;
    c->closing = true;
    timer_disarm(&c->w->loop.timers, &c->timer);
    tunnel_pump(c);
}

/* redis_tunnel.c — see redis_tunnel.h.
 *
 * Both sockets are registered once, edge-triggered, for reading; for writing (EPOLLOUT) only
 * while a write found no room, and Redis's through its connect and handshake. Each side keeps
 * what its last events and calls said (may read, may write: set by an event, cleared by EAGAIN
 * or a short count), so no call is made only to hear EAGAIN. Every event runs pump(), which moves
 * bytes both ways until nothing moves: a side is read while it may be and its buffer has
 * room, written while it may be and its buffer has bytes. A buffer that empties re-opens
 * reading its side in the same pass, so no edge is lost. */
#include "state/redis_tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/async.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tls/tls_client.h"

struct tbuf {
    size_t off, len;              /* bytes [off, len) wait to go */
    char b[TUNNEL_BUF];
};

struct redis_tunnel {
    struct ev_io in_io;           /* first: our end of hiredis' unix socket */
    struct ev_io out_io;          /* the TCP connection to Redis */
    struct ev_loop *loop;
    struct tls_conn *tls;
    int ifd, ofd;
    bool connecting;              /* the TCP connect is in progress */
    bool in_rd, in_wr;            /* the unix end may have bytes / may take bytes */
    bool out_rd, out_wr;          /* the same for the TLS connection (edge-triggered: true
                                     until a call says EAGAIN or comes back short) */
    bool in_pollout, out_pollout; /* EPOLLOUT registered: only while a write waits for room
                                     (or the connect / handshake for Redis) */
    bool dead;                    /* failed or freed: both ends closed */
    char why[192];
    struct tbuf up;               /* hiredis → Redis */
    struct tbuf down;             /* Redis → hiredis */
};

static void fail(struct redis_tunnel *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void close_all(struct redis_tunnel *t)
{
    t->dead = true;
    tls_conn_free(t->tls);
    t->tls = NULL;
    if (t->ifd >= 0)
        close(t->ifd); /* hiredis reads the end of its connection */
    if (t->ofd >= 0)
        close(t->ofd);
    t->ifd = t->ofd = -1;
}

static void fail(struct redis_tunnel *t, const char *fmt, ...)
{
    if (t->dead)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->why, sizeof(t->why), fmt, ap);
    va_end(ap);
    close_all(t);
}

const char *redis_tunnel_why(const struct redis_tunnel *t)
{
    return t ? t->why : "";
}

static bool again(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/* Room at the end: the bytes still to go move to the front. */
static void tbuf_compact(struct tbuf *b)
{
    if (!b->off)
        return;
    memmove(b->b, b->b + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

/* One pass each way; true when a byte moved. */
static bool move_up(struct redis_tunnel *t)
{
    struct tbuf *u = &t->up;
    bool moved = false;
    if (t->in_rd && u->len < TUNNEL_BUF) {
        tbuf_compact(u); /* what OpenSSL did not take stays first (its retry rule) */
        size_t room = TUNNEL_BUF - u->len;
        ssize_t n = read(t->ifd, u->b + u->len, room);
        if (n > 0) {
            u->len += (size_t)n;
            moved = true;
            t->in_rd = (size_t)n == room; /* short: drained */
        } else if (n == 0 || !again()) {
            fail(t, "the local side closed");
            return false;
        } else {
            t->in_rd = false;
        }
    }
    if (t->out_wr && u->off < u->len) {
        ssize_t n = tls_conn_send(t->tls, u->b + u->off, u->len - u->off);
        if (n > 0) {
            u->off += (size_t)n;
            moved = true;
            t->out_wr = u->off == u->len;
            if (u->off == u->len)
                u->off = u->len = 0;
        } else if (n < 0 && !again()) {
            fail(t, "TLS write: %s", t->tls->why[0] ? t->tls->why : strerror(errno));
            return false;
        } else {
            t->out_wr = false;
        }
    }
    return moved;
}

static bool move_down(struct redis_tunnel *t)
{
    struct tbuf *d = &t->down;
    bool moved = false;
    if (t->out_rd && d->len < TUNNEL_BUF) {
        tbuf_compact(d);
        size_t room = TUNNEL_BUF - d->len;
        ssize_t n = tls_conn_recv(t->tls, d->b + d->len, room);
        if (n > 0) {
            d->len += (size_t)n;
            moved = true;
            t->out_rd = (size_t)n == room;
        } else if (n == 0) {
            fail(t, "Redis closed the connection");
            return false;
        } else if (!again()) {
            fail(t, "TLS read: %s", t->tls->why[0] ? t->tls->why : strerror(errno));
            return false;
        } else {
            t->out_rd = false;
        }
    }
    if (t->in_wr && d->off < d->len) {
        ssize_t n = send(t->ifd, d->b + d->off, d->len - d->off, MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (size_t)n;
            moved = true;
            t->in_wr = d->off == d->len;
            if (d->off == d->len)
                d->off = d->len = 0;
        } else if (n < 0 && !again()) {
            fail(t, "the local side closed");
            return false;
        } else {
            t->in_wr = false;
        }
    }
    return moved;
}

static void pump_once(struct redis_tunnel *t)
{
    if (t->dead || t->connecting)
        return;
    if (!t->tls->established) {
        int r = tls_conn_handshake(t->tls);
        if (r < 0)
            return fail(t, "TLS handshake: %s", t->tls->why);
        if (r == 0)
            return;
        t->out_rd = t->out_wr = true; /* unknown after the handshake's own reads and writes */
    }
    for (;;) {
        bool up = move_up(t);
        if (t->dead)
            return;
        bool down = move_down(t);
        if (t->dead || (!up && !down))
            return;
    }
}

static void pollout_update(struct redis_tunnel *t);

static void pump(struct redis_tunnel *t)
{
    pump_once(t);
    pollout_update(t);
}

static const uint32_t EV_RD = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
static const uint32_t EV_WR = EPOLLOUT | EPOLLHUP | EPOLLERR;
static const uint32_t EV_BASE = EPOLLIN | EPOLLRDHUP | EPOLLET;

/* EPOLLOUT on io while `need`; off, a write is simply tried (*wr true) and turns it on again
 * if it finds no room. Turning it on reports a socket already writable (epoll re-checks). */
static void pollout(struct redis_tunnel *t, struct ev_io *io, bool *on, bool *wr, bool need)
{
    if (need == *on || ev_io_mod(t->loop, io, EV_BASE | (need ? EPOLLOUT : 0)) != 0)
        return;
    *on = need;
    if (!need)
        *wr = true;
}

/* After a pump: each socket waits for room only when a write found none, Redis's also
 * through its connect and handshake, or while a TLS read waits to write. */
static void pollout_update(struct redis_tunnel *t)
{
    if (t->dead)
        return;
    pollout(t, &t->in_io, &t->in_pollout, &t->in_wr, !t->in_wr);
    bool out = t->connecting || !t->tls->established || !t->out_wr || t->tls->rd_wants_write;
    pollout(t, &t->out_io, &t->out_pollout, &t->out_wr, out);
}

static void in_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct redis_tunnel *t = (struct redis_tunnel *)io;
    t->in_rd |= (events & EV_RD) != 0;
    t->in_wr |= (events & EV_WR) != 0;
    pump(t);
}

static void out_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct redis_tunnel *t =
        (struct redis_tunnel *)(void *)((char *)io - offsetof(struct redis_tunnel, out_io));
    if (t->dead)
        return;
    if (t->connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(t->ofd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err)
            return fail(t, "connect: %s", strerror(err));
        t->connecting = false;
    }
    t->out_rd |= (events & EV_RD) != 0;
    t->out_wr |= (events & EV_WR) != 0;
    if (t->tls->established) /* a read that waits to write, or the other way round */
        tls_conn_events(t->tls, events, &t->out_rd, &t->out_wr);
    pump(t);
}

/* hiredis' asynchronous connect to a private socket, accepted here: our end in *ifd. */
static redisAsyncContext *connect_private(int *ifd)
{
    const char *tmp = getenv("TMPDIR");
    char dir[96], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (!tmp || !*tmp || strlen(tmp) > 64)
        tmp = "/tmp";
    snprintf(dir, sizeof(dir), "%.64s/weir-redis-XXXXXX", tmp);
    if (!mkdtemp(dir)) /* mode 0700: only this user may reach the socket */
        return NULL;
    snprintf(path, sizeof(path), "%.90s/s", dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    redisAsyncContext *ac = NULL;
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    *ifd = -1;
    if (lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 1) == 0) {
        ac = redisAsyncConnectUnix(path); /* a unix connect is queued at once */
        if (ac && !ac->err)
            *ifd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    if (lfd >= 0)
        close(lfd);
    unlink(path);
    rmdir(dir);
    struct ucred cr;
    socklen_t crlen = sizeof(cr);
    if (*ifd >= 0 && (getsockopt(*ifd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
                      cr.pid != getpid())) {
        close(*ifd); /* someone else's connection: not ours to bridge */
        *ifd = -1;
    }
    if (*ifd < 0 && ac) {
        redisAsyncFree(ac);
        ac = NULL;
    }
    return ac;
}

/* A non-blocking TCP connect to a's host:port: the fd, or -1. *inprogress when not yet. */
static int connect_tcp(const struct cfg_state_addr *st, bool *inprogress)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, st->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(st->port);
        len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, st->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(st->port);
        len = sizeof(*s6);
    } else {
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *inprogress = false;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        *inprogress = true;
    }
    return fd;
}

struct redis_tunnel *redis_tunnel_open(struct ev_loop *loop, const struct cfg_state_addr *a,
                                       const struct tls_client *tc, void **session_slot,
                                       struct redisAsyncContext **ac)
{
    *ac = NULL;
    struct redis_tunnel *t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    t->loop = loop;
    t->tls = NULL;
    t->dead = false;
    t->in_rd = t->in_wr = t->out_rd = t->out_wr = true;
    t->why[0] = '\0';
    t->up.off = t->up.len = t->down.off = t->down.len = 0;
    t->in_io = (struct ev_io){.fd = -1};
    t->out_io = (struct ev_io){.fd = -1};
    t->ofd = connect_tcp(a, &t->connecting);
    redisAsyncContext *c = t->ofd >= 0 ? connect_private(&t->ifd) : NULL;
    if (!c) {
        if (t->ofd >= 0)
            close(t->ofd);
        free(t);
        return NULL;
    }
    t->in_pollout = false;
    t->out_pollout = true; /* to hear the connect */
    if (!(t->tls = tls_client_conn(tc, t->ofd, a->text, session_slot)) ||
        ev_io_add_events(loop, &t->in_io, t->ifd, in_cb, EV_BASE) != 0 ||
        ev_io_add_events(loop, &t->out_io, t->ofd, out_cb, EV_BASE | EPOLLOUT) != 0) {
        close_all(t);
        redisAsyncFree(c);
        free(t);
        return NULL;
    }
    *ac = c;
    return t;
}

void redis_tunnel_free(struct redis_tunnel *t)
{
    if (!t)
        return;
    if (!t->dead && t->tls->established)
        tls_conn_shutdown(t->tls); /* close_notify, best effort: Redis sees a clean end */
    close_all(t);
    /* Events of this batch may still name it. */
    if (ev_defer(t->loop, free, t) != 0)
        free(t);
}

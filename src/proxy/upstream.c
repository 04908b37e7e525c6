/* upstream.c — see upstream.h. */
#include "proxy/upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "event/sock.h"
#include "proxy/dlist.h"
#include "proxy/forward.h"
#include "proxy/worker.h"

void pool_init(struct pool *p, struct worker *w, struct wconf *wc, const struct cfg_upstream *g,
               const struct cfg_server *s)
{
    *p = (struct pool){.w = w, .wc = wc, .group = g, .server = s};
    dlist_init(&p->idle);
}

static void upconn_free(void *arg)
{
    free(arg);
}

static void upconn_close(struct upconn *u)
{
    struct worker *w = u->w;
    if (u->closed)
        return;
    u->closed = true;
    timer_disarm(&w->loop.timers, &u->timer);
    if (!u->owner) {
        dlist_remove(&u->link);
        u->pool->nidle--;
    } else {
        u->pool->nbusy--;
    }
    u->pool->closed++;
    close(u->io.fd);
    u->io.fd = -1;
    worker_buf_put(w, u->in.data);
    u->in.data = NULL;
    /* Events for u may still be queued in this batch: free after it. */
    if (ev_defer(&w->loop, upconn_free, u) == -1)
        upconn_free(u); /* no later event can name it: fd is closed and io.fd is -1 */
}

void pool_close_idle(struct pool *p)
{
    while (!dlist_empty(&p->idle))
        upconn_close(container_of(p->idle.next, struct upconn, link));
}

static void on_upconn_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct upconn *u = (struct upconn *)io;
    if (!u->owner) {
        /* Idle: the server closed it or sent bytes nobody asked for. */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            upconn_close(u);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->rdhup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        u->writable = true;
    forward_upstream_event(u->owner);
}

static void on_upconn_timer(struct timer *t)
{
    struct upconn *u = container_of(t, struct upconn, timer);
    if (u->owner)
        forward_upstream_timeout(u->owner);
    else
        upconn_close(u);
}

void upconn_arm(struct upconn *u, uint32_t ms)
{
    timer_arm(&u->w->loop.timers, &u->timer, u->w->loop.now_ms + ms);
}

struct upconn *pool_acquire(struct pool *p, struct client *owner, bool fresh, int *err)
{
    struct worker *w = p->w;
    char *buf = worker_buf_get(w);
    if (!buf) {
        *err = ENOMEM;
        return NULL;
    }
    struct upconn *u;
    if (!fresh && !dlist_empty(&p->idle)) {
        u = container_of(p->idle.next, struct upconn, link);
        dlist_remove(&u->link);
        p->nidle--;
        p->reused++;
        timer_disarm(&w->loop.timers, &u->timer);
        u->reused = true;
    } else {
        u = calloc(1, sizeof(*u));
        if (!u) {
            worker_buf_put(w, buf);
            *err = ENOMEM;
            return NULL;
        }
        int fd = sock_connect((const struct sockaddr *)&p->server->addr.sa, p->server->addr.salen);
        if (fd == -1) {
            *err = errno;
            worker_buf_put(w, buf);
            free(u);
            return NULL;
        }
        u->w = w;
        u->pool = p;
        u->connecting = true;
        dlist_init(&u->link);
        timer_init(&u->timer, on_upconn_timer);
        if (ev_io_add(&w->loop, &u->io, fd, on_upconn_event, true) == -1) {
            *err = errno;
            close(fd);
            worker_buf_put(w, buf);
            free(u);
            return NULL;
        }
        p->created++;
    }
    u->owner = owner;
    u->in = (struct buf){.data = buf, .cap = WORKER_BUF_SIZE};
    u->eof = false;
    p->nbusy++;
    return u;
}

void upconn_release(struct upconn *u, bool reusable)
{
    struct pool *p = u->pool;
    const struct cfg_upstream *g = p->group;
    u->nrequests++;
    if (!reusable || u->eof || u->in.len || p->wc->retired || p->w->draining ||
        p->nidle >= g->keepalive ||
        (g->keepalive_requests && u->nrequests >= g->keepalive_requests)) {
        upconn_close(u);
        return;
    }
    p->nbusy--;
    u->owner = NULL;
    u->reused = false;
    u->readable = false;
    worker_buf_put(p->w, u->in.data);
    u->in.data = NULL;
    dlist_push_front(&p->idle, &u->link);
    p->nidle++;
    upconn_arm(u, g->keepalive_timeout_ms);
}

/* redis_ev.c — see redis_ev.h. */
#include "state/redis_ev.h"

#include <hiredis/async.h>

static uint32_t wanted(const struct redis_ev *e)
{
    return (e->reading ? EPOLLIN : 0) | (e->writing ? EPOLLOUT : 0);
}

/* Tells epoll what hiredis now wants (first call registers the fd). */
static void update(struct redis_ev *e)
{
    if (!e->ac)
        return;
    if (!e->registered) {
        if (ev_io_add_events(e->loop, &e->io, e->ac->c.fd, e->io.cb, wanted(e)) == 0)
            e->registered = true;
        return;
    }
    ev_io_mod(e->loop, &e->io, wanted(e));
}

static void add_read(void *p)
{
    struct redis_ev *e = p;
    if (!e->reading) {
        e->reading = true;
        update(e);
    }
}

static void del_read(void *p)
{
    struct redis_ev *e = p;
    if (e->reading) {
        e->reading = false;
        update(e);
    }
}

static void add_write(void *p)
{
    struct redis_ev *e = p;
    if (!e->writing) {
        e->writing = true;
        update(e);
    }
}

static void del_write(void *p)
{
    struct redis_ev *e = p;
    if (e->writing) {
        e->writing = false;
        update(e);
    }
}

/* hiredis is freeing the context (the fd is closed right after). */
static void cleanup(void *p)
{
    struct redis_ev *e = p;
    if (e->registered)
        ev_io_del(e->loop, &e->io);
    e->registered = e->reading = e->writing = false;
    e->ac = NULL;
}

static void io_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct redis_ev *e = (struct redis_ev *)io;
    bool err = events & (EPOLLERR | EPOLLHUP);
    /* A read may end in hiredis freeing the context (cleanup sets e->ac NULL). */
    if (e->ac && e->reading && (events & EPOLLIN || err))
        redisAsyncHandleRead(e->ac);
    if (e->ac && e->writing && (events & EPOLLOUT || err))
        redisAsyncHandleWrite(e->ac);
}

int redis_ev_attach(struct redis_ev *e, struct ev_loop *loop, struct redisAsyncContext *ac)
{
    if (ac->ev.data)
        return -1;
    *e = (struct redis_ev){.loop = loop, .ac = ac, .io = {.fd = -1, .cb = io_cb}};
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

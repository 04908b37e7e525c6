/* redis_ev.c — see redis_ev.h. */
#include "state/redis_ev.h"

#include <hiredis/async.h>

/* Tells epoll what we now need (the first call registers the fd). */
static void update(struct redis_ev *e)
{
    if (!e->ac)
        return;
    bool connected = e->ac->c.flags & REDIS_CONNECTED;
    /* EPOLLOUT: to learn that a connect finished, or that a full socket drained. */
    bool out = e->writing && (!connected || e->out_on);
    uint32_t ev = EPOLLIN | (out ? EPOLLOUT : 0);
    if (!e->registered) {
        if (ev_io_add_events(e->loop, &e->io, e->ac->c.fd, e->io.cb, ev) == 0) {
            e->registered = true;
            e->out_on = out;
        }
        return;
    }
    if (out != e->out_on && ev_io_mod(e->loop, &e->io, ev) == 0)
        e->out_on = out;
}

static void add_read(void *p)
{
    struct redis_ev *e = p;
    e->reading = true;
    if (!e->registered)
        update(e);
}

static void del_read(void *p)
{
    struct redis_ev *e = p;
    e->reading = false; /* the fd stays registered; events are ignored until add_read */
}

/* After the batch: write what hiredis queued in it, in one go. */
static void flush(void *p)
{
    struct redis_ev *e = p;
    e->flush_pending = false;
    if (!e->ac || !e->writing || !(e->ac->c.flags & REDIS_CONNECTED) || e->out_on)
        return;
    redisAsyncHandleWrite(e->ac);
    /* The socket took only part (hiredis still wants to write): wait for it to drain. */
    if (e->ac && e->writing && !e->out_on && ev_io_mod(e->loop, &e->io, EPOLLIN | EPOLLOUT) == 0)
        e->out_on = true;
}

static void add_write(void *p)
{
    struct redis_ev *e = p;
    e->writing = true;
    if (!e->ac)
        return;
    if (!(e->ac->c.flags & REDIS_CONNECTED) || !e->registered) {
        update(e);
        return;
    }
    if (!e->out_on && !e->flush_pending) {
        if (ev_defer(e->loop, flush, e) == 0)
            e->flush_pending = true;
        else
            update(e); /* out of memory: fall back to EPOLLOUT */
    }
}

static void del_write(void *p)
{
    struct redis_ev *e = p;
    e->writing = false;
    if (e->out_on)
        update(e);
}

/* hiredis is freeing the context (the fd is closed right after). */
static void cleanup(void *p)
{
    struct redis_ev *e = p;
    if (e->registered)
        ev_io_del(e->loop, &e->io);
    e->registered = e->reading = e->writing = e->out_on = false;
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
    if (e->ac && e->writing && (events & EPOLLOUT || err)) {
        redisAsyncHandleWrite(e->ac); /* completes a connect; del_write turns EPOLLOUT off */
        if (e->ac && !e->writing && e->out_on)
            update(e);
    }
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

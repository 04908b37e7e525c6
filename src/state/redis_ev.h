/* redis_ev.h — hiredis' asynchronous API driven by weir's own reactor (event/loop.h).
 *
 * hiredis says when it wants to read or write through five hooks (ev.addRead, delRead,
 * addWrite, delWrite, cleanup); this adapter maps them onto one ev_io of the loop, registered
 * level-triggered (hiredis reads one buffer per call and cannot say whether the socket is
 * drained, so edge-triggered would lose replies). Interest changes with epoll_ctl only when
 * hiredis' wish changes: reading stays on for the connection's life, writing is on while a
 * command waits to be sent. One thread: the loop's. */
#ifndef WEIR_STATE_REDIS_EV_H
#define WEIR_STATE_REDIS_EV_H

#include <stdbool.h>

#include "event/loop.h"

struct redisAsyncContext;

struct redis_ev {
    struct ev_io io;                 /* first: the loop's callback finds us from it */
    struct ev_loop *loop;
    struct redisAsyncContext *ac;    /* NULL once hiredis cleaned up */
    bool reading, writing, registered;
};

/* Hooks ac's events onto loop. e must stay put until the cleanup hook ran (redisAsyncFree, or
 * hiredis freeing the context after a disconnect). Returns 0, or -1 (ac already has hooks). */
int redis_ev_attach(struct redis_ev *e, struct ev_loop *loop, struct redisAsyncContext *ac);

#endif

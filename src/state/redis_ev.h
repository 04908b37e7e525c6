/* redis_ev.h — hiredis' asynchronous API driven by weir's own reactor (event/loop.h).
 *
 * hiredis says when it wants to read or write through five hooks (ev.addRead, delRead,
 * addWrite, delWrite, cleanup); this adapter maps them onto one ev_io of the loop.
 * Reading: the socket is registered once, level-triggered for EPOLLIN (hiredis reads one buffer
 * per call and cannot say whether the socket is drained, so edge-triggered could strand
 * replies). Writing: a command queued by hiredis is written after the current batch of events
 * (ev_defer), so the commands of one batch go out in one write() — pipelined — and no epoll_ctl
 * or extra loop turn is spent per command. Only while the socket connects, or when a write
 * could not take everything (the kernel buffer is full), is EPOLLOUT added until hiredis has
 * written all. One thread: the loop's. */
#ifndef WEIR_STATE_REDIS_EV_H
#define WEIR_STATE_REDIS_EV_H

#include <stdbool.h>

#include "event/loop.h"

struct redisAsyncContext;

struct redis_ev {
    struct ev_io io;                 /* first: the loop's callback finds us from it */
    struct ev_loop *loop;
    struct redisAsyncContext *ac;    /* NULL once hiredis cleaned up */
    bool reading, writing;           /* what hiredis wants */
    bool registered, out_on;         /* in epoll; with EPOLLOUT */
    bool flush_pending;              /* a deferred write is queued: the owner must not free e
                                        before the loop ran it (free through ev_defer) */
};

/* Hooks ac's events onto loop. e must stay put until the cleanup hook ran (redisAsyncFree, or
 * hiredis freeing the context after a disconnect) and any deferred flush ran. Returns 0, or -1
 * (ac already has hooks). */
int redis_ev_attach(struct redis_ev *e, struct ev_loop *loop, struct redisAsyncContext *ac);

#endif

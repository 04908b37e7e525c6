/* loop.h — one epoll reactor per worker thread.
 *
 * Sockets are registered once, edge-triggered, for both directions; handlers keep their own
 * "readable"/"writable" flags and do I/O until EAGAIN (or a short read/write), so interest never
 * has to be changed with epoll_ctl on the hot path. Objects that may still be named by events
 * later in the same epoll_wait batch are freed through ev_defer(), which runs after the batch.
 * Everything here is called from the loop's own thread only. */
#ifndef WEIR_EVENT_LOOP_H
#define WEIR_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "event/timer.h"

struct ev_loop;
struct ev_io;

typedef void (*ev_io_cb)(struct ev_loop *loop, struct ev_io *io, uint32_t events);
typedef void (*ev_defer_cb)(void *arg);

struct ev_io {
    int fd;
    ev_io_cb cb;
};

struct ev_deferred {
    ev_defer_cb cb;
    void *arg;
};

#define EV_MAX_EVENTS 256

struct ev_loop {
    int epfd;
    bool stop;
    uint64_t now_ms;           /* CLOCK_MONOTONIC, updated after every epoll_wait */
    struct timer_wheel timers;
    struct ev_deferred *deferred;
    uint32_t ndeferred, deferred_cap;
    void (*before_poll)(struct ev_loop *loop, void *arg);
    void *before_poll_arg;
    struct epoll_event events[EV_MAX_EVENTS];
};

/* Returns 0, or -1 with errno set. */
int ev_loop_init(struct ev_loop *loop);
/* Runs what is still deferred, then releases the loop. */
void ev_loop_destroy(struct ev_loop *loop);

/* Runs until ev_loop_stop(); before_poll (if set) runs before every wait. */
void ev_loop_run(struct ev_loop *loop);

static inline void ev_loop_stop(struct ev_loop *loop)
{
    loop->stop = true;
}

/* Registers fd edge-triggered for EPOLLIN|EPOLLOUT|EPOLLRDHUP (both = true) or EPOLLIN only. */
int ev_io_add(struct ev_loop *loop, struct ev_io *io, int fd, ev_io_cb cb, bool both);
/* Registers fd with exactly `events` (level-triggered unless EPOLLET is in them), and changes
 * them later: for the rare socket whose interest does change (the Redis connection, whose
 * library says when it wants to write). */
int ev_io_add_events(struct ev_loop *loop, struct ev_io *io, int fd, ev_io_cb cb, uint32_t events);
int ev_io_mod(struct ev_loop *loop, struct ev_io *io, uint32_t events);
/* Unregisters (needed only if fd is not closed right after, e.g. a listener kept for later). */
void ev_io_del(struct ev_loop *loop, struct ev_io *io);

/* Runs cb(arg) after the current batch of events: for freeing objects events may still name,
 * and for work that gathers a batch (the Redis connection's writes). Deferred outside a batch,
 * it runs before the loop next waits.
 * Returns -1 when out of memory; cb is then never called (the caller decides: leak or abort). */
int ev_defer(struct ev_loop *loop, ev_defer_cb cb, void *arg);

/* Refreshes loop->now_ms and returns it. */
uint64_t ev_now_update(struct ev_loop *loop);

/* Monotonic clock in microseconds (vDSO; for latency figures). */
uint64_t ev_clock_us(void);

#endif

/* loop.c — epoll reactor; see loop.h for the contract. */
#include "event/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t ev_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ev_now_update(struct ev_loop *loop)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (now > loop->now_ms)
        loop->now_ms = now;
    return loop->now_ms;
}

int ev_loop_init(struct ev_loop *loop)
{
    *loop = (struct ev_loop){.epfd = -1};
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd == -1)
        return -1;
    ev_now_update(loop);
    timer_wheel_init(&loop->timers, loop->now_ms);
    return 0;
}

static void run_deferred(struct ev_loop *loop);

void ev_loop_destroy(struct ev_loop *loop)
{
    run_deferred(loop); /* frees queued after the last iteration */
    if (loop->epfd != -1)
        close(loop->epfd);
    loop->epfd = -1;
    free(loop->deferred);
    loop->deferred = NULL;
    loop->ndeferred = loop->deferred_cap = 0;
}

int ev_io_add(struct ev_loop *loop, struct ev_io *io, int fd, ev_io_cb cb, bool both)
{
    io->fd = fd;
    io->cb = cb;
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLRDHUP | EPOLLET | (both ? EPOLLOUT : 0),
        .data.ptr = io,
    };
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ev_io_add_events(struct ev_loop *loop, struct ev_io *io, int fd, ev_io_cb cb, uint32_t events)
{
    io->fd = fd;
    io->cb = cb;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ev_io_mod(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void ev_io_del(struct ev_loop *loop, struct ev_io *io)
{
    if (io->fd != -1)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int ev_defer(struct ev_loop *loop, ev_defer_cb cb, void *arg)
{
    if (loop->ndeferred == loop->deferred_cap) {
        uint32_t cap = loop->deferred_cap ? loop->deferred_cap * 2 : 64;
        struct ev_deferred *d = realloc(loop->deferred, cap * sizeof(*d));
        if (!d)
            return -1;
        loop->deferred = d;
        loop->deferred_cap = cap;
    }
    loop->deferred[loop->ndeferred++] = (struct ev_deferred){.cb = cb, .arg = arg};
    return 0;
}

static void run_deferred(struct ev_loop *loop)
{
    /* Deferred callbacks may defer more; run until the list is empty. */
    for (uint32_t i = 0; i < loop->ndeferred; i++)
        loop->deferred[i].cb(loop->deferred[i].arg);
    loop->ndeferred = 0;
}

void ev_loop_run(struct ev_loop *loop)
{
    while (!loop->stop) {
        run_deferred(loop); /* what was deferred outside a batch (before the first wait) */
        if (loop->before_poll)
            loop->before_poll(loop, loop->before_poll_arg);
        if (loop->stop)
            break;
        int timeout = timer_wheel_timeout(&loop->timers, loop->now_ms);
        int n = epoll_wait(loop->epfd, loop->events, EV_MAX_EVENTS, timeout);
        if (n == -1 && errno != EINTR)
            abort(); /* EBADF/EFAULT/EINVAL: a programming error */
        ev_now_update(loop);
        for (int i = 0; i < n; i++) {
            struct ev_io *io = loop->events[i].data.ptr;
            if (io->fd != -1)
                io->cb(loop, io, loop->events[i].events);
        }
        run_deferred(loop);
        timer_wheel_run(&loop->timers, loop->now_ms);
        run_deferred(loop);
    }
}

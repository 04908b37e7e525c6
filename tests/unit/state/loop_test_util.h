/* loop_test_util.h — a test's own event loop, run until a condition or a deadline, and a
 * listening socket on 127.0.0.1 for a fake server on it (the Redis connection tests). Include
 * after <cmocka.h>; one loop per test program (`loop`). */
#ifndef WEIR_TESTS_LOOP_TEST_UTIL_H
#define WEIR_TESTS_LOOP_TEST_UTIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "event/loop.h"

static struct ev_loop loop;
static bool (*until)(void);
static struct timer deadline;

static void check(struct ev_loop *l, void *arg)
{
    (void)arg;
    if (until && until())
        ev_loop_stop(l);
}

static void on_deadline(struct timer *t)
{
    (void)t;
    ev_loop_stop(&loop);
}

static inline void loop_test_init(void)
{
    assert_int_equal(ev_loop_init(&loop), 0);
    loop.before_poll = check;
    timer_init(&deadline, on_deadline);
}

/* Runs the loop until cond() (checked before each poll; NULL: never) or ms have passed. */
static inline void run(bool (*cond)(void), uint64_t ms)
{
    until = cond;
    loop.stop = false;
    timer_arm(&loop.timers, &deadline, ev_now_update(&loop) + ms);
    ev_loop_run(&loop);
    timer_disarm(&loop.timers, &deadline);
}

/* A non-blocking listener on 127.0.0.1 and a free port (*port); rcvbuf > 0 sets the
 * accepted sockets' receive buffer. The fd. */
static inline int listen_local(uint16_t *port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

#endif

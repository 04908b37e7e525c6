/* redis_test_util.h — for tests of the Redis connection against a fake Redis on the test's own
 * event loop: the loop, run until a condition or a deadline; a listening socket on 127.0.0.1;
 * the fake's RESP command parser and ROLE answers. Include after <cmocka.h>; one loop per test program
 * (`loop`). */
#ifndef WEIR_TESTS_REDIS_TEST_UTIL_H
#define WEIR_TESTS_REDIS_TEST_UTIL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* ROLE's answer from a primary and from a replica (weir's handshake asks it). */
#define RESP_TEST_ROLE_MASTER "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
#define RESP_TEST_ROLE_REPLICA \
    "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n"

/* One whole command (an array of bulk strings) at buf: its length, or 0 when incomplete.
 * The first 8 arguments go to args (cut at 255 bytes) and their full lengths to lens. */
static inline size_t resp_test_cmd(const char *buf, size_t buflen, char args[8][256],
                                   size_t lens[8], int *argc)
{
    const char *p = buf, *end = buf + buflen;
    const char *nl = p < end && *p == '*' ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (!nl)
        return 0;
    int n = atoi(p + 1);
    p = nl + 1;
    for (int i = 0; i < n; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || *p != '$')
            return 0;
        size_t len = (size_t)atol(p + 1);
        p = nl + 1;
        if ((size_t)(end - p) < len + 2)
            return 0;
        if (i < 8) {
            size_t c = len < 255 ? len : 255;
            memcpy(args[i], p, c);
            args[i][c] = '\0';
            lens[i] = len;
        }
        p += len + 2;
    }
    *argc = n;
    return (size_t)(p - buf);
}

#endif

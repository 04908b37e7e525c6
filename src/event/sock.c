/* sock.c — see sock.h. */
#include "event/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sock_listen(const struct sockaddr *sa, socklen_t salen, int backlog)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
        goto fail;
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
        goto fail;
    if (bind(fd, sa, salen) == -1 || listen(fd, backlog) == -1)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int sock_connect(const struct sockaddr *sa, socklen_t salen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int sock_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
        return errno;
    return err;
}

void sock_ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    const void *addr = ss->ss_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (!inet_ntop(ss->ss_family, addr, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

void sock_ntop_port(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    sock_ntop(ss, ip, sizeof(ip));
    if (ss->ss_family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
    else
        snprintf(buf, len, "%s:%u", ip, ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

int sock_local_error(int err)
{
    switch (err) {
    case EMFILE:
        return SOCK_LOCAL_EMFILE;
    case ENFILE:
        return SOCK_LOCAL_ENFILE;
    case ENOMEM:
        return SOCK_LOCAL_ENOMEM;
    case ENOBUFS:
        return SOCK_LOCAL_ENOBUFS;
    case EADDRNOTAVAIL:
        return SOCK_LOCAL_EADDRNOTAVAIL;
    case ENOSPC:
        return SOCK_LOCAL_ENOSPC;
    default:
        return -1;
    }
}

const char *sock_local_error_name(enum sock_local_error kind)
{
    static const char *const names[SOCK_LOCAL_KINDS] = {
        [SOCK_LOCAL_EMFILE] = "emfile",   [SOCK_LOCAL_ENFILE] = "enfile",
        [SOCK_LOCAL_ENOMEM] = "enomem",   [SOCK_LOCAL_ENOBUFS] = "enobufs",
        [SOCK_LOCAL_EADDRNOTAVAIL] = "eaddrnotavail", [SOCK_LOCAL_ENOSPC] = "enospc",
    };
    return (unsigned)kind < SOCK_LOCAL_KINDS ? names[kind] : "other";
}

/* Listening TCP sockets of `family` on `port`, from the kernel's socket diagnostics
 * (NETLINK_SOCK_DIAG, the interface of `ss`). Asking for the LISTEN state only, the kernel
 * walks its listening table alone — not the established one, which can hold hundreds of
 * thousands of sockets (reading /proc/net/tcp walks that and stalled the host's TCP for
 * hundreds of ms in tests). -1 on error. */
static int count_listeners(int family, unsigned port)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl == -1)
        return -1;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req = {
        .nlh = {.nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .r = {.sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
              .idiag_states = 1u << 10 /* TCP_LISTEN */},
    };
    int n = 0;
    if (send(nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
        close(nl);
        return -1;
    }
    static _Thread_local char buf[16384] __attribute__((aligned(8)));
    for (;;) {
        ssize_t len = recv(nl, buf, sizeof(buf), 0);
        if (len <= 0) {
            n = -1;
            break;
        }
        /* NLMSG_NEXT's char * cast trips -Wcast-align; messages are NLMSG_ALIGNTO-aligned */
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
             len -= NLMSG_ALIGN(h->nlmsg_len),
                              h = (struct nlmsghdr *)(void *)((char *)h + NLMSG_ALIGN(h->nlmsg_len))) {
            if (h->nlmsg_type == NLMSG_DONE)
                goto out;
            if (h->nlmsg_type == NLMSG_ERROR) {
                n = -1;
                goto out;
            }
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) == port)
                n++;
        }
    }
out:
    close(nl);
    return n;
}

int sock_port_listeners(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    unsigned port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    int v4 = count_listeners(AF_INET, port), v6 = count_listeners(AF_INET6, port);
    return v4 < 0 || v6 < 0 ? -1 : v4 + v6;
}

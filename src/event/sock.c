/* sock.c — see sock.h. */
#include "event/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
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

/* sendfile_floor.c — the least a server can do to answer GET of one file over keep-alive: one
 * epoll loop, recv until the blank line, the head with MSG_MORE, sendfile of the body. No
 * parsing, no headers but the framing, no logging: the kernel's cost of serving the file, which
 * bench/static_bench.sh's ratio cannot go below. Not weir, and not a server: a measuring stick.
 *
 * Usage: sendfile_floor PORT FILE   (answers every request on 127.0.0.1:PORT with FILE) */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct conn {
    int fd;
    off_t off;      /* body bytes sent of the current answer */
    bool sending;
    char in[4096];
    size_t inlen;
};

static int file_fd;
static off_t file_len;
static char head[256];
static int head_len;

/* Sends what is left of the current answer; 0 done, 1 blocked, -1 error. */
static int send_answer(struct conn *c)
{
    if (!c->sending) {
        if (send(c->fd, head, (size_t)head_len, MSG_MORE | MSG_NOSIGNAL) != head_len)
            return -1;
        c->sending = true;
        c->off = 0;
    }
    while (c->off < file_len) {
        ssize_t n = sendfile(c->fd, file_fd, &c->off, (size_t)(file_len - c->off));
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
    }
    c->sending = false;
    return 0;
}

/* Answers every complete request in c->in; -1 closes. */
static int serve(struct conn *c)
{
    for (;;) {
        if (c->sending) {
            int r = send_answer(c);
            if (r)
                return r < 0 ? -1 : 0;
        }
        ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->inlen += (size_t)n;
        char *end;
        while ((end = memmem(c->in, c->inlen, "\r\n\r\n", 4))) {
            size_t used = (size_t)(end + 4 - c->in);
            memmove(c->in, c->in + used, c->inlen - used);
            c->inlen -= used;
            int r = send_answer(c);
            if (r)
                return r < 0 ? -1 : 0;
        }
        if (c->inlen == sizeof(c->in))
            return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sendfile_floor PORT FILE\n");
        return 2;
    }
    file_fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (file_fd < 0 || fstat(file_fd, &st) != 0) {
        perror(argv[2]);
        return 1;
    }
    file_len = st.st_size;
    head_len = snprintf(head, sizeof(head),
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        "Content-Length: %lld\r\n\r\n", (long long)file_len);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 4096) != 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
                continue;
            }
            if (serve(c) < 0) {
                close(c->fd);
                free(c);
            }
        }
    }
}

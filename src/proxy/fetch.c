/* fetch.c — see fetch.h. */
#include "proxy/fetch.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/dlist.h"
#include "proxy/client.h"
#include "proxy/worker.h"

struct fetch {
    struct ev_io io;               /* first: events carry a pointer to it */
    struct dlist link;             /* worker's open fetches */
    struct worker *w;
    void (*done)(void *arg, uint16_t status);
    void *arg;
    char line[16];                 /* the start of the status line */
    size_t got;
};

static uint16_t status_of(const struct fetch *f)
{
    if (f->got < 12 || f->line[0] != 'H' || f->line[8] != ' ')
        return 0;
    uint16_t s = 0;
    for (int i = 9; i < 12; i++) {
        if (f->line[i] < '0' || f->line[i] > '9')
            return 0;
        s = (uint16_t)(s * 10 + (f->line[i] - '0'));
    }
    return s;
}

static void fetch_free(void *arg)
{
    free(arg);
}

static void finish(struct fetch *f)
{
    dlist_remove(&f->link);
    close(f->io.fd);
    f->done(f->arg, status_of(f));
    if (ev_defer(&f->w->loop, fetch_free, f) == -1)
        free(f); /* no later event names it: its fd is closed */
}

static void on_fetch_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct fetch *f = (struct fetch *)io;
    char buf[16384];
    for (;;) {
        ssize_t n = recv(f->io.fd, buf, sizeof(buf), 0);
        if (n > 0) {
            for (ssize_t i = 0; i < n && f->got < sizeof(f->line); i++)
                f->line[f->got++] = buf[i];
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        finish(f); /* EOF (the request said Connection: close) or an error */
        return;
    }
}

int fetch_start(struct pipeline_worker *self, const char *req, size_t len,
                void (*done)(void *arg, uint16_t status), void *arg)
{
    struct worker *w = self->host;
    if (w->draining)
        return -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    struct fetch *f = calloc(1, sizeof(*f));
    ssize_t n = f ? send(sv[1], req, len, MSG_NOSIGNAL) : -1;
    if (!f || n != (ssize_t)len ||
        ev_io_add(&w->loop, &f->io, sv[1], on_fetch_event, false) == -1) {
        free(f);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    f->w = w;
    f->done = done;
    f->arg = arg;
    dlist_push_back(&w->fetches, &f->link);
    struct sockaddr_storage peer = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct client *c = client_accept(w, sv[0], &peer, CLIENT_LISTENER_INTERNAL);
    if (c)
        c->internal = true;
    /* If the client could not be made, sv[0] is closed: the reader sees EOF, status 0. */
    return 0;
}

void fetch_abort_all(struct worker *w)
{
    while (!dlist_empty(&w->fetches)) {
        struct fetch *f = container_of(w->fetches.next, struct fetch, link);
        dlist_remove(&f->link);
        close(f->io.fd);
        f->done(f->arg, 0);
        free(f);
    }
}

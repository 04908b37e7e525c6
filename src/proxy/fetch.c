/* fetch.c — see fetch.h. */
#include "proxy/fetch.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/dlist.h"
#include "http/h1.h"
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
    /* fetch_reply: the response kept, up to cap bytes */
    void (*done_reply)(void *arg, const struct fetch_reply *r);
    char *buf;
    size_t len, cap;
    bool truncated;
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

/* The kept response: head parsed, body de-chunked in place. */
static void give_reply(struct fetch *f)
{
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 65536,
                                         .max_headers = H1_MAX_HEADERS, .max_body = 0};
    struct h1_response *head = malloc(sizeof(*head));
    struct fetch_reply r = {.truncated = f->truncated};
    int hl = head ? h1_parse_response(f->buf, f->len, &lim, false, head) : -1;
    if (hl > 0) {
        r.status = head->status;
        r.head = head;
        char *b = f->buf + hl;
        size_t n = f->len - (size_t)hl;
        if (head->framing == H1_FRAME_CHUNKED) {
            struct h1_chunked ck;
            h1_chunked_init(&ck);
            size_t dec = 0;
            if (h1_chunked_feed(&ck, b, n, &dec) < 0 || (!ck.done && !f->truncated))
                r.truncated = true; /* a broken or cut-off body is no whole body */
            n = dec;
        } else if (head->framing == H1_FRAME_LENGTH) {
            if (n > head->content_length)
                n = head->content_length;
            else if (n < head->content_length)
                r.truncated = true;
        } else if (head->framing == H1_FRAME_NONE) {
            n = 0;
        }
        r.body = str_from(b, n);
    }
    f->done_reply(f->arg, &r);
    free(head);
}

static void finish(struct fetch *f)
{
    dlist_remove(&f->link);
    close(f->io.fd);
    if (f->done_reply)
        give_reply(f);
    else
        f->done(f->arg, status_of(f));
    free(f->buf);
    f->buf = NULL;
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
            if (f->buf) {
                size_t take = (size_t)n <= f->cap - f->len ? (size_t)n : f->cap - f->len;
                memcpy(f->buf + f->len, buf, take);
                f->len += take;
                f->truncated |= take < (size_t)n;
            }
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        finish(f); /* EOF (the request said Connection: close) or an error */
        return;
    }
}

static int start(struct pipeline_worker *self, const char *req, size_t len, struct fetch *f)
{
    struct worker *w = self->host;
    int sv[2];
    if (w->draining || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
        free(f->buf);
        free(f);
        return -1;
    }
    ssize_t n = send(sv[1], req, len, MSG_NOSIGNAL);
    if (n != (ssize_t)len || ev_io_add(&w->loop, &f->io, sv[1], on_fetch_event, false) == -1) {
        free(f->buf);
        free(f);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    f->w = w;
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

int fetch_start(struct pipeline_worker *self, const char *req, size_t len,
                void (*done)(void *arg, uint16_t status), void *arg)
{
    struct fetch *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->done = done;
    f->arg = arg;
    return start(self, req, len, f);
}

int fetch_reply_start(struct pipeline_worker *self, const char *req, size_t len,
                      size_t max_bytes, void (*done)(void *arg, const struct fetch_reply *r),
                      void *arg)
{
    struct fetch *f = calloc(1, sizeof(*f));
    if (!f || !(f->buf = malloc(max_bytes ? max_bytes : 1))) {
        free(f);
        return -1;
    }
    f->cap = max_bytes;
    f->done_reply = done;
    f->arg = arg;
    return start(self, req, len, f);
}

void fetch_abort_all(struct worker *w)
{
    while (!dlist_empty(&w->fetches)) {
        struct fetch *f = container_of(w->fetches.next, struct fetch, link);
        dlist_remove(&f->link);
        close(f->io.fd);
        if (f->done_reply)
            f->done_reply(f->arg, &(struct fetch_reply){0});
        else
            f->done(f->arg, 0);
        free(f->buf);
        free(f);
    }
}

/* h2_stream.c — see h2_stream.h: a stream's socketpair to its exchange. */
#include "h2/h2_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2/h2_conn.h"
#include "h2/h2_session.h"
#include "http/h1.h"
#include "proxy/client.h"

/* The response head must fit; the body passes through in pieces of at most this. */
#define RBUF_SIZE (32u * 1024u)

static nghttp2_session *ng_of(const struct h2_stream *s)
{
    return s->sess->ng;
}

static struct worker *worker_of(const struct h2_stream *s)
{
    const struct h2_conn *hc = s->sess->owner;
    return hc->c->w;
}

/* Writes what the socketpair takes; the stream window reopens once the body is all in. */
static int sock_flush(struct h2_stream *s)
{
    while (s->woff < s->wlen && s->writable) {
        ssize_t n = send(s->io.fd, s->wbuf + s->woff, s->wlen - s->woff, MSG_NOSIGNAL);
        if (n > 0) {
            s->woff += (size_t)n;
        } else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            s->writable = false;
        } else {
            /* The exchange stopped reading (it answered early): the rest is dropped. */
            s->woff = s->wlen;
        }
    }
    if (s->woff < s->wlen)
        return 0;
    s->woff = s->wlen = 0;
    if (s->unconsumed) {
        nghttp2_session_consume_stream(ng_of(s), s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    if (s->req_end) {
        free(s->wbuf);
        s->wbuf = NULL;
        s->wcap = 0;
    }
    return 0;
}

void h2_stream_push(struct h2_stream *s)
{
    if (s->started)
        sock_flush(s);
}

/* ---- the response ---------------------------------------------------------------------- */

static ssize_t on_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user);

static void submit_status(struct h2_stream *s, const char *status)
{
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)status, 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)"0", 14, 1, NGHTTP2_NV_FLAG_NONE},
    };
    s->submitted = true;
    s->phase = H2S_DONE;
    nghttp2_submit_response(ng_of(s), s->id, nv, 2, NULL);
}

static int submit_head(struct h2_stream *s, const struct h1_response *r)
{
    struct h2_field f[H1_MAX_HEADERS + 1];
    char names[RBUF_SIZE];
    char status[4];
    int n = h2_map_response(r, f, H1_MAX_HEADERS + 1, names, sizeof(names), status);
    if (n < 0)
        return -1;
    nghttp2_nv nv[H1_MAX_HEADERS + 1];
    for (int i = 0; i < n; i++)
        nv[i] = (nghttp2_nv){(uint8_t *)f[i].name.ptr, (uint8_t *)f[i].value.ptr, f[i].name.len,
                             f[i].value.len, NGHTTP2_NV_FLAG_NONE};
    s->framing = r->framing;
    s->left = r->content_length;
    if (r->framing == H1_FRAME_CHUNKED)
        h1_chunked_init(&s->chunk);
    bool empty = r->framing == H1_FRAME_NONE || (r->framing == H1_FRAME_LENGTH && !s->left);
    s->phase = empty ? H2S_DONE : H2S_BODY;
    s->submitted = true;
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = on_read};
    return nghttp2_submit_response(ng_of(s), s->id, nv, (size_t)n, empty ? NULL : &prd) == 0 ? 0
                                                                                           : -1;
}

/* The raw bytes at rbuf[0, rlen) become payload at rbuf[0, rready). */
static int body(struct h2_stream *s)
{
    s->roff = 0;
    if (s->framing == H1_FRAME_CHUNKED) {
        size_t d = 0;
        ssize_t k = h1_chunked_feed(&s->chunk, s->rbuf, s->rlen, &d);
        if (k < 0)
            return -1;
        s->rready = d;
        if (s->chunk.done)
            s->phase = H2S_DONE; /* trailers are not forwarded (docs/http2.md) */
    } else if (s->framing == H1_FRAME_LENGTH) {
        s->rready = s->rlen < s->left ? s->rlen : (size_t)s->left;
        s->left -= s->rready;
        if (!s->left)
            s->phase = H2S_DONE;
    } else {
        s->rready = s->rlen;
    }
    s->rlen = 0;
    return 0;
}

static int process(struct h2_stream *s)
{
    while (s->phase == H2S_HEAD) {
        static const struct h1_limits lim = {.max_request_line = RBUF_SIZE,
                                             .max_header_bytes = RBUF_SIZE,
                                             .max_headers = H1_MAX_HEADERS};
        struct h1_response r;
        int n = h1_parse_response(s->rbuf, s->rlen, &lim, s->info.head, &r);
        if (n == 0)
            return s->rlen == RBUF_SIZE ? -1 : 0;
        if (n < 0 || r.status == 101)
            return -1;
        if (r.status >= 200 && submit_head(s, &r) != 0)
            return -1;
        /* 1xx interim responses (100 Continue) are not forwarded: the body is not held back. */
        memmove(s->rbuf, s->rbuf + n, s->rlen - (size_t)n);
        s->rlen -= (size_t)n;
    }
    if (s->phase == H2S_BODY || s->rlen)
        return s->phase == H2S_DONE ? 0 : body(s);
    return 0;
}

/* Reads the response while nothing waits to be sent. Returns 0, or -1 (reset the stream). */
static int pull(struct h2_stream *s)
{
    while (s->phase != H2S_DONE && s->readable && s->rready == 0) {
        if (s->rlen == RBUF_SIZE)
            return -1;
        ssize_t n = recv(s->io.fd, s->rbuf + s->rlen, RBUF_SIZE - s->rlen, 0);
        if (n > 0) {
            s->rlen += (size_t)n;
            if (process(s) != 0)
                return -1;
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            s->readable = false;
            break;
        }
        s->readable = false; /* the exchange closed its side */
        if (!s->submitted) {
            submit_status(s, "502");
        } else if (s->framing == H1_FRAME_EOF) {
            s->phase = H2S_DONE;
        } else {
            return -1; /* cut short */
        }
    }
    return 0;
}

static ssize_t on_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)user;
    struct h2_stream *s = src->ptr;
    if (s->rready == 0 && s->phase != H2S_DONE && pull(s) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = s->rready < len ? s->rready : len;
    if (n)
        s->progress_ms = worker_of(s)->loop.now_ms;
    memcpy(buf, s->rbuf + s->roff, n);
    s->roff += n;
    s->rready -= n;
    if (s->rready == 0 && s->phase == H2S_DONE) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (n == 0) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void on_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct h2_stream *s = (struct h2_stream *)io;
    struct h2_conn *hc = s->sess->owner;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        s->writable = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->readable = true;
    sock_flush(s);
    if (pull(s) != 0) {
        h2_session_reset(s->sess, s->id, NGHTTP2_INTERNAL_ERROR);
    } else if (s->deferred && (s->rready || s->phase == H2S_DONE)) {
        s->deferred = false;
        nghttp2_session_resume_data(ng_of(s), s->id);
    }
    h2_conn_kick(hc);
}

int h2_stream_start(struct h2_stream *s)
{
    struct h2_conn *hc = s->sess->owner;
    struct worker *w = worker_of(s);
    int sv[2];
    if (!(s->rbuf = malloc(RBUF_SIZE)) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    if (ev_io_add(&w->loop, &s->io, sv[1], on_event, true) == -1) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    struct client *ic = client_accept(w, sv[0], &hc->c->peer, CLIENT_LISTENER_INTERNAL);
    if (!ic)
        return -1; /* sv[0] closed; sv[1] goes with the stream */
    ic->h2_stream = true;
    ic->h2_tls = hc->c->tls != NULL;
    s->started = true;
    s->writable = true;
    s->progress_ms = w->loop.now_ms;
    h2_conn_stream_started(hc);
    sock_flush(s);
    return 0;
}

static void stream_free(void *arg)
{
    free(arg);
}

bool h2_stream_stalled(const struct h2_stream *s, uint64_t now_ms, uint32_t ms)
{
    return s->started && s->rready > 0 && now_ms - s->progress_ms >= ms;
}

void h2_stream_free(struct h2_stream *s)
{
    struct h2_conn *hc = s->sess->owner;
    struct worker *w = hc->c->w;
    if (s->started)
        h2_conn_stream_ended(hc);
    if (s->io.fd >= 0) {
        ev_io_del(&w->loop, &s->io);
        close(s->io.fd); /* a running exchange sees its connection close */
        s->io.fd = -1;
    }
    free(s->rbuf);
    free(s->wbuf);
    if (ev_defer(&w->loop, stream_free, s) == -1)
        free(s);
}

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
#include "proxy/client_tls.h"
#include "tls/tls_conn.h"

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
    struct h2_lane *l = s->lane;
    while (s->woff < s->wlen && l->writable) {
        ssize_t n = send(l->io.fd, s->wbuf + s->woff, s->wlen - s->woff, MSG_NOSIGNAL);
        if (n > 0) {
            s->woff += (size_t)n;
        } else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            l->writable = false;
        } else {
            /* The exchange stopped reading (it answered early): the rest is dropped. */
            s->woff = s->wlen;
            s->wdead = true;
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

static void to_nv(const struct h2_field *f, int n, nghttp2_nv *nv)
{
    for (int i = 0; i < n; i++)
        nv[i] = (nghttp2_nv){(uint8_t *)f[i].name.ptr, (uint8_t *)f[i].value.ptr, f[i].name.len,
                             f[i].value.len, NGHTTP2_NV_FLAG_NONE};
}

/* A 1xx interim response (100 Continue, 103 Early Hints): a HEADERS frame of its own. */
static int submit_interim(struct h2_stream *s, const struct h1_response *r)
{
    struct h2_field f[H1_MAX_HEADERS + 1];
    nghttp2_nv nv[H1_MAX_HEADERS + 1];
    char names[RBUF_SIZE];
    char status[4];
    int n = h2_map_response(r, f, H1_MAX_HEADERS + 1, names, sizeof(names), status);
    if (n < 0)
        return -1;
    to_nv(f, n, nv);
    return nghttp2_submit_headers(ng_of(s), NGHTTP2_FLAG_NONE, s->id, NULL, nv, (size_t)n,
                                  NULL) < 0 ? -1 : 0;
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
    to_nv(f, n, nv);
    s->framing = r->framing;
    s->left = r->content_length;
    s->resp_close = (r->flags & H1F_CONN_CLOSE) != 0;
    if (r->framing == H1_FRAME_CHUNKED) {
        h1_chunked_init(&s->chunk);
        s->chunk.trailers = s->trailers = malloc(H1_CHUNK_TRAILER_MAX);
    }
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
        if (r.status >= 200 ? submit_head(s, &r) != 0 : submit_interim(s, &r) != 0)
            return -1;
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
    struct h2_lane *l = s->lane;
    while (s->phase != H2S_DONE && l->readable && s->rready == 0) {
        if (s->rlen == RBUF_SIZE)
            return -1;
        ssize_t n = recv(l->io.fd, s->rbuf + s->rlen, RBUF_SIZE - s->rlen, 0);
        if (n > 0) {
            s->rlen += (size_t)n;
            if (process(s) != 0)
                return -1;
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            l->readable = false;
            break;
        }
        l->readable = false; /* the exchange closed its side */
        s->resp_close = true;
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
        if (s->trailers && s->chunk.trailer_bytes > 2) {
            struct h2_field f[H1_MAX_HEADERS];
            nghttp2_nv nv[H1_MAX_HEADERS];
            uint32_t k = h2_map_trailers(s->trailers, s->chunk.trailer_bytes, f, H1_MAX_HEADERS);
            to_nv(f, (int)k, nv);
            if (k && nghttp2_submit_trailer(ng, s->id, nv, k) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    } else if (n == 0) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---- lanes ----------------------------------------------------------------------------- */

#define LANES_IDLE_MAX 16

static void lane_free(void *arg)
{
    struct h2_lane *l = arg;
    free(l->rbuf);
    free(l);
}

static void lane_close(struct h2_lane *l)
{
    struct worker *w = l->hc->c->w;
    ev_io_del(&w->loop, &l->io);
    close(l->io.fd); /* an exchange still running sees its connection close: it is cancelled */
    l->io.fd = -1;
    if (ev_defer(&w->loop, lane_free, l) == -1)
        free(l);
}

/* An idle lane hears from its inner connection only when that closes (its keep-alive timeout,
 * a stop): the lane goes too. */
static void lane_idle_event(struct h2_lane *l)
{
    char b;
    ssize_t n = recv(l->io.fd, &b, 1, MSG_PEEK);
    if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
        l->readable = false;
        return;
    }
    dlist_remove(&l->link);
    l->hc->nlanes--;
    lane_close(l);
}

static void on_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct h2_lane *l = (struct h2_lane *)io;
    struct h2_conn *hc = l->hc;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        l->writable = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        l->readable = true;
    struct h2_stream *s = l->s;
    if (!s) {
        if (l->readable)
            lane_idle_event(l);
        return;
    }
    sock_flush(s);
    if (pull(s) != 0) {
        h2_session_reset(s->sess, s->id, NGHTTP2_INTERNAL_ERROR);
    } else if (s->deferred && (s->rready || s->phase == H2S_DONE)) {
        s->deferred = false;
        nghttp2_session_resume_data(ng_of(s), s->id);
    }
    h2_conn_kick_later(hc);
}

/* The connection's TLS facts for the inner connection of a new lane. */
static struct h2_origin *origin_of(const struct client *c)
{
    char subject[512];
    client_tls_subject(c, subject, sizeof(subject));
    size_t n = strlen(subject);
    struct h2_origin *o = malloc(sizeof(*o) + n + 1);
    if (!o)
        return NULL;
    snprintf(o->protocol, sizeof(o->protocol), "%s", tls_conn_protocol(c->tls));
    snprintf(o->cipher, sizeof(o->cipher), "%s", tls_conn_cipher(c->tls));
    snprintf(o->sni, sizeof(o->sni), "%s", tls_conn_sni(c->tls));
    memcpy(o->subject, subject, n + 1);
    return o;
}

/* An idle lane of the connection, or a new one. */
static struct h2_lane *lane_get(struct h2_conn *hc)
{
    if (!dlist_empty(&hc->lanes)) {
        struct h2_lane *l = container_of(hc->lanes.next, struct h2_lane, link);
        dlist_remove(&l->link);
        hc->nlanes--;
        return l;
    }
    struct worker *w = hc->c->w;
    struct h2_lane *l = calloc(1, sizeof(*l));
    int sv[2];
    if (!l)
        return NULL;
    if (!(l->rbuf = malloc(RBUF_SIZE))) {
        free(l);
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1) {
        lane_free(l);
        return NULL;
    }
    if (ev_io_add(&w->loop, &l->io, sv[1], on_event, true) == -1) {
        close(sv[0]);
        close(sv[1]);
        lane_free(l);
        return NULL;
    }
    l->hc = hc;
    l->writable = true;
    struct client *ic = client_accept(w, sv[0], &hc->c->peer, CLIENT_LISTENER_INTERNAL);
    if (!ic) { /* sv[0] is closed */
        lane_close(l);
        return NULL;
    }
    ic->h2_stream = true;
    ic->h2_tls = hc->c->tls != NULL;
    ic->h2_listener = hc->c->listener;
    if (hc->c->tls)
        ic->h2_origin = origin_of(hc->c); /* NULL when out of memory: logged and sent without */
    mc_add(&w->metrics.accepted, (uint64_t)-1); /* a lane is no accepted connection */
    return l;
}

void h2_lane_close_idle(struct h2_conn *hc)
{
    while (!dlist_empty(&hc->lanes)) {
        struct h2_lane *l = container_of(hc->lanes.next, struct h2_lane, link);
        dlist_remove(&l->link);
        hc->nlanes--;
        lane_close(l);
    }
}

/* ---- a stream's life ------------------------------------------------------------------- */

int h2_stream_start(struct h2_stream *s)
{
    struct h2_conn *hc = s->sess->owner;
    struct worker *w = worker_of(s);
    if (!(s->lane = lane_get(hc)))
        return -1;
    s->rbuf = s->lane->rbuf;
    s->lane->s = s;
    s->started = true;
    s->progress_ms = w->loop.now_ms;
    h2_conn_stream_started(hc);
    sock_flush(s);
    /* A kept lane may hold readiness from before: look now (edge-triggered, no new event). */
    if (s->lane->readable && pull(s) != 0)
        return -1;
    return 0;
}

bool h2_stream_stalled(const struct h2_stream *s, uint64_t now_ms, uint32_t ms)
{
    return s->started && s->rready > 0 && now_ms - s->progress_ms >= ms;
}

/* The lane can carry another stream: both messages went through whole, nothing is left over,
 * and the inner connection stays open. */
static bool reusable(const struct h2_stream *s)
{
    const struct h2_conn *hc = s->sess->owner;
    return s->phase == H2S_DONE && s->rready == 0 && s->rlen == 0 && !s->resp_close &&
           s->framing != H1_FRAME_EOF && s->req_end && s->wlen == 0 && !s->wdead &&
           !hc->closing && !hc->draining && hc->nlanes < LANES_IDLE_MAX;
}

void h2_stream_free(struct h2_stream *s)
{
    struct h2_conn *hc = s->sess->owner;
    struct h2_lane *l = s->lane;
    if (s->started)
        h2_conn_stream_ended(hc);
    if (l) {
        l->s = NULL;
        if (reusable(s)) {
            dlist_push_front(&hc->lanes, &l->link);
            hc->nlanes++;
        } else {
            lane_close(l);
        }
    }
    free(s->wbuf);
    free(s->trailers);
    free(s);
}

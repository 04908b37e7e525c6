/* h2_stream.c — see h2_stream.h: a stream's lane to its exchange, in memory. */
#include "h2/h2_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "h2/h2_conn.h"
#include "h2/h2_session.h"
#include "http/h1.h"
#include "proxy/client.h"
#include "proxy/client_tls.h"
#include "tls/tls_conn.h"

/* The response head must fit; the body passes through in pieces of at most this. */
#define RBUF_SIZE (32u * 1024u)
#define LANES_IDLE_MAX 16

static nghttp2_session *ng_of(const struct h2_stream *s)
{
    return s->sess->ng;
}

static struct worker *worker_of(const struct h2_stream *s)
{
    const struct h2_conn *hc = s->sess->owner;
    return hc->c->w;
}

/* ---- lanes: waking the inner connection, and its end -------------------------------- */

static void lane_maybe_free(struct h2_lane *l)
{
    if (l->inner || l->s || l->wake_queued || l->in_wake || !l->closed)
        return;
    free(l->rbuf);
    free(l);
}

static void lane_wake_cb(void *arg)
{
    struct h2_lane *l = arg;
    uint32_t ev = l->wake;
    l->wake = 0;
    l->wake_queued = false;
    if (l->inner) {
        l->in_wake = true;
        client_wake(l->inner, ev); /* may close it: lane_inner_closed */
        l->in_wake = false;
    }
    lane_maybe_free(l);
}

/* Readiness for the inner connection, delivered after the event batch as epoll would (never
 * from inside nghttp2's callbacks, and never recursively). */
static void lane_wake(struct h2_lane *l, uint32_t events)
{
    if (!l->inner)
        return;
    l->wake |= events;
    if (!l->wake_queued && ev_defer(&l->w->loop, lane_wake_cb, l) == 0)
        l->wake_queued = true;
}

/* The lane carries no more streams: the inner connection hears the end (and closes). */
static void lane_close(struct h2_lane *l)
{
    l->closed = true;
    l->hc = NULL;
    if (l->inner)
        lane_wake(l, EPOLLIN | EPOLLOUT | EPOLLHUP);
    lane_maybe_free(l);
}

/* The request bytes were all taken: the stream window reopens by the body among them. */
static void request_taken(struct h2_stream *s)
{
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
}

void h2_stream_push(struct h2_stream *s)
{
    if (!s->started)
        return;
    if ((s->phase == H2S_DONE && s->submitted) || !s->lane->inner) {
        /* Answered already, or nobody is left to read it: the rest of the body is dropped
         * (its window reopens, so the client can finish sending). */
        request_taken(s); /* from the read path: the connection writes after it */
        return;
    }
    lane_wake(s->lane, EPOLLIN);
}

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

/* The response bytes are gone to nghttp2 (or the stream state changed): tell nghttp2 what
 * it waits for, and write. */
static void response_moved(struct h2_stream *s)
{
    if (s->deferred && (s->rready || s->phase == H2S_DONE)) {
        s->deferred = false;
        nghttp2_session_resume_data(ng_of(s), s->id);
    }
}

/* The inner connection ended while the stream ran: its response is complete only when it was
 * delimited by the end. */
static void response_cut(struct h2_stream *s)
{
    if (!s->submitted)
        submit_status(s, "502");
    else if (s->phase == H2S_BODY && s->framing == H1_FRAME_EOF)
        s->phase = H2S_DONE;
    else if (s->phase != H2S_DONE)
        h2_session_reset(s->sess, s->id, NGHTTP2_INTERNAL_ERROR);
    s->resp_close = true;
    response_moved(s);
}

static ssize_t on_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)id;
    (void)user;
    struct h2_stream *s = src->ptr;
    size_t n = s->rready < len ? s->rready : len;
    if (n)
        s->progress_ms = worker_of(s)->loop.now_ms;
    memcpy(buf, s->rbuf + s->roff, n);
    s->roff += n;
    s->rready -= n;
    if (s->rready == 0 && s->lane->inner_blocked) {
        s->lane->inner_blocked = false;
        lane_wake(s->lane, EPOLLOUT); /* room again for the exchange's writes */
    }
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

/* ---- the inner connection's transport (struct tls_vt) ------------------------------------ */

static ssize_t lane_recv(void *arg, void *buf, size_t len)
{
    struct h2_lane *l = arg;
    struct h2_stream *s = l->s;
    if (s && s->woff < s->wlen) {
        size_t n = s->wlen - s->woff < len ? s->wlen - s->woff : len;
        memcpy(buf, s->wbuf + s->woff, n);
        s->woff += n;
        if (s->woff == s->wlen) {
            request_taken(s);
            h2_conn_kick_later(s->sess->owner); /* a WINDOW_UPDATE may be due */
        }
        return (ssize_t)n;
    }
    if (l->closed)
        return 0;
    errno = EAGAIN;
    return -1;
}

static ssize_t lane_sendv(void *arg, const struct iovec *iov, int niov)
{
    struct h2_lane *l = arg;
    struct h2_stream *s = l->s;
    if (l->closed || !s || s->phase == H2S_DONE) {
        errno = EPIPE; /* nobody asked: the exchange goes */
        return -1;
    }
    size_t done = 0, total = 0;
    for (int i = 0; i < niov; i++)
        total += iov[i].iov_len;
    if (s->rready == 0) {
        for (int i = 0; i < niov && s->rlen < RBUF_SIZE; i++) {
            size_t n = iov[i].iov_len < RBUF_SIZE - s->rlen ? iov[i].iov_len : RBUF_SIZE - s->rlen;
            memcpy(s->rbuf + s->rlen, iov[i].iov_base, n);
            s->rlen += n;
            done += n;
            if (n < iov[i].iov_len)
                break;
        }
    }
    if (done < total)
        l->inner_blocked = true;
    if (!done) {
        errno = EAGAIN;
        return -1;
    }
    if (process(s) != 0)
        h2_session_reset(s->sess, s->id, NGHTTP2_INTERNAL_ERROR);
    response_moved(s);
    h2_conn_kick_later(s->sess->owner);
    return (ssize_t)done;
}

static void lane_inner_closed(void *arg)
{
    struct h2_lane *l = arg;
    l->inner = NULL;
    struct h2_stream *s = l->s;
    if (s && !l->closed) {
        response_cut(s);
        /* What it did not read never will be: without dropping it (and reopening the window by
         * it) a client blocked on a full stream window would wait forever for a WINDOW_UPDATE
         * (the exchange answered, e.g. 413, before reading the body the first read brought). */
        request_taken(s);
        h2_conn_kick_later(s->sess->owner);
    } else if (!s && !l->closed && l->hc) { /* idle: its keep-alive ended, or a stop */
        dlist_remove(&l->link);
        l->hc->nlanes--;
    }
    l->closed = true;
    lane_maybe_free(l);
}

static const struct tls_vt lane_vt = {
    .recv = lane_recv,
    .sendv = lane_sendv,
    .close = lane_inner_closed,
};

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

/* An idle lane of the connection, or a new one with its inner connection. */
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
    struct tls_conn *vc = l ? tls_conn_virtual(&lane_vt, l) : NULL;
    if (!vc || !(l->rbuf = malloc(RBUF_SIZE))) {
        free(vc);
        if (l)
            free(l->rbuf);
        free(l);
        return NULL;
    }
    l->hc = hc;
    l->w = w;
    struct client *ic = client_accept_virtual(w, vc, &hc->c->peer);
    if (!ic) {
        free(vc);
        free(l->rbuf);
        free(l);
        return NULL;
    }
    l->inner = ic;
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
    if (!(s->lane = lane_get(hc)))
        return -1;
    s->lane->s = s;
    s->lane->inner_blocked = false;
    s->rbuf = s->lane->rbuf;
    s->started = true;
    s->progress_ms = worker_of(s)->loop.now_ms;
    h2_conn_stream_started(hc);
    lane_wake(s->lane, EPOLLIN | EPOLLOUT);
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
    const struct h2_lane *l = s->lane;
    return s->phase == H2S_DONE && s->rready == 0 && s->rlen == 0 && !s->resp_close &&
           s->framing != H1_FRAME_EOF && s->req_end && s->wlen == 0 && l->inner && !l->closed &&
           !hc->closing && !hc->draining && hc->nlanes < LANES_IDLE_MAX;
}

void h2_stream_free(struct h2_stream *s)
{
    struct h2_conn *hc = s->sess->owner;
    struct h2_lane *l = s->lane;
    if (s->started)
        h2_conn_stream_ended(hc);
    if (l) {
        bool keep = reusable(s);
        l->s = NULL;
        if (keep) {
            dlist_push_front(&hc->lanes, &l->link);
            hc->nlanes++;
        } else {
            lane_close(l); /* an exchange still running is cancelled */
        }
    }
    free(s->wbuf);
    free(s->trailers);
    free(s);
}

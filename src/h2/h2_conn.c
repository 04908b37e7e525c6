/* h2_conn.c — see h2_conn.h. */
#include "h2/h2_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "h2/h2_stream.h"
#include "proxy/client.h"
#include "tls/tls_io.h"

/* Frames gathered before a write (one TLS record's worth and more). */
#define OUT_BATCH (16u * 1024u)
#define IN_CHUNK (16u * 1024u)
/* Reads per readiness event before the connection gives the other connections their turn. */
#define READS_PER_TURN 16

enum { TK_NONE = 0, TK_IDLE, TK_HEAD, TK_SEND, TK_STALL };

static struct worker_shard *shard(struct h2_conn *h)
{
    return &h->c->w->metrics;
}

void h2_conn_stream_started(struct h2_conn *h)
{
    h->nstarted++;
    mc_add(&shard(h)->h2_streams, 1);
}

void h2_conn_stream_ended(struct h2_conn *h)
{
    h->nstarted--;
    mc_add(&shard(h)->h2_streams, (uint64_t)-1);
}

int h2_conn_start(struct client *c, const char *pre, size_t len)
{
    struct h2_conn *h = calloc(1, sizeof(*h));
    const struct config *cfg = c->wc->cfg;
    if (!h)
        return -1;
    h->c = c;
    dlist_init(&h->lanes);
    if (h2_session_init(&h->sess, &cfg->http2, &cfg->limits, h) != 0) {
        free(h);
        return -1;
    }
    c->h2 = h;
    c->state = CS_H2;
    mc_add(&shard(h)->h2_conns, 1);
    if (len && h2_session_recv(&h->sess, (const uint8_t *)pre, len, c->w->loop.now_ms) != 0)
        h->draining = true;
    c->readable = true; /* more may have come with the preface */
    return 0;
}

/* Writes queued frames. Returns 0, or -1 on a write error. */
static int flush(struct h2_conn *h)
{
    struct client *c = h->c;
    for (;;) {
        while (h->ooff < h->olen) {
            if (!c->writable)
                return 0;
            ssize_t n = tls_io_send(c->io.fd, c->tls, h->obuf + h->ooff, h->olen - h->ooff, 0);
            if (n > 0)
                h->ooff += (size_t)n;
            else if (n == -1 && (errno == EAGAIN || errno == EINTR))
                c->writable = false;
            else
                return -1;
        }
        h->ooff = h->olen = 0;
        while (h->olen < OUT_BATCH) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(h->sess.ng, &p);
            if (n < 0)
                return -1;
            if (n == 0)
                break;
            if ((size_t)n > h->ocap - h->olen) {
                size_t cap = h->ocap ? h->ocap : OUT_BATCH;
                while (cap < h->olen + (size_t)n)
                    cap *= 2;
                char *o = realloc(h->obuf, cap);
                if (!o)
                    return -1;
                h->obuf = o;
                h->ocap = cap;
            }
            memcpy(h->obuf + h->olen, p, (size_t)n);
            h->olen += (size_t)n;
        }
        if (h->olen == 0)
            return 0;
    }
}

static void arm(struct h2_conn *h, uint8_t kind, uint32_t ms)
{
    struct worker *w = h->c->w;
    if (h->timer_kind == kind)
        return;
    h->timer_kind = kind;
    if (kind == TK_NONE)
        timer_disarm(&w->loop.timers, &h->c->timer);
    else
        timer_arm(&w->loop.timers, &h->c->timer, w->loop.now_ms + ms);
}

void h2_conn_kick(struct h2_conn *h)
{
    struct client *c = h->c;
    const struct cfg_timeouts *t = &c->wc->cfg->timeouts;
    if (flush(h) != 0 || h->sess.fatal || (h->sess.calm && h->olen == 0) ||
        (h2_session_done(&h->sess) && h->olen == 0)) {
        client_close_now(c); /* frees h */
        return;
    }
    if (h->olen && !c->writable)
        arm(h, TK_SEND, t->client_send_ms);
    else if (h->nstarted == 0 && h->sess.nstreams)
        arm(h, TK_HEAD, t->client_header_ms); /* a header block is still arriving */
    else if (h->nstarted == 0)
        arm(h, TK_IDLE, h->sess.nrequests ? t->keepalive_ms : t->client_header_ms);
    else
        arm(h, TK_STALL, t->client_send_ms); /* streams run: look for stalled ones */
}

/* A deferred call for a connection freed meanwhile frees it (the last one to run). */
static bool gone(struct h2_conn *h)
{
    if (!h->dead)
        return false;
    if (!h->kick_queued && !h->read_queued)
        free(h);
    return true;
}

static void deferred_kick(void *arg)
{
    struct h2_conn *h = arg;
    h->kick_queued = false;
    if (!gone(h))
        h2_conn_kick(h);
}

static void deferred_read(void *arg)
{
    struct h2_conn *h = arg;
    h->read_queued = false;
    if (!gone(h))
        h2_conn_event(h);
}

void h2_conn_kick_later(struct h2_conn *h)
{
    if (h->kick_queued)
        return;
    if (ev_defer(&h->c->w->loop, deferred_kick, h) == 0)
        h->kick_queued = true;
    else
        h2_conn_kick(h);
}

void h2_conn_event(struct h2_conn *h)
{
    struct client *c = h->c;
    uint8_t buf[IN_CHUNK];
    for (int turn = 0; c->readable && !h->sess.calm && !h->sess.fatal; turn++) {
        /* Edge-triggered: no new event comes for what is left, so come back after the batch
         * (or, when that cannot be queued, read on). */
        if (turn >= READS_PER_TURN &&
            (h->read_queued || ev_defer(&c->w->loop, deferred_read, h) == 0)) {
            h->read_queued = true;
            break;
        }
        ssize_t n = tls_io_recv(c->io.fd, c->tls, buf, sizeof(buf));
        if (n > 0) {
            if ((size_t)n < sizeof(buf) && !c->rdhup)
                c->readable = false;
            if (h2_session_recv(&h->sess, buf, (size_t)n, c->w->loop.now_ms) != 0)
                break;
        } else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            c->readable = false;
        } else {
            client_close_now(c); /* the peer went: its streams' exchanges are cancelled */
            return;
        }
    }
    if (c->w->draining && !h->draining && (h->sess.nstreams || h->sess.nrequests))
        h2_conn_drain(h); /* accepted while draining: these streams are served, then GOAWAY */
    else if (c->writable && h->olen)
        h2_conn_kick(h); /* the socket drained: write on now */
    else
        h2_conn_kick_later(h);
}

void h2_conn_timeout(struct h2_conn *h)
{
    uint8_t kind = h->timer_kind;
    h->timer_kind = TK_NONE;
    if (kind == TK_STALL) {
        /* A stream whose response has waited on the client's window for client_send: reset
         * (its exchange is cancelled); the others go on. */
        uint32_t ms = h->c->wc->cfg->timeouts.client_send_ms;
        uint64_t now = h->c->w->loop.now_ms;
        for (struct dlist *n = h->sess.streams.next; n != &h->sess.streams; n = n->next) {
            struct h2_stream *s = container_of(n, struct h2_stream, link);
            if (h2_stream_stalled(s, now, ms))
                h2_session_reset(&h->sess, s->id, NGHTTP2_CANCEL);
        }
        h2_conn_kick(h);
        return;
    }
    if (kind == TK_IDLE && !h->draining) {
        h2_conn_drain(h); /* idle: say goodbye, close once sent */
        return;
    }
    log_debug("HTTP/2 connection from %s: %s timeout", h->c->ip,
              kind == TK_SEND ? "send" : kind == TK_HEAD ? "header" : "idle");
    client_close_now(h->c);
}

void h2_conn_drain(struct h2_conn *h)
{
    if (!h->draining) {
        h->draining = true;
        h2_session_shutdown(&h->sess);
    }
    h2_conn_kick(h);
}

void h2_conn_free(struct h2_conn *h)
{
    mc_add(&shard(h)->h2_conns, (uint64_t)-1);
    h->closing = true;
    h2_session_free(&h->sess);
    h2_lane_close_idle(h);
    free(h->obuf);
    if (h->kick_queued || h->read_queued)
        h->dead = true; /* the queued call frees it */
    else
        free(h);
}

/* conn.c — one load connection: connect, write requests, parse answers with weir's own
 * HTTP/1.1 response parser (h1_parse_response, h1_chunked_feed) and hand each completed
 * exchange to its worker. Bodies are counted and dropped, never kept. Worker thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/h1.h"
#include "load/worker.h"

#define CONN_IN_CAP 65536u /* a head must fit; bodies stream through */

static const struct h1_limits conn_limits = {
    .max_request_line = 8192, .max_header_bytes = CONN_IN_CAP, .max_headers = H1_MAX_HEADERS};

int conn_open(struct worker *w, struct conn *c)
{
    const struct reqs *r = w->cfg->reqs;
    if (!c->in && !(c->in = malloc(CONN_IN_CAP)))
        return -1;
    int fd = w->cfg->tp->open(w->cfg->tp_ctx, (const struct sockaddr *)&r->addr, r->addrlen,
                              &c->tp_state);
    if (fd == -1)
        return -1;
    c->w = w;
    if (ev_io_add(&w->loop, &c->io, fd, conn_on_io, true) == -1) {
        w->cfg->tp->close(fd, c->tp_state);
        c->io.fd = -1;
        return -1;
    }
    c->connecting = true;
    c->writable = c->dead = c->close_after = false;
    c->olen = c->ooff = c->ilen = 0;
    c->qh = c->qn = 0;
    c->state = CONN_HEAD;
    return 0;
}

void conn_close(struct conn *c)
{
    if (c->io.fd != -1) {
        c->w->cfg->tp->close(c->io.fd, c->tp_state);
        c->io.fd = -1;
    }
    c->dead = true;
}

/* The connection failed or ended: its unanswered requests fail, the worker reconnects it. */
static void conn_lost(struct conn *c, bool timeout)
{
    if (c->qn)
        worker_record_fail(c->w, c->qn, timeout);
    c->qn = 0;
    conn_close(c);
    worker_conn_lost(c->w, c);
}

static void conn_flush(struct conn *c)
{
    while (c->ooff < c->olen && c->writable && !c->connecting) {
        ssize_t n = c->w->cfg->tp->write(c->io.fd, c->tp_state, c->out + c->ooff,
                                        c->olen - c->ooff);
        if (n == -1) {
            if (errno == EAGAIN) {
                c->writable = false;
                return;
            }
            if (errno == EINTR)
                continue;
            conn_lost(c, false);
            return;
        }
        c->ooff += (size_t)n;
    }
    if (c->ooff == c->olen) {
        if (c->olen && c->opening)
            worker_conn_sent(c->w, c);
        c->ooff = c->olen = 0;
    }
}

void conn_send(struct conn *c, uint64_t intended_us)
{
    struct worker *w = c->w;
    const struct reqs_tpl *t = reqs_pick(w->cfg->reqs, &w->rng);
    if (c->olen + t->len > c->ocap) {
        size_t cap = c->ocap ? c->ocap : 4096;
        while (cap < c->olen + t->len)
            cap *= 2;
        char *o = realloc(c->out, cap);
        if (!o) {
            worker_record_fail(w, 1, false);
            return;
        }
        c->out = o;
        c->ocap = cap;
    }
    memcpy(c->out + c->olen, t->bytes, t->len);
    c->olen += t->len;
    uint32_t slot = (c->qh + c->qn) % WORKER_MAX_DEPTH;
    c->q[slot] = (struct conn_req){.intended_us = intended_us, .sent_us = ev_clock_us(),
                                   .head = t->head};
    c->qn++;
    conn_flush(c);
}

/* The answer at the queue's head is complete. */
static void conn_complete(struct conn *c, uint64_t bytes)
{
    struct conn_req r = c->q[c->qh];
    c->qh = (c->qh + 1) % WORKER_MAX_DEPTH;
    c->qn--;
    c->state = CONN_HEAD;
    worker_record(c->w, &r, ev_clock_us(), c->status, bytes);
    if (!c->close_after) /* else nothing more goes on it: the server closes it */
        worker_conn_free_slot(c->w, c);
}

/* Parses what is in c->in; returns -1 when the connection must go. */
static int conn_parse(struct conn *c)
{
    struct worker *w = c->w;
    size_t off = 0;
    while (off < c->ilen || (c->state == CONN_BODY_LEN && c->body_left == 0)) {
        if (c->state == CONN_HEAD) {
            if (c->qn == 0)
                return -1; /* an answer nobody asked for */
            int n = h1_parse_response(c->in + off, c->ilen - off, &conn_limits,
                                      c->q[c->qh].head, &w->resp);
            if (n == H1_AGAIN)
                break;
            if (n < 0)
                return -1;
            off += (size_t)n;
            if (w->resp.status < 200)
                continue; /* 1xx: the real head follows */
            c->status = w->resp.status;
            c->close_after = (w->resp.flags & H1F_CONN_CLOSE) || w->resp.minor == 0;
            switch (w->resp.framing) {
            case H1_FRAME_NONE:
                c->state = CONN_BODY_LEN;
                c->body_left = 0;
                break;
            case H1_FRAME_LENGTH:
                c->state = CONN_BODY_LEN;
                c->body_left = w->resp.content_length;
                break;
            case H1_FRAME_CHUNKED:
                c->state = CONN_BODY_CHUNKED;
                h1_chunked_init(&c->chunked);
                break;
            case H1_FRAME_EOF:
                c->state = CONN_BODY_EOF;
                break;
            }
            continue;
        }
        if (c->state == CONN_BODY_LEN) {
            size_t take = c->ilen - off;
            if (take > c->body_left)
                take = (size_t)c->body_left;
            off += take;
            c->body_left -= take;
            if (c->body_left == 0) {
                conn_complete(c, 0);
                if (c->dead)
                    return 0;
                if (c->close_after)
                    return -1;
            }
            continue;
        }
        if (c->state == CONN_BODY_CHUNKED) {
            ssize_t n = h1_chunked_feed(&c->chunked, c->in + off, c->ilen - off, NULL);
            if (n < 0)
                return -1;
            off += (size_t)n;
            if (c->chunked.done) {
                conn_complete(c, 0);
                if (c->dead)
                    return 0;
                if (c->close_after)
                    return -1;
            } else if (n == 0) {
                break;
            }
            continue;
        }
        off = c->ilen; /* CONN_BODY_EOF: everything until the close */
    }
    if (off) {
        memmove(c->in, c->in + off, c->ilen - off);
        c->ilen -= off;
    }
    if (c->ilen == CONN_IN_CAP)
        return -1; /* a head larger than the buffer */
    return 0;
}

static void conn_read(struct conn *c)
{
    for (;;) {
        size_t room = CONN_IN_CAP - c->ilen;
        ssize_t n = c->w->cfg->tp->read(c->io.fd, c->tp_state, c->in + c->ilen, room);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return;
        if (n <= 0) {
            if (n == 0 && c->state == CONN_BODY_EOF && c->qn) {
                conn_complete(c, 0);
                conn_lost(c, false);
                return;
            }
            if (n == 0 && c->qn == 0) { /* an idle keep-alive connection closed */
                conn_close(c);
                worker_conn_ended(c->w, c);
                return;
            }
            conn_lost(c, false);
            return;
        }
        c->ilen += (size_t)n;
        int rc = conn_parse(c);
        if (c->dead)
            return;
        if (rc == -1) {
            if (c->qn == 0 && c->close_after) {
                conn_close(c);
                worker_conn_ended(c->w, c);
            } else {
                conn_lost(c, false);
            }
            return;
        }
        if ((size_t)n < room)
            return; /* a short read: the socket is drained (edge-triggered contract) */
    }
}

void conn_on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct conn *c = (struct conn *)io;
    events = c->w->cfg->tp->events(c->tp_state, events);
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        if (c->w->cfg->tp->connected(c->io.fd, c->tp_state) != 0) {
            conn_lost(c, false);
            return;
        }
        c->connecting = false;
        worker_conn_connected(c->w, c);
        if (c->dead)
            return;
    }
    if (events & EPOLLOUT) {
        c->writable = true;
        conn_flush(c);
        if (c->dead)
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
        conn_read(c);
}

void conn_check_timeout(struct conn *c, uint64_t now_us)
{
    if (c->dead || c->qn == 0)
        return;
    if (now_us - c->q[c->qh].sent_us > c->w->cfg->timeout_us)
        conn_lost(c, true);
}

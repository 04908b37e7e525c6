/* forward.c — see forward.h.
 *
 * The pump: each call moves as many bytes as the sockets take, in four steps repeated until
 * none makes progress: (1) request head/body up (a buffered body from memory or, with
 * sendfile, its temp file), (2) response bytes in, (3) the response head parsed and rewritten,
 * (4) head and body down — (2) to (4) are downstream.c's. While the client keeps up, body bytes are not copied: they go from
 * the buffer they were read into straight to the other socket (writev with the rewritten head).
 * Bytes the client does not take at once are copied into the exchange's read-ahead buffer when
 * the route allows it (buffering.h), so the upstream can be read to the end and released
 * before the client has everything; otherwise they wait (backpressure).
 * Framing is validated as bytes pass (Content-Length counted down, chunked fed through the
 * decoder), so a peer can never make weir forward bytes past the end of a message. */
#include "proxy/forward.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "event/sock.h"
#include "http/h1.h"
#include "balance/sticky.h"
#include "proxy/buffering.h"
#include "proxy/client.h"
#include "proxy/exchange.h"
#include "proxy/dlist.h"
#include "proxy/h1_writer.h"
#include "proxy/headers.h"
#include "proxy/transform.h"
#include "pipeline/arena.h"
#include "pipeline/runner.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"
#include "tls/tls_io.h"

/* ---- request direction -------------------------------------------------------------- */

/* Reads more request body from the client into c->in. Returns false when the client is gone
 * (the exchange was aborted). */
static bool read_client_body(struct client *c)
{
    if (!c->readable || c->eof)
        return true;
    if (buf_room(&c->in) == 0)
        buf_compact(&c->in);
    uint32_t room = buf_room(&c->in);
    if (!room)
        return true;
    ssize_t n = tls_io_recv(c->io.fd, c->tls, buf_tail(&c->in), room);
    if (n > 0) {
        c->in.len += (uint32_t)n;
        if ((uint32_t)n < room && !c->rdhup)
            c->readable = false;
    } else if (n == 0) {
        c->eof = true;
    } else if (errno == EAGAIN || errno == EINTR) {
        c->readable = false;
    } else {
        c->hup = true;
        c->eof = true;
    }
    return true;
}

/* Marks the bytes at the front of c->in that belong to the body as ready to go up.
 * Returns -1 when the body is malformed or too large (the exchange was ended). */
static int prepare_request_body(struct client *c)
{
    if (c->x->req_ready || c->x->req_done || c->x->body)
        return 0;
    if (c->in.len == 0)
        read_client_body(c);
    if (c->in.len == 0)
        return 0;
    const struct config *cfg = c->wc->cfg;
    if (c->x->req.framing == H1_FRAME_LENGTH) {
        uint64_t k = c->in.len < c->x->req_left ? c->in.len : c->x->req_left;
        c->x->req_ready = (uint32_t)k;
        c->x->req_left -= k;
    } else if (c->x->req.framing == H1_FRAME_CHUNKED && !c->x->req_chunk.done) {
        ssize_t k = h1_chunked_feed(&c->x->req_chunk, buf_head(&c->in), c->in.len, NULL);
        if (k < 0) {
            attempt_failed(c, FAIL_CLIENT, 400, "malformed chunked request body");
            return -1;
        }
        c->x->req_ready = (uint32_t)k;
        c->x->log.bytes_in += (uint64_t)k;
        if (cfg->limits.max_body && c->x->log.bytes_in - c->x->log.head_bytes > cfg->limits.max_body) {
            forward_abort(c);
            if (c->x->resp_head_done)
                client_abort(c);
            else
                client_reply(c, 413, "request body too large", true);
            return -1;
        }
        return 0;
    }
    c->x->log.bytes_in += c->x->req_ready;
    return 0;
}

static bool request_body_complete(const struct client *c)
{
    if (c->x->body)
        return c->x->body->sent == c->x->body->len;
    return c->x->req.framing == H1_FRAME_CHUNKED ? c->x->req_chunk.done : c->x->req_left == 0;
}

static int step_request(struct client *c)
{
    struct upconn *u = c->x->up;
    int progress = STEP_IDLE;
    if (!u)
        return STEP_IDLE; /* released early: the response is complete */
    for (;;) {
        if (prepare_request_body(c) < 0)
            return STEP_DONE;
        struct iovec iov[2];
        int n = 0;
        uint32_t head_left = c->x->uphead.len - c->x->uphead_sent;
        if (head_left)
            iov[n++] = (struct iovec){.iov_base = c->x->uphead.data + c->x->uphead_sent, .iov_len = head_left};
        struct reqbody *body = c->x->body;
        bool body_in_file = body && !buffering_body_in_memory(body) && body->sent < body->len;
        if (body && buffering_body_in_memory(body) && body->sent < body->len)
            iov[n++] = (struct iovec){.iov_base = body->mem + body->sent,
                                      .iov_len = body->len - body->sent};
        else if (c->x->req_ready)
            iov[n++] = (struct iovec){.iov_base = buf_head(&c->in), .iov_len = c->x->req_ready};
        if (!u->writable || (n == 0 && !body_in_file))
            break;
        if (n == 0) {
            /* The head is out; the body follows from its temp file. */
            uint64_t left = body->len - body->sent;
            ssize_t w = buffering_body_sendfile(body, u->io.fd, u->tls);
            if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
                u->writable = false;
                break;
            }
            if (w <= 0) {
                attempt_failed(c, FAIL_SERVER, 502,
                               "the upstream connection failed while sending the request");
                return STEP_DONE;
            }
            if ((uint64_t)w < left)
                u->writable = false;
            progress = STEP_PROGRESS;
            continue;
        }
        ssize_t w = tls_io_sendv(u->io.fd, u->tls, iov, n);
        if (w == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                u->writable = false;
                break;
            }
            attempt_failed(c, c->x->uphead_sent ? FAIL_SERVER : FAIL_CONNECT, 502,
                            "the upstream connection failed while sending the request");
            return STEP_DONE;
        }
        progress = STEP_PROGRESS;
        size_t total = (size_t)w;
        if ((size_t)w < iov[0].iov_len + (n == 2 ? iov[1].iov_len : 0))
            u->writable = false;
        uint32_t h = total < head_left ? (uint32_t)total : head_left;
        c->x->uphead_sent += h;
        total -= h;
        if (total && c->x->body) {
            c->x->body->sent += total;
        } else if (total) {
            buf_consume(&c->in, (uint32_t)total);
            c->x->req_ready -= (uint32_t)total;
            c->x->body_streamed = true;
        }
    }
    if (!c->x->req_done && c->x->uphead_sent == c->x->uphead.len && !c->x->req_ready &&
        request_body_complete(c)) {
        c->x->req_done = true;
        upconn_arm(u, response_timeout(c));
        progress = STEP_PROGRESS;
    }
    if (!c->x->req_done && !c->x->body && c->eof && !c->x->req_ready && !request_body_complete(c)) {
        client_abort(c); /* the client went away in the middle of its body */
        return STEP_DONE;
    }
    return progress;
}

/* ---- the pump ------------------------------------------------------------------------ */

/* The whole response is out of the upstream connection: it goes back to the pool (or is
 * closed) now, even when the client still has bytes to take from weir. */
static void release_upstream(struct client *c)
{
    struct h1x *x = c->x;
    bool reusable = x->req_done && x->resp_framing != H1_FRAME_EOF &&
                    !(x->resp.flags & H1F_CONN_CLOSE) &&
                    (x->resp.minor == 1 || (x->resp.flags & H1F_CONN_KEEPALIVE));
    if (x->ahead.len)
        mc_add(&c->w->metrics.responses_ahead, 1);
    attempt_release_server(c, x->grp->cfg->passive.on_5xx && x->resp.status >= 500);
    exchange_drop_upstream(c, reusable);
}

static void arm_client_timer(struct client *c)
{
    struct worker *w = c->w;
    const struct cfg_timeouts *t = &c->wc->cfg->timeouts;
    if (c->out.len || c->x->resp_ready || c->x->ahead.len)
        timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + t->client_send_ms);
    else if (!c->x->req_done && !c->x->req_ready)
        timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + t->client_body_ms);
    else
        timer_disarm(&w->loop.timers, &c->timer);
}

/* The tests before each downstream call are those calls' own first ones: a pump turn that
 * has nothing to read, parse or write (the turn after the request went up, the last turn of
 * every call) makes no calls. */
void exchange_pump(struct client *c)
{
    struct h1x *x = c->x;
    for (;;) {
        int a = step_request(c);
        if (a == STEP_DONE)
            return;
        struct upconn *u = x->up;
        int b = u && u->readable && !u->eof ? downstream_read(c) : STEP_IDLE;
        if (!x->resp_head_done && (u->in.len || u->eof)) {
            int h = downstream_parse_head(c);
            if (h == STEP_DONE)
                return;
            b |= h;
        }
        int d = c->out.len || x->ahead.len || x->resp_ready || x->resp_head_done
                    ? downstream_step(c)
                    : STEP_IDLE;
        if (d == STEP_DONE)
            return;
        if (c->x->resp_done && c->x->up && !c->x->resp_ready && !c->x->resp_skip)
            release_upstream(c);
        if (c->x->resp_done && !c->x->up && !c->out.len && !c->x->ahead.len) {
            c->x->base.response_complete = true;
            client_exchange_done(c);
            return;
        }
        if (a == STEP_IDLE && b == STEP_IDLE && d == STEP_IDLE)
            break;
    }
    if (c->x->up && (c->x->resp_head_done || !c->x->req_done))
        upconn_arm(c->x->up, group_of(c)->idle_timeout_ms);
    arm_client_timer(c);
}

/* ---- connecting ---------------------------------------------------------------------- */

void exchange_connected(struct client *c)
{
    c->state = CS_PROXY;
    c->x->up->connecting = false;
    if (c->x->send_continue) {
        c->x->send_continue = false;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (buf_append(&c->out, cont, sizeof(cont) - 1) == -1) {
            client_abort(c);
            return;
        }
    }
    upconn_arm(c->x->up, c->x->req_done ? response_timeout(c) : group_of(c)->idle_timeout_ms);
    exchange_pump(c);
}

static void copy_key(struct client *c, struct str v)
{
    size_t n = v.len < sizeof(c->x->lb_key) ? v.len : sizeof(c->x->lb_key);
    if (n)
        memcpy(c->x->lb_key, v.ptr, n);
    c->x->lb_key_len = (uint32_t)n;
}

/* The value of cookie `name` among the request's Cookie fields, or empty. */
static struct str request_cookie(const struct h1_request *r, const char *name)
{
    struct str n = str_cstr(name);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        if (STR_EQ_LIT_NOCASE(r->headers[i].name, "cookie")) {
            struct str v = lb_cookie_value(r->headers[i].value, n);
            if (v.len)
                return v;
        }
    }
    return STR_NULL;
}

/* Copies what balancing needs from the request head while its slices are valid: the hash key
 * (hash strategy only) and the sticky token. */
static void copy_balance_keys(struct client *c)
{
    const struct cfg_upstream *g = c->x->grp->cfg;
    const struct h1_request *r = &c->x->req;
    c->x->lb_key_len = 0;
    c->x->sticky[0] = '\0';
    if (c->x->grp->lb == &lb_hash) {
        switch (g->hash_source) {
        case CFG_HASH_CLIENT_IP:
            copy_key(c, str_cstr(c->ip));
            break;
        case CFG_HASH_HEADER: {
            int i = h1_find_header(r->headers, r->nheaders, str_cstr(g->hash_name));
            if (i >= 0)
                copy_key(c, r->headers[i].value);
            break;
        }
        case CFG_HASH_COOKIE:
            copy_key(c, request_cookie(r, g->hash_name));
            break;
        }
    }
    if (g->sticky_cookie) {
        struct str v = request_cookie(r, g->sticky_cookie);
        if (v.len == LB_STICKY_TOKEN_LEN) {
            memcpy(c->x->sticky, v.ptr, v.len);
            c->x->sticky[v.len] = '\0';
        }
    }
}

void forward_start(struct client *c, bool websocket)
{
    struct worker *w = c->w;
    if (!c->x->uphead.data && c->x->route->upstream) {
        uint32_t size = c->wc->cfg->limits.max_header_bytes + 2048;
        if (size < WORKER_BUF_SIZE)
            size = WORKER_BUF_SIZE;
        c->x->uphead.data = size == WORKER_BUF_SIZE ? worker_buf_get(w) : malloc(size);
        c->x->uphead.cap = size;
    }
    if (!c->out.data) {
        c->out.data = worker_buf_get(w);
        c->out.cap = WORKER_BUF_SIZE;
    }
    c->out.off = c->out.len = 0;
    if ((!c->x->uphead.data && c->x->route->upstream) || !c->out.data) {
        client_reply(c, 503, "out of memory", true);
        return;
    }
    const struct cfg_upstream *g = c->x->route->upstream;
    c->x->server = -1;
    if (g) {
        if (headers_build_request(c, websocket) == -1) {
            client_reply(c, 431, "request head too large once forwarded", true);
            return;
        }
        c->x->grp = &c->wc->groups[g - c->wc->cfg->upstreams];
        copy_balance_keys(c);
    }
    c->x->attempts = 0;
    c->x->set_sticky = false;
    admission_start(c);
}

void forward_end(struct client *c)
{
    exchange_release(c, c->x->log.status);
}

bool exchange_replayable(const struct client *c)
{
    return c->x->req.framing == H1_FRAME_NONE ||
           (c->x->req.framing == H1_FRAME_LENGTH && c->x->req.content_length == 0) ||
           (c->x->body && !c->x->buffering) || !c->x->body_streamed;
}

/* ---- events ---------------------------------------------------------------------------- */

void forward_upstream_event(struct client *c)
{
    if (c->state == CS_CONNECT) {
        struct upconn *u = c->x->up;
        if (!u->writable && !u->readable)
            return;
        int err = sock_connect_result(u->io.fd);
        if (err) {
            c->x->log.status = 502;
            attempt_failed(c, FAIL_CONNECT, 502,
                            err == ECONNREFUSED ? "the upstream refused the connection"
                                                : "cannot connect to the upstream");
            return;
        }
        if (u->tls && !u->tls->established) {
            /* The TLS handshake, within the connect timeout. */
            int hs = tls_conn_handshake(u->tls);
            if (hs == 0)
                return;
            if (hs < 0) {
                char why[200];
                snprintf(why, sizeof(why), "the upstream TLS handshake failed: %s", u->tls->why);
                upconn_tls_failed(u);
                c->x->log.status = 502;
                attempt_failed(c, FAIL_CONNECT, 502, why);
                return;
            }
            upconn_tls_established(u);
        }
        exchange_connected(c);
        return;
    }
    if (c->state == CS_TUNNEL)
        tunnel_pump(c);
    else
        exchange_pump(c);
}

void forward_client_event(struct client *c)
{
    if (c->state == CS_ADMIT) {
        admission_client_event(c);
        return;
    }
    if (c->state == CS_CONNECT || c->state == CS_BACKOFF) {
        if (c->hup) {
            client_abort(c);
        }
        return; /* body bytes wait in the socket until the upstream is there */
    }
    if (c->state == CS_TUNNEL)
        tunnel_pump(c);
    else
        exchange_pump(c);
}

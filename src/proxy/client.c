/* client.c — see client.h. A client connection cycles CS_HEAD → (CS_CONNECT → CS_PROXY |
 * CS_REPLY) → CS_HEAD …, and ends through CS_LINGER (write side shut, input drained so the
 * last response is not destroyed by a reset) or an immediate close. */
#include "proxy/client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "core/log.h"
#include "event/sock.h"
#include "h2/h2_conn.h"
#include "http/h1.h"
#include "proxy/accesslog_line.h"
#include "proxy/client_tls.h"
#include "proxy/dlist.h"
#include "proxy/forward.h"
#include "pipeline/runner.h"
#include "proxy/headers.h"
#include "proxy/router.h"
#include "proxy/wconf.h"
#include "proxy/worker.h"
#include "security/audit.h"
#include "security/ip_rules.h"
#include "tls/tls_io.h"

#define LINGER_MS 2000
/* Closing an idle connection at shutdown: long enough for a request that crossed our FIN
 * to arrive and be discarded, short enough not to hold the stop up. */
#define DRAIN_LINGER_MS 1000
#define DRAIN_FIRST_MS 1000u /* a fresh connection's first request, while draining */
#define LINGER_MAX_BYTES (1u << 20)

static void client_run(struct client *c);
static void client_read_head(struct client *c);

/* ---- allocation ---------------------------------------------------------------------- */

static uint32_t in_size(const struct config *cfg)
{
    uint32_t need = cfg->limits.max_header_bytes + 4096;
    return need > WORKER_BUF_SIZE ? need : WORKER_BUF_SIZE;
}

static char *buf_alloc(struct worker *w, uint32_t size)
{
    return size == WORKER_BUF_SIZE ? worker_buf_get(w) : malloc(size);
}

static void buf_release(struct worker *w, struct buf *b)
{
    if (b->data) {
        if (b->cap == WORKER_BUF_SIZE)
            worker_buf_put(w, b->data);
        else
            free(b->data);
    }
    *b = (struct buf){0};
}

int client_ensure_buf(struct worker *w, struct buf *b, uint32_t size)
{
    if (b->data)
        return 0;
    b->data = buf_alloc(w, size);
    if (!b->data)
        return -1;
    b->cap = size;
    b->off = b->len = 0;
    return 0;
}

static void client_free(void *arg)
{
    struct client *c = arg;
    worker_client_put(c->w, c);
}

/* ---- closing ------------------------------------------------------------------------- */

void client_close_now(struct client *c)
{
    struct worker *w = c->w;
    if (c->state == CS_CLOSED)
        return;
    if (c->x) {
        forward_abort(c);
        pipeline_end(&c->x->base, 0);
    }
    c->state = CS_CLOSED;
    timer_disarm(&w->loop.timers, &c->timer);
    if (c->h2) {
        h2_conn_free(c->h2);
        c->h2 = NULL;
    }
    free(c->h2_origin);
    c->h2_origin = NULL;
    if (c->tls) {
        tls_conn_free(c->tls);
        c->tls = NULL;
    }
    if (c->io.fd >= 0)
        close(c->io.fd);
    c->io.fd = -1;
    buf_release(w, &c->in);
    buf_release(w, &c->out);
    if (c->x) {
        buf_release(w, &c->x->uphead);
        worker_x_put(w, c->x);
        c->x = NULL;
    }
    dlist_remove(&c->link);
    wconf_put(c->wc);
    c->wc = NULL;
    if (ev_defer(&w->loop, client_free, c) == -1)
        client_free(c); /* io.fd is -1: later events in the batch skip it */
    worker_client_gone(w);
}

void client_abort(struct client *c)
{
    client_close_now(c);
}

/* Half-closes and drains input for a while so the client reads our last response before any
 * reset (RFC 9112 §9.6). */
static void client_linger(struct client *c, uint32_t ms)
{
    struct worker *w = c->w;
    if (c->tls && !c->eof && !c->hup)
        tls_conn_shutdown(c->tls); /* close_notify, then the TCP half-close */
    if (c->eof || c->hup || shutdown(c->io.fd, SHUT_WR) == -1) {
        client_close_now(c);
        return;
    }
    c->state = CS_LINGER;
    c->in.off = c->in.len = 0;
    c->drained = 0;
    timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + ms);
    client_run(c);
}

static void linger_drain(struct client *c)
{
    while (c->readable && c->in.data) {
        ssize_t n = read(c->io.fd, c->in.data, c->in.cap);
        if (n > 0) {
            c->drained += (uint32_t)n;
            if (c->drained > LINGER_MAX_BYTES)
                break;
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
            c->readable = false;
            return;
        }
        break; /* EOF or error */
    }
    client_close_now(c);
}

void client_drain(struct client *c)
{
    if (c->h2) {
        h2_conn_drain(c->h2); /* GOAWAY: the streams in flight finish */
        return;
    }
    c->closing = true;
    if (c->state != CS_HEAD || c->head_started)
        return; /* the exchange in flight ends with Connection: close */
    if (c->nrequests == 0) {
        /* A connection accepted a moment ago carries its first request on the way (the
         * client just connected for it; a new weir taking over the port in a binary upgrade
         * is not known to it): answer that request (with Connection: close) rather than
         * close on a client that did nothing wrong; its header timeout still applies. */
        struct worker *w = c->wc->w;
        uint64_t ms = c->wc->cfg->timeouts.client_header_ms;
        timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + (ms < DRAIN_FIRST_MS ? ms : DRAIN_FIRST_MS));
        return;
    }
    /* Idle: a request may be in the socket already, its event not yet seen. Read it and
     * answer it with Connection: close; if there is none, half-close and drain, so a request
     * that crosses our FIN is discarded rather than answered with a reset. */
    c->readable = true;
    client_read_head(c);
    if (c->state == CS_HEAD && !c->head_started)
        client_linger(c, DRAIN_LINGER_MS);
}

/* ---- the request cycle ---------------------------------------------------------------- */

/* Plain values for a new exchange (the struct is not zeroed beyond what is set here). */
static void reset_exchange(struct client *c)
{
    struct h1x *x = c->x;
    x->route = NULL;
    x->up = NULL;
    x->req_done = false;
    x->retried = false;
    x->req_left = 0;
    x->req_ready = 0;
    x->send_continue = false;
    x->resp_head_done = x->resp_done = x->resp_decode = x->resp_head_request = false;
    x->resp_left = 0;
    x->resp_ready = x->resp_skip = 0;
    x->got_response_bytes = false;
    x->request_id[0] = '\0';
    x->grp = NULL;
    /* Admission state: released by forward_end; plain values here (a new exchange is not
     * zeroed). */
    x->rs = NULL;
    x->admitted = x->group_permit = x->server_permit = x->budget_granted = false;
    x->buffering = x->body_for_module = false;
    x->server_breaker = NULL;
    x->body = NULL;
    x->body_error = 0;
    x->ahead = (struct buf){0};
    x->ahead_off = false;
    x->body_streamed = false;
    x->reply_body = NULL;
    x->reply_left = 0;
    x->reply_fd = -1;
    x->window_end = 0;
    x->reply_warming = false;
    x->transforming = x->tx_done = false;
    x->tx_scratch = NULL;
    x->tx_pending = 0;
    x->req.framing = H1_FRAME_NONE;
    x->req.method_id = H1_M_OTHER;
    /* Field by field: zeroing the struct would write its text buffers whole (~350 bytes). */
    x->log.method[0] = x->log.path[0] = x->log.client[0] = '\0';
    x->log.upstream = NULL;
    x->log.t_start_us = x->log.t_upstream_us = 0;
    x->log.bytes_in = x->log.bytes_out = 0;
    x->log.head_bytes = 0;
    x->log.status = 0;
    x->base.chain = NULL;
    x->base.worker = &c->w->pw;
    x->base.request_id = x->request_id;
    x->base.client_ip = c->ip; /* trusted_proxies may replace it (arena memory) */
    x->base.internal = c->internal;
    x->base.tls = client_is_tls(c);
    pipeline_start(&x->base);
}

/* The connection's exchange, taken from the worker's free list when a head starts. */
static struct h1x *client_x(struct client *c)
{
    if (c->x)
        return c->x;
    struct h1x *x = worker_x_get(c->w);
    if (!x)
        return NULL;
    x->c = c;
    x->uphead = (struct buf){0};
    x->total_timer = (struct timer){0};
    x->waiting = x->counted = false;
    x->server = -1;
    c->x = x;
    reset_exchange(c);
    return x;
}

/* Between requests: give the exchange and an empty read buffer back to the worker. */
static void client_go_idle(struct client *c)
{
    struct worker *w = c->w;
    if (c->x) {
        buf_release(w, &c->x->uphead);
        worker_x_put(w, c->x);
        c->x = NULL;
    }
    if (c->in.len == 0)
        buf_release(w, &c->in);
}

static void resume_pipeline(void *arg)
{
    struct client *c = arg;
    if (c->state == CS_HEAD)
        client_read_head(c);
}

/* One exchange into the worker's shards: worker, route, group (relaxed stores, no lock). */
static void record_metrics(struct client *c)
{
    struct worker *w = c->w;
    const struct exchange_log *l = &c->x->log;
    uint64_t total_us = c->x->t_end_us - l->t_start_us;
    unsigned cls = l->status >= 100 && l->status < 600 ? (unsigned)l->status / 100 : 0;
    struct worker_shard *ws = &w->metrics;
    mc_add(&ws->requests, 1);
    if (c->h2_stream)
        mc_add(&ws->h2_requests, 1);
    mc_add(&ws->status[cls], 1);
    mc_add(&ws->bytes_in, l->bytes_in);
    mc_add(&ws->bytes_out, l->bytes_out);
    hist_record(&ws->total, total_us);
    if (c->x->rs) {
        struct route_shard *rm = &c->x->rs->m[w->id];
        mc_add(&rm->requests, 1);
        mc_add(&rm->methods[metrics_method_class(c->x->req.method_id)], 1);
        mc_add(&rm->status[cls], 1);
        mc_add(&rm->bytes_in, l->bytes_in);
        mc_add(&rm->bytes_out, l->bytes_out);
        hist_record(&rm->total, total_us);
        if (l->upstream && l->t_upstream_us)
            hist_record(&rm->upstream, c->x->t_end_us - l->t_upstream_us);
    }
    if (c->x->grp && c->x->grp->gs && l->upstream && l->t_upstream_us)
        hist_record(&c->x->grp->gs->m[w->id].upstream, c->x->t_end_us - l->t_upstream_us);
}

void client_exchange_done(struct client *c)
{
    struct worker *w = c->w;
    if (c->state != CS_HEAD)
        forward_end(c);
    const char *cip = c->x->base.client_ip; /* arena memory when trusted_proxies set it */
    if (cip && cip != c->ip)
        snprintf(c->x->log.client, sizeof(c->x->log.client), "%s", cip);
    pipeline_end(&c->x->base, (uint16_t)c->x->log.status);
    if (c->x->log.t_start_us) {
        c->x->t_end_us = ev_clock_us();
        if (c->wc->cfg->metrics)
            record_metrics(c);
        accesslog_line_write(c);
    }
    buf_release(w, &c->x->uphead);
    if (c->out.len == 0)
        buf_release(w, &c->out);
    bool again = c->keepalive && !c->closing && !c->eof && !c->hup && !w->draining;
    if (again && c->in.len == 0 && !c->readable)
        client_go_idle(c); /* client_x resets the exchange it takes for the next head */
    else
        reset_exchange(c);
    if (!again) {
        client_linger(c, LINGER_MS);
        return;
    }
    c->state = CS_HEAD;
    c->head_started = c->in.len > 0;
    timer_arm(&w->loop.timers, &c->timer,
              w->loop.now_ms + (c->head_started ? c->wc->cfg->timeouts.client_header_ms
                                                : c->wc->cfg->timeouts.keepalive_ms));
    /* Pipelined bytes, in the buffer or still in the socket: readiness reported while the
     * exchange was busy was not consumed (the socket is edge-triggered, so no new event would
     * come for them). Parse after this batch instead of recursing. */
    if (c->in.len || c->readable) {
        if (ev_defer(&w->loop, resume_pipeline, c) == -1)
            client_close_now(c);
    }
}

static void copy_log_fields(struct client *c)
{
    struct exchange_log *l = &c->x->log;
    size_t n = c->x->req.method.len < sizeof(l->method) - 1 ? c->x->req.method.len : sizeof(l->method) - 1;
    if (n)
        memcpy(l->method, c->x->req.method.ptr, n);
    l->method[n] = '\0';
    n = c->x->req.target.len < sizeof(l->path) - 1 ? c->x->req.target.len : sizeof(l->path) - 1;
    if (n)
        memcpy(l->path, c->x->req.target.ptr, n);
    l->path[n] = '\0';
}

static void dispatch(struct client *c, uint32_t head_len)
{
    struct worker *w = c->w;
    const struct config *cfg = c->wc->cfg;
    const struct h1_request *r = &c->x->req;
    c->nrequests++;
    c->x->log.t_start_us = ev_clock_us();
    c->x->log.bytes_in = c->x->log.head_bytes = head_len;
    copy_log_fields(c);

    struct str rid = headers_client_request_id(r);
    if (rid.len) {
        memcpy(c->x->request_id, rid.ptr, rid.len);
        c->x->request_id[rid.len] = '\0';
    } else {
        worker_request_id(w, c->x->request_id);
    }
    c->keepalive = r->minor == 1 ? !(r->flags & H1F_CONN_CLOSE)
                                 : (r->flags & H1F_CONN_KEEPALIVE) && !(r->flags & H1F_CONN_CLOSE);
    if (w->draining)
        c->closing = true;
    timer_disarm(&w->loop.timers, &c->timer);

    /* Consumed now whatever happens next; the slices in c->x->req stay valid until c->in is
     * read into again (buf_consume only moves the offset). */
    buf_consume(&c->in, head_len);
    c->state = CS_CONNECT; /* past the head: client_reply now knows a body may be unread */
    c->x->req_left = r->framing == H1_FRAME_LENGTH ? r->content_length : 0;
    if (r->framing == H1_FRAME_CHUNKED)
        h1_chunked_init(&c->x->req_chunk);
    else
        c->x->req_chunk.done = true;
    c->x->req_done = r->framing == H1_FRAME_NONE || (r->framing == H1_FRAME_LENGTH && !c->x->req_left);

    if (r->method_id == H1_M_CONNECT) {
        client_reply(c, 405, "CONNECT is not supported by this gateway", true);
        return;
    }
    struct str path;
    struct str host = headers_route_host(r, &path);
    if (__builtin_expect(c->redirect_https, 0)) {
        client_tls_redirect(c, host, path);
        return;
    }
    c->x->route = router_match(cfg, host, path, r->method);
    if (!c->x->route) {
        client_reply(c, 404, "no route for this request", false);
        return;
    }
    bool websocket = (r->flags & H1F_UPGRADE_WEBSOCKET) && (r->flags & H1F_CONN_UPGRADE) &&
                     r->method_id == H1_M_GET && r->minor == 1;
    c->x->send_continue = (r->flags & H1F_EXPECT_CONTINUE) && r->minor == 1 && !c->x->req_done;
    forward_start(c, websocket);
}

/* A plain listener with `http2: true`: the HTTP/2 preface (RFC 9113 §3.3, prior knowledge)
 * turns the connection over to src/h2. Returns 1 when it did (or closed), -1 while the bytes
 * so far are a prefix of the preface, 0 for HTTP/1.1. */
static int h2c_check(struct client *c)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t n = c->in.len < sizeof(preface) - 1 ? c->in.len : sizeof(preface) - 1;
    if (memcmp(buf_head(&c->in), preface, n) != 0) {
        c->h2c_ok = false;
        return 0;
    }
    if (n < sizeof(preface) - 1)
        return -1;
    int r = h2_conn_start(c, buf_head(&c->in), c->in.len);
    c->in.len = 0;
    client_go_idle(c);
    if (r != 0)
        client_close_now(c);
    else
        h2_conn_event(c->h2);
    return 1;
}

static void client_read_head(struct client *c)
{
    struct worker *w = c->w;
    const struct config *cfg = c->wc->cfg;
    const struct h1_limits lim = {
        .max_request_line = cfg->limits.max_request_line,
        .max_header_bytes = cfg->limits.max_header_bytes,
        .max_headers = cfg->limits.max_headers,
        .max_body = cfg->limits.max_body,
    };
    for (;;) {
        int h2c = __builtin_expect(c->h2c_ok, 0) && c->in.len ? h2c_check(c) : 0;
        if (h2c > 0)
            return;
        if (c->in.len && h2c == 0) {
            if (!client_x(c)) {
                client_close_now(c);
                return;
            }
            int r = h1_parse_request(buf_head(&c->in), c->in.len, &lim, &c->x->req);
            if (r > 0) {
                dispatch(c, (uint32_t)r);
                return;
            }
            if (r < 0) {
                copy_log_fields(c);
                c->x->log.t_start_us = ev_clock_us();
                client_reply(c, -r, c->x->req.error ? c->x->req.error : "malformed request", true);
                return;
            }
        }
        if (c->eof || c->hup) {
            client_close_now(c); /* closed between requests or mid-head: nothing to answer */
            return;
        }
        if (!c->readable)
            return;
        if (client_ensure_buf(w, &c->in, in_size(cfg)) == -1) {
            client_close_now(c);
            return;
        }
        if (buf_room(&c->in) == 0) {
            buf_compact(&c->in);
            if (buf_room(&c->in) == 0) {
                client_reply(c, 431, "request head too large", true);
                return;
            }
        }
        uint32_t room = buf_room(&c->in);
        ssize_t n = tls_io_recv(c->io.fd, c->tls, buf_tail(&c->in), room);
        if (n > 0) {
            if (!c->head_started) {
                c->head_started = true;
                timer_arm(&w->loop.timers, &c->timer,
                          w->loop.now_ms + cfg->timeouts.client_header_ms);
            }
            c->in.len += (uint32_t)n;
            if ((uint32_t)n < room && !c->rdhup)
                c->readable = false;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EINTR) {
            c->readable = false;
        } else {
            c->hup = true;
        }
    }
}

static void on_client_timer(struct timer *t)
{
    struct client *c = container_of(t, struct client, timer);
    switch (c->state) {
    case CS_HEAD:
        if (__builtin_expect(c->tls != NULL, 0) && !c->tls->established) {
            client_tls_timeout(c);
            client_close_now(c);
        } else if (c->head_started) {
            c->x->log.t_start_us = ev_clock_us();
            client_reply(c, 408, "the request head did not arrive in time", true);
        } else {
            client_close_now(c);
        }
        break;
    case CS_ADMIT:
    case CS_BACKOFF:
    case CS_CONNECT:
    case CS_PROXY:
    case CS_TUNNEL:
        forward_client_timeout(c);
        break;
    case CS_H2:
        h2_conn_timeout(c->h2);
        break;
    case CS_REPLY:
        if (c->reply_yield) { /* not a timeout: the turn reply_progress gave away */
            c->reply_yield = false;
            client_reply_progress(c);
            break;
        }
        client_close_now(c);
        break;
    default:
        client_close_now(c);
        break;
    }
}

static void client_run(struct client *c)
{
    switch (c->state) {
    case CS_HEAD:
        client_read_head(c);
        break;
    case CS_ADMIT:
    case CS_BACKOFF:
    case CS_CONNECT:
    case CS_PROXY:
    case CS_TUNNEL:
        forward_client_event(c);
        break;
    case CS_REPLY:
        client_reply_progress(c);
        break;
    case CS_LINGER:
        linger_drain(c);
        break;
    case CS_H2:
        h2_conn_event(c->h2);
        break;
    case CS_CLOSED:
        break;
    }
}

static void on_client_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct client *c = (struct client *)io;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    if (events & (EPOLLHUP | EPOLLERR))
        c->hup = true;
    if (events & EPOLLRDHUP)
        c->rdhup = true;
    if (__builtin_expect(c->tls != NULL, 0)) {
        int r = client_tls_event(c, events);
        if (r == -2 && client_ensure_buf(c->w, &c->in, in_size(c->wc->cfg)) == 0)
            client_linger(c, LINGER_MS); /* plain HTTP answered: let the client read it */
        else if (r < 0)
            client_close_now(c);
        if (r <= 0)
            return;
    }
    client_run(c);
}

/* A listener's ip_rules on the socket's peer (trusted proxies do not apply: no header yet). */
static bool listener_ip_allowed(const struct ip_rules *r, const struct sockaddr_storage *peer)
{
    char ip[INET6_ADDRSTRLEN + 8];
    sock_ntop(peer, ip, sizeof(ip));
    if (ip_rules_check(r, ip, strlen(ip)) == IP_RULES_PASS)
        return true;
    audit_emit(&(struct audit_event){.event = "ip_denied", .client = ip,
                                     .rule = "listen.ip_rules"});
    return false;
}

/* A client struct for a connection from peer on listener (not yet registered anywhere). */
static struct client *client_new(struct worker *w, const struct sockaddr_storage *peer,
                                 uint16_t listener)
{
    struct client *c = worker_client_get(w);
    if (!c)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->peer = *peer;
    sock_ntop(peer, c->ip, sizeof(c->ip));
    c->wc = w->wc;
    c->listener = listener;
    c->redirect_https = listener != CLIENT_LISTENER_INTERNAL &&
                        c->wc->cfg->listeners[listener].redirect_https != 0;
    c->h2c_ok = listener != CLIENT_LISTENER_INTERNAL && !c->wc->cfg->listeners[listener].tls &&
                c->wc->cfg->listeners[listener].http2;
    c->state = CS_HEAD;
    c->keepalive = true;
    timer_init(&c->timer, on_client_timer);
    return c;
}

/* The client joins the worker's list; its first timeout starts. */
static void client_join(struct client *c, uint32_t first_ms)
{
    struct worker *w = c->w;
    c->wc->users++;
    dlist_push_front(&w->clients, &c->link);
    w->nclients++;
    mc_add(&w->metrics.accepted, 1);
    timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + first_ms);
}

struct client *client_accept(struct worker *w, int fd, const struct sockaddr_storage *peer,
                             uint16_t listener)
{
    if (listener != CLIENT_LISTENER_INTERNAL && w->wc->cfg->listeners[listener].ip_rules &&
        !listener_ip_allowed(w->wc->cfg->listeners[listener].ip_rules, peer)) {
        close(fd); /* nothing read, nothing answered: the cheapest refusal */
        return NULL;
    }
    struct client *c = client_new(w, peer, listener);
    if (!c) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint32_t first_ms = client_tls_accept(c, fd);
    if (!first_ms) {
        close(fd);
        worker_client_put(w, c);
        return NULL;
    }
    /* No buffer and no exchange yet: both come with the first bytes. */
    if (ev_io_add(&w->loop, &c->io, fd, on_client_event, true) == -1) {
        tls_conn_free(c->tls);
        close(fd);
        worker_client_put(w, c);
        return NULL;
    }
    client_join(c, first_ms);
    /* Accepted while draining (the hand-over's last 100 ms, or what queued before the listeners
     * closed): its first request is on the way — answer it with Connection: close. Closing
     * here instead would reset a connection whose request already arrived. */
    if (w->draining)
        client_drain(c);
    return c;
}

struct client *client_accept_virtual(struct worker *w, struct tls_conn *vc,
                                     const struct sockaddr_storage *peer)
{
    struct client *c = client_new(w, peer, CLIENT_LISTENER_INTERNAL);
    if (!c)
        return NULL;
    c->io.fd = -1;
    c->io.cb = on_client_event;
    c->tls = vc;
    client_tls_subject_header(c); /* a client's own copy of that header is dropped */
    c->readable = c->writable = false;
    client_join(c, c->wc->cfg->timeouts.client_header_ms);
    /* A stream of an HTTP/2 connection accepted during the drain (its GOAWAY follows its first
     * streams: h2_conn_event) is answered with Connection: close, as client_accept serves such
     * a connection, rather than refused. */
    if (w->draining)
        client_drain(c);
    return c;
}

void client_wake(struct client *c, uint32_t events)
{
    if (c->state != CS_CLOSED)
        on_client_event(&c->w->loop, &c->io, events);
}

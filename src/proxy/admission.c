/* admission.c — the HTTP/1.1 host of the request pipeline: between a request head and its
 * first attempt. It fills in the pipeline's exchange, runs the route's modules (shedding, rate
 * limit, idempotency, concurrency, ... — src/modules/), acts on their verdict, and reads a
 * request body whole when a module asks for it (x->body) or when it may have to be replayed.
 * Every refusal is a structured reply written by client.c after the response hooks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/h1.h"
#include "pipeline/runner.h"
#include "proxy/client.h"
#include "proxy/dlist.h"
#include "proxy/exchange.h"
#include "proxy/forward.h"
#include "proxy/worker.h"

static void admit_verdict(struct client *c, enum pipeline_verdict v);

/* ---- request body buffering ------------------------------------------------------------- */

static void body_buffered(struct client *c)
{
    struct h1x *x = c->x;
    x->buffering = false;
    x->req_left = 0;
    x->log.bytes_in += x->body_len;
    timer_disarm(&c->w->loop.timers, &c->timer);
    if (x->body_for_module) {
        x->body_for_module = false;
        x->base.body = str_from(x->body, x->body_len);
        x->base.body_ready = true;
        pipeline_resume(&x->base);
        return;
    }
    attempt_start(c);
}

/* Moves body bytes from the read buffer, then from the socket, into x->body. */
static void fill_body(struct client *c)
{
    struct h1x *x = c->x;
    uint32_t take = c->in.len < x->body_len - x->body_filled ? c->in.len
                                                              : x->body_len - x->body_filled;
    if (take) {
        memcpy(x->body + x->body_filled, buf_head(&c->in), take);
        buf_consume(&c->in, take);
        x->body_filled += take;
    }
    while (x->body_filled < x->body_len && c->readable && !c->eof) {
        ssize_t n = recv(c->io.fd, x->body + x->body_filled, x->body_len - x->body_filled, 0);
        if (n > 0) {
            x->body_filled += (uint32_t)n;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EINTR) {
            c->readable = false;
        } else {
            c->eof = c->hup = true;
        }
    }
    if (x->body_filled == x->body_len) {
        body_buffered(c);
        return;
    }
    if (c->eof) {
        client_abort(c); /* gone in the middle of its body */
        return;
    }
    timer_arm(&c->w->loop.timers, &c->timer,
              c->w->loop.now_ms + c->wc->cfg->timeouts.client_body_ms);
}

/* Starts reading a Content-Length body of at most `cap` bytes into memory. Returns false when
 * it cannot be kept (chunked, too large, out of memory): the body then streams. */
static bool start_buffering(struct client *c, uint64_t cap)
{
    struct h1x *x = c->x;
    const struct h1_request *r = &x->req;
    if (r->framing != H1_FRAME_LENGTH || r->content_length == 0 || r->content_length > cap)
        return false;
    x->body = malloc(r->content_length);
    if (!x->body)
        return false;
    x->body_len = (uint32_t)r->content_length;
    x->body_filled = x->body_sent = 0;
    x->buffering = true;
    c->state = CS_ADMIT;
    if (x->send_continue) {
        x->send_continue = false;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (buf_append(&c->out, cont, sizeof(cont) - 1) == -1 || client_flush_out(c) < 0) {
            client_abort(c);
            return true;
        }
    }
    fill_body(c);
    return true;
}

/* ---- the pipeline's host ---------------------------------------------------------------- */

static struct client *client_of(struct exchange *e)
{
    return ((struct h1x *)(void *)e)->c;
}

static void host_request_done(struct exchange *e, enum pipeline_verdict v)
{
    admit_verdict(client_of(e), v);
}

/* A module wants the whole body (idempotency hashes it). Kept up to its own bound, which the
 * module checked; the read happens here, the module is resumed when it is complete. */
static int host_need_body(struct exchange *e)
{
    struct client *c = client_of(e);
    struct h1x *x = c->x;
    if (x->body || x->req.framing != H1_FRAME_LENGTH)
        return x->body ? 0 : -1;
    x->body_for_module = true;
    if (!start_buffering(c, UINT32_MAX)) {
        x->body_for_module = false;
        return -1;
    }
    return 0;
}

static const struct exchange_host_ops h1_host = {
    .request_done = host_request_done,
    .need_body = host_need_body,
};

/* The modules said go: keep the body when it may have to be sent again, then attempt. */
static void admit_next(struct client *c)
{
    struct h1x *x = c->x;
    const struct cfg_upstream *g = group_of(c);
    if (!g) { /* a terminal module's route: it should have answered */
        client_reply(c, 500, "nothing on this route answered the request", false);
        return;
    }
    uint64_t cap = g->retry.attempts > 1 ? g->retry.max_body : 0;
    if (!x->body && start_buffering(c, cap))
        return;
    attempt_start(c);
}

static void admit_verdict(struct client *c, enum pipeline_verdict v)
{
    struct h1x *x = c->x;
    switch (v) {
    case PIPELINE_NEXT:
        admit_next(c);
        return;
    case PIPELINE_WAIT:
        c->state = CS_ADMIT;
        return;
    case PIPELINE_RESPOND:
        timer_disarm(&c->w->loop.timers, &x->total_timer);
        client_send_reply(c);
        return;
    case PIPELINE_FAIL:
        timer_disarm(&c->w->loop.timers, &x->total_timer);
        client_reply(c, 500, x->base.fail_reason ? x->base.fail_reason : "internal error", false);
        return;
    }
}

void admission_client_event(struct client *c)
{
    if (c->x->buffering) {
        fill_body(c);
        return;
    }
    if (c->hup)
        client_abort(c); /* gone while a module waits: the modules' on_end run */
}

void admission_timeout(struct client *c)
{
    if (c->x->buffering) {
        forward_abort(c);
        client_reply(c, 408, "the request body did not arrive in time", true);
        return;
    }
    client_abort(c);
}

void admission_start(struct client *c)
{
    struct worker *w = c->w;
    struct h1x *x = c->x;
    uint32_t ri = (uint32_t)(x->route - c->wc->cfg->routes);
    w->pw.inflight++;
    x->admitted = true;
    x->rs = c->wc->routes[ri];
    struct exchange *e = &x->base;
    e->host = &h1_host;
    e->worker = &w->pw;
    e->cfg = c->wc->cfg;
    e->route = x->route;
    e->chain = c->wc->chains[ri];
    e->req = &x->req;
    e->client_ip = c->ip;
    e->request_id = x->request_id;
    e->start_us = x->log.t_start_us;
    e->retry_safe = retry_method_idempotent(x->req.method_id);
    if (x->grp && x->grp->gs)
        retry_budget_request(&x->grp->gs->budget, w->loop.now_ms);
    exchange_arm_total(c);
    admit_verdict(c, pipeline_request(e));
}

void exchange_release(struct client *c, int status)
{
    (void)status;
    struct h1x *x = c->x;
    if (x->admitted) {
        c->w->pw.inflight--;
        x->admitted = false;
    }
    free(x->body);
    x->body = NULL;
    x->body_len = x->body_filled = x->body_sent = 0;
    x->buffering = x->body_for_module = false;
}

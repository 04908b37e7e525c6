/* admission.c — the HTTP/1.1 host of the request pipeline: between a request head and its
 * first attempt. It fills in the pipeline's exchange, runs the route's modules (shedding, rate
 * limit, request buffering, idempotency, concurrency, ... — src/modules/), acts on their
 * verdict, and reads a request body whole (buffering.h: in memory, or a temp file) when a
 * module asks for it or when it may have to be replayed. Every refusal is a structured reply
 * written by client.c after the response hooks. On a route that buffers requests the total
 * timeout stops while the body is read: that is the client's time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/h1.h"
#include "pipeline/runner.h"
#include "proxy/buffering.h"
#include "proxy/client.h"
#include "proxy/dlist.h"
#include "proxy/exchange.h"
#include "proxy/forward.h"
#include "proxy/headers.h"
#include "proxy/worker.h"

static void admit_verdict(struct client *c, enum pipeline_verdict v);

/* ---- request body buffering ------------------------------------------------------------- */

/* The body is whole in weir: a module that asked for it is resumed (with its bytes in
 * x->base.body when it stayed in memory), else the attempt starts. */
static void body_buffered(struct client *c)
{
    struct h1x *x = c->x;
    x->buffering = false;
    x->req_left = 0;
    timer_disarm(&c->w->loop.timers, &c->timer);
    if (buffering_body_in_memory(x->body)) {
        x->base.body = str_from(x->body->mem, x->body->len);
        x->base.body_ready = true;
    }
    if (x->route->buffering.request)
        exchange_arm_total(c); /* the upload was the client's time; the upstream's starts now */
    if (x->body_for_module) {
        x->body_for_module = false;
        pipeline_resume(&x->base);
        return;
    }
    attempt_start(c);
}

/* Reading the body failed (`r`: an HTTP status, or BODY_GONE). Inside a module's on_request
 * (its need_body) nothing may end the exchange under the runner: the client's timer answers
 * as soon as the runner has returned. */
static void body_failed(struct client *c, int r, const char *why)
{
    struct h1x *x = c->x;
    x->buffering = false;
    if (x->base.in_request) {
        x->body_error = r;
        x->body_why = why;
        timer_arm(&c->w->loop.timers, &c->timer, c->w->loop.now_ms);
        return;
    }
    if (r == BODY_GONE) {
        client_abort(c);
        return;
    }
    forward_abort(c);
    client_reply(c, r, why, true);
}

static void fill_body(struct client *c)
{
    const char *why = NULL;
    int r = buffering_body_fill(c, &why);
    if (r == BODY_DONE) {
        body_buffered(c);
    } else if (r == BODY_MORE) {
        timer_arm(&c->w->loop.timers, &c->timer,
                  c->w->loop.now_ms + c->wc->cfg->timeouts.client_body_ms);
    } else {
        body_failed(c, r, why);
    }
}

/* Starts reading the body whole (buffering_body_begin says how and where). Returns false when
 * it streams instead; true when it is being read, was read, or was refused. */
static bool start_buffering(struct client *c, uint64_t keep)
{
    struct h1x *x = c->x;
    const char *why = NULL;
    int r = buffering_body_begin(c, keep, &why);
    if (r == 0)
        return false;
    c->state = CS_ADMIT;
    if (r != 1) {
        body_failed(c, r, why);
        return true;
    }
    x->buffering = true;
    if (x->route->buffering.request)
        timer_disarm(&c->w->loop.timers, &x->total_timer);
    if (x->send_continue) {
        /* The body is read before any upstream is involved: weir asks for it. */
        x->send_continue = false;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (buf_append(&c->out, cont, sizeof(cont) - 1) == -1 || client_flush_out(c) < 0) {
            body_failed(c, BODY_GONE, NULL);
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

/* A module wants the whole body: request_buffering, or idempotency to hash it (up to its own
 * bound, which it checked). The read happens here; the module is resumed when it is complete,
 * with the bytes in x->body when they stayed in memory. A body already read into a temp file
 * cannot be handed over (-1). */
static int host_need_body(struct exchange *e)
{
    struct client *c = client_of(e);
    struct h1x *x = c->x;
    if (x->body)
        return -1;
    x->body_for_module = true;
    if (!start_buffering(c, UINT32_MAX)) {
        x->body_for_module = false;
        return -1;
    }
    return 0;
}

static void host_body_continue(struct exchange *e)
{
    client_reply_continue(client_of(e));
}

static const struct exchange_host_ops h1_host = {
    .request_done = host_request_done,
    .need_body = host_need_body,
    .body_continue = host_body_continue,
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
    /* A module edited the upstream request (a cache's validators): the head again. */
    if ((x->base.nupstream_drop || x->base.upstream_add.len || x->base.upstream_target.ptr) &&
        headers_build_request(c, false) == -1) {
        client_reply(c, 431, "request head too large once forwarded", false);
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
    struct h1x *x = c->x;
    if (x->body_error) {
        int r = x->body_error;
        x->body_error = 0;
        body_failed(c, r, x->body_why);
        return;
    }
    if (x->buffering) {
        body_failed(c, 408, "the request body did not arrive in time");
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
    e->tls = client_is_tls(c); /* the waiting room's cookie is Secure over TLS */
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
    buffering_release(c);
    x->buffering = x->body_for_module = false;
    x->body_error = 0;
}

/* admission.c — what a request passes between its head and its first attempt, cheapest
 * refusal first: load shedding (this worker is behind), the route's rate limit, buffering the
 * body (so it can be replayed or hashed), the idempotency key, and the group's concurrency
 * limit (a bounded queue beyond it). Every refusal is immediate and says when to come back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/h1.h"
#include "proxy/client.h"
#include "proxy/dlist.h"
#include "proxy/exchange.h"
#include "proxy/forward.h"
#include "proxy/worker.h"

/* ---- rate limit ------------------------------------------------------------------------- */

/* Returns false when the request was refused (429 sent). */
static bool check_rate_limit(struct client *c)
{
    const struct cfg_ratelimit *cfg = &c->x->route->ratelimit;
    if (!c->x->rs || !c->x->rs->ratelimit)
        return true;
    struct str key;
    switch (cfg->key) {
    case CFG_RL_HEADER: {
        int i = h1_find_header(c->x->req.headers, c->x->req.nheaders, str_cstr(cfg->header));
        key = i >= 0 ? c->x->req.headers[i].value : STR_LIT("");
        break;
    }
    case CFG_RL_ROUTE:
        key = STR_LIT("route");
        break;
    case CFG_RL_CLIENT_IP:
    default:
        key = str_cstr(c->ip);
        break;
    }
    struct ratelimit_result r;
    ratelimit_check(c->x->rs->ratelimit, key, ev_clock_us(), &r);
    size_t n = ratelimit_format_headers(&r, c->x->rl_headers, sizeof(c->x->rl_headers));
    c->x->rl_headers[n] = '\0';
    if (r.allowed)
        return true;
    atomic_fetch_add_explicit(&c->x->rs->rate_limited, 1, memory_order_relaxed);
    mc_add(&c->x->rs->m[c->w->id].rate_limited, 1);
    char extra[sizeof(c->x->rl_headers) + 32];
    snprintf(extra, sizeof(extra), "Retry-After: %u\r\n%s", r.retry_after_s, c->x->rl_headers);
    c->x->rl_headers[0] = '\0';
    client_reply_ex(c, 429, "rate limit exceeded", false, extra);
    return false;
}

/* ---- concurrency limit ------------------------------------------------------------------ */

static void dequeue(struct client *c)
{
    if (!c->x->queued)
        return;
    dlist_remove(&c->x->queue_link);
    atomic_fetch_sub(&c->x->grp->gs->queued, 1);
    c->x->queued = false;
}

void admission_continue(struct client *c)
{
    struct worker *w = c->w;
    struct group_state *gs = c->x->grp->gs;
    struct limiter *lim = gs ? gs->limiter : NULL;
    if (lim && !c->x->limited) {
        if (limiter_try_acquire(lim)) {
            c->x->limited = true;
        } else {
            const struct cfg_concurrency *cc = &group_of(c)->concurrency;
            if (!c->x->queued) {
                if (atomic_fetch_add(&gs->queued, 1) >= cc->queue) {
                    atomic_fetch_sub(&gs->queued, 1);
                    atomic_fetch_add_explicit(&gs->limit_rejected, 1, memory_order_relaxed);
                    timer_disarm(&w->loop.timers, &c->x->total_timer);
                    client_reply(c, 503, "the upstream group is at its concurrency limit", false);
                    return;
                }
                c->x->queued = true;
                dlist_push_back(&c->x->grp->queue, &c->x->queue_link);
                c->x->admit_deadline_ms = w->loop.now_ms + cc->queue_timeout_ms;
            }
            c->state = CS_ADMIT;
            /* Woken at once by a release on this worker; polled for releases elsewhere. */
            uint64_t next = w->loop.now_ms + 5;
            timer_arm(&w->loop.timers, &c->timer,
                      next < c->x->admit_deadline_ms ? next : c->x->admit_deadline_ms);
            return;
        }
    }
    dequeue(c);
    timer_disarm(&w->loop.timers, &c->timer);
    attempt_start(c);
}

void admission_wake(struct wgroup *grp)
{
    if (dlist_empty(&grp->queue))
        return;
    struct client *c = container_of(grp->queue.next, struct h1x, queue_link)->c;
    admission_continue(c);
}

/* ---- request body buffering ------------------------------------------------------------- */

static void body_buffered(struct client *c)
{
    c->x->buffering = false;
    c->x->req_left = 0;
    c->x->log.bytes_in += c->x->body_len;
    timer_disarm(&c->w->loop.timers, &c->timer);
    if (c->x->idem_key && !idempotency_begin(c))
        return;
    admission_continue(c);
}

/* Moves body bytes from the read buffer, then from the socket, into c->x->body. */
static void fill_body(struct client *c)
{
    uint32_t take = c->in.len < c->x->body_len - c->x->body_filled ? c->in.len
                                                               : c->x->body_len - c->x->body_filled;
    if (take) {
        memcpy(c->x->body + c->x->body_filled, buf_head(&c->in), take);
        buf_consume(&c->in, take);
        c->x->body_filled += take;
    }
    while (c->x->body_filled < c->x->body_len && c->readable && !c->eof) {
        ssize_t n = recv(c->io.fd, c->x->body + c->x->body_filled, c->x->body_len - c->x->body_filled, 0);
        if (n > 0) {
            c->x->body_filled += (uint32_t)n;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno == EAGAIN || errno == EINTR) {
            c->readable = false;
        } else {
            c->eof = c->hup = true;
        }
    }
    if (c->x->body_filled == c->x->body_len) {
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

void admission_client_event(struct client *c)
{
    if (c->x->buffering) {
        fill_body(c);
        return;
    }
    if (c->hup)
        client_abort(c);
}

void admission_timeout(struct client *c)
{
    if (c->x->buffering) {
        forward_abort(c);
        client_reply(c, 408, "the request body did not arrive in time", true);
        return;
    }
    if (c->x->idem_waiting) {
        idempotency_poll(c);
        return;
    }
    if (c->x->queued) {
        if (c->w->loop.now_ms >= c->x->admit_deadline_ms && !limiter_try_acquire(c->x->grp->gs->limiter)) {
            dequeue(c);
            atomic_fetch_add_explicit(&c->x->grp->gs->queue_timeouts, 1, memory_order_relaxed);
            timer_disarm(&c->w->loop.timers, &c->x->total_timer);
            client_reply(c, 503, "no concurrency slot of the upstream group became free in time",
                         false);
            return;
        }
        if (c->w->loop.now_ms >= c->x->admit_deadline_ms)
            c->x->limited = true; /* the last try above succeeded */
        admission_continue(c);
        return;
    }
    client_abort(c);
}

/* ---- start and end ---------------------------------------------------------------------- */

static bool shed(struct client *c)
{
    struct worker *w = c->w;
    const struct cfg_limits *lim = &c->wc->cfg->limits;
    const char *why = NULL;
    if (lim->shed_inflight && w->inflight > lim->shed_inflight)
        why = "this gateway worker is over its in-flight limit";
    else if (lim->shed_loop_lag_ms && w->loop_lag_ms > lim->shed_loop_lag_ms)
        why = "this gateway worker is falling behind";
    if (!why)
        return false;
    mc_add(&w->metrics.shed, 1);
    client_reply(c, 503, why, false);
    return true;
}

static void copy_idempotency_key(struct client *c)
{
    const struct cfg_idempotency *cfg = &c->x->route->idempotency;
    if (!cfg->enabled || !c->x->rs || !c->x->rs->store)
        return;
    int i = h1_find_header(c->x->req.headers, c->x->req.nheaders, str_cstr(cfg->header));
    if (i < 0 || !c->x->req.headers[i].value.len)
        return;
    struct str v = c->x->req.headers[i].value;
    size_t len = v.len + c->x->req.method.len + c->x->req.target.len + strlen(c->ip) + 4;
    c->x->idem_key = malloc(len);
    if (!c->x->idem_key)
        return;
    int n = snprintf(c->x->idem_key, len, "%.*s\n%.*s\n%.*s\n%s", (int)v.len, v.ptr,
                     (int)c->x->req.method.len, c->x->req.method.ptr, (int)c->x->req.target.len,
                     c->x->req.target.ptr, c->ip);
    c->x->idem_key_len = n > 0 ? (uint32_t)n : 0;
}

void admission_start(struct client *c)
{
    struct worker *w = c->w;
    const struct cfg_upstream *g = group_of(c);
    w->inflight++;
    c->x->admitted = true;
    c->x->admit_start_us = c->x->log.t_start_us;
    c->x->rs = c->wc->routes[c->x->route - c->wc->cfg->routes];
    if (shed(c) || !check_rate_limit(c))
        return;
    copy_idempotency_key(c);
    c->x->idempotent = retry_method_idempotent(c->x->req.method_id) || c->x->idem_key != NULL;
    if (c->x->grp->gs)
        retry_budget_request(&c->x->grp->gs->budget, w->loop.now_ms);
    exchange_arm_total(c);

    /* Keep the body when it may have to be sent again or hashed for its idempotency key. */
    uint64_t cap = g->retry.attempts > 1 ? g->retry.max_body : 0;
    if (c->x->idem_key && c->x->route->idempotency.max_body > cap)
        cap = c->x->route->idempotency.max_body;
    if (c->x->req.framing == H1_FRAME_LENGTH && c->x->req.content_length > 0 &&
        c->x->req.content_length <= cap) {
        c->x->body = malloc(c->x->req.content_length);
        if (c->x->body) {
            c->x->body_len = (uint32_t)c->x->req.content_length;
            c->x->body_filled = c->x->body_sent = 0;
            c->x->buffering = true;
            c->state = CS_ADMIT;
            if (c->x->send_continue) {
                c->x->send_continue = false;
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                if (buf_append(&c->out, cont, sizeof(cont) - 1) == -1 || client_flush_out(c) < 0) {
                    client_abort(c);
                    return;
                }
            }
            fill_body(c);
            return;
        }
    }
    bool has_body = c->x->req.framing == H1_FRAME_CHUNKED ||
                    (c->x->req.framing == H1_FRAME_LENGTH && c->x->req.content_length > 0);
    if (c->x->idem_key && has_body) {
        /* A keyed request whose body was not kept (chunked, or over the limit) cannot be
         * hashed: it goes through unprotected, as if it had no key. */
        free(c->x->idem_key);
        c->x->idem_key = NULL;
        c->x->idempotent = retry_method_idempotent(c->x->req.method_id);
    }
    if (c->x->idem_key && !idempotency_begin(c))
        return;
    admission_continue(c);
}

void exchange_release(struct client *c, int status)
{
    struct worker *w = c->w;
    dequeue(c);
    if (c->x->limited) {
        uint64_t now = ev_clock_us();
        limiter_release(c->x->grp->gs->limiter, now - c->x->admit_start_us,
                        status == 503 || status == 504, now);
        c->x->limited = false;
        admission_wake(c->x->grp);
    }
    if (c->x->admitted) {
        w->inflight--;
        c->x->admitted = false;
    }
    idempotency_end(c, c->x->resp_done && status > 0);
    free(c->x->body);
    c->x->body = NULL;
    c->x->body_len = c->x->body_filled = c->x->body_sent = 0;
    c->x->buffering = false;
    free(c->x->idem_key);
    c->x->idem_key = NULL;
    c->x->idem_waiting = false;
    c->x->rl_headers[0] = '\0';
}

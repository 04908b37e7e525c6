/* attempt.c — one try of an exchange against one server, and what follows when it fails.
 *
 * An attempt: pick a server (the sticky one, or the group's strategy away from the server that
 * just failed), pass its breakers, claim it (in-flight count), get a connection (pooled, new, or
 * wait for a slot under max_conns). When it fails before its response head reached the client,
 * the retry policy decides: a request that never reached the server (connect refused or timed
 * out) may go again whatever its method; after a response timeout or a retryable status only an
 * idempotent request may (an idempotent method, or an Idempotency-Key on a route that handles
 * them); the body must be replayable; attempts are capped; the group's retry budget must allow
 * it; and a full-jitter backoff separates attempts, all inside the total timeout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "balance/sticky.h"
#include "event/sock.h"
#include "http/h1.h"
#include "proxy/client.h"
#include "proxy/dlist.h"
#include "proxy/exchange.h"
#include "proxy/forward.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

void exchange_drop_upstream(struct client *c, bool reusable)
{
    if (c->x->up) {
        upconn_release(c->x->up, reusable);
        c->x->up = NULL;
    }
}

/* Gives the server's in-flight slot back without a verdict on the server. */
static void release_unjudged(struct client *c)
{
    if (!c->x->counted)
        return;
    atomic_fetch_sub_explicit(&c->x->grp->states[c->x->server]->lb.inflight, 1, memory_order_relaxed);
    c->x->counted = false;
}

void attempt_release_server(struct client *c, bool failed)
{
    if (!c->x->counted)
        return;
    health_report(c->x->grp->states[c->x->server], c->x->grp->cfg, failed, c->w->loop.now_ms);
    release_unjudged(c);
}

static void stop_waiting(struct client *c)
{
    if (c->x->waiting)
        pool_unwait(&c->x->grp->pools[c->x->server], c);
}

/* ---- breakers --------------------------------------------------------------------------- */

static bool breaker_counts(const struct cfg_breaker *b, enum fail_kind kind, int status)
{
    switch (kind) {
    case FAIL_CONNECT:
        return b->on_connect_error;
    case FAIL_TIMEOUT:
        return b->on_timeout;
    case FAIL_SERVER:
        return true;
    case FAIL_STATUS:
        return status >= 100 && status < 600 && (b->status_classes & (1u << (status / 100)));
    case FAIL_CLIENT:
        return false;
    }
    return false;
}

/* Records (or cancels) the attempt's breaker permits exactly once. */
static void record_breakers(struct client *c, bool cancel, bool failure)
{
    if (!c->x->group_permit && !c->x->server_permit)
        return;
    uint64_t now_us = ev_clock_us();
    uint32_t dur_ms = (uint32_t)((now_us - c->x->attempt_start_us) / 1000);
    struct breaker *gb = c->x->grp->gs ? c->x->grp->gs->breaker : NULL;
    if (c->x->group_permit && gb) {
        if (cancel)
            breaker_cancel(gb);
        else
            breaker_record(gb, c->w->loop.now_ms, failure, dur_ms);
    }
    if (c->x->server_permit && c->x->server_breaker) {
        if (cancel)
            breaker_cancel(c->x->server_breaker);
        else
            breaker_record(c->x->server_breaker, c->w->loop.now_ms, failure, dur_ms);
    }
    c->x->group_permit = c->x->server_permit = false;
}

void attempt_headed(struct client *c, int status)
{
    record_breakers(c, false, breaker_counts(&group_of(c)->breaker, FAIL_STATUS, status));
}

/* ---- retry policy ----------------------------------------------------------------------- */

bool attempt_may_retry(const struct client *c, enum fail_kind kind)
{
    const struct cfg_retry *r = &group_of(c)->retry;
    if (c->x->attempts >= r->attempts || c->x->resp_head_done || c->x->log.bytes_out ||
        !exchange_replayable(c))
        return false;
    switch (kind) {
    case FAIL_CONNECT:
        return r->on_connect_error;
    case FAIL_TIMEOUT:
        return r->on_timeout && c->x->base.retry_safe;
    case FAIL_SERVER:
    case FAIL_STATUS:
        return c->x->base.retry_safe;
    case FAIL_CLIENT:
        return false;
    }
    return false;
}

static void on_backoff_done(struct client *c)
{
    attempt_start(c);
}

void attempt_failed(struct client *c, enum fail_kind kind, int status, const char *why)
{
    struct worker *w = c->w;
    /* A body-less request that failed on a reused connection before any response byte is the
     * stale keep-alive race, not the server's fault: once, on a fresh connection. */
    bool stale = kind != FAIL_CLIENT && kind != FAIL_STATUS && c->x->up && c->x->up->reused &&
                 !c->x->got_response_bytes && !c->x->retried && exchange_replayable(c) &&
                 !c->x->resp_head_done;
    exchange_drop_upstream(c, false);
    if (stale) {
        record_breakers(c, true, false);
        attempt_release_server(c, false);
        c->x->retried = true;
        c->x->uphead_sent = 0;
        if (c->x->body)
            c->x->body->sent = 0;
        c->x->attempts--; /* the same attempt, again */
        attempt_start(c);
        return;
    }
    record_breakers(c, false, breaker_counts(&group_of(c)->breaker, kind, status));
    attempt_release_server(c, kind != FAIL_CLIENT);
    if (kind != FAIL_CLIENT)
        mc_add(&c->x->grp->gs->m[w->id].failures, 1);
    if (c->x->resp_head_done) {
        client_abort(c); /* part of the response went out: only a close can tell the client */
        return;
    }
    const struct cfg_upstream *g = group_of(c);
    bool granted = c->x->budget_granted;
    c->x->budget_granted = false;
    if (attempt_may_retry(c, kind) &&
        (granted || retry_budget_try(&c->x->grp->gs->budget, &g->retry, w->loop.now_ms))) {
        c->x->uphead_sent = 0;
        if (c->x->body)
            c->x->body->sent = 0;
        c->x->got_response_bytes = false;
        c->x->retried = false;
        c->x->req_done = c->x->req.framing == H1_FRAME_NONE ||
                      (c->x->req.framing == H1_FRAME_LENGTH && c->x->req.content_length == 0);
        uint32_t backoff = retry_backoff_ms(&g->retry, c->x->attempts + 1, worker_rand(w));
        if (backoff == 0) {
            attempt_start(c);
            return;
        }
        c->state = CS_BACKOFF;
        timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + backoff);
        return;
    }
    timer_disarm(&w->loop.timers, &c->x->total_timer);
    client_reply(c, status, why, false);
}

/* ---- choosing a server ------------------------------------------------------------------ */

/* Takes the per-server breaker's permit for idx; false when it is open. */
static bool server_permit(struct client *c, int idx)
{
    struct breaker *b = c->x->grp->breakers ? c->x->grp->breakers[idx] : NULL;
    c->x->server_breaker = b;
    if (!b)
        return true;
    uint32_t retry_after;
    if (!breaker_allow(b, c->w->loop.now_ms, &retry_after))
        return false;
    c->x->server_permit = true;
    return true;
}

/* The sticky server when the client carries a valid token for a usable one, else the group's
 * strategy (avoiding the server a failed attempt used); servers whose breaker is open are
 * skipped. -1 when none can take the request. */
static int choose_server(struct client *c)
{
    struct wgroup *grp = c->x->grp;
    uint32_t n = grp->cfg->nservers;
    if (c->x->sticky[0] && c->x->attempts == 0) {
        int idx = lb_sticky_find(grp->servers, n, str_cstr(c->x->sticky));
        if (idx >= 0 && lb_usable(grp->servers[idx]) && server_permit(c, idx))
            return idx;
    }
    struct lb_ctx ctx = {
        .key = str_from(c->x->lb_key, c->x->lb_key_len),
        .rand = worker_rand(c->w),
        .exclude = c->x->server,
    };
    int idx = grp->lb->pick(grp->lb_state, grp->servers, n, &ctx);
    if (idx >= 0 && n > 1 &&
        !health_ramp_admits(grp->states[idx], grp->cfg, c->w->loop.now_ms, worker_rand(c->w))) {
        /* In slow start and not drawn this time: one more pick away from it. */
        ctx.exclude = idx;
        ctx.rand = worker_rand(c->w);
        idx = grp->lb->pick(grp->lb_state, grp->servers, n, &ctx);
    }
    if (idx >= 0 && !server_permit(c, idx)) {
        /* Its breaker is open: the first other usable server whose breaker admits us. */
        int found = -1;
        for (uint32_t k = 1; k < n && found < 0; k++) {
            int j = (int)((uint32_t)(idx + (int)k) % n);
            if (lb_usable(grp->servers[j]) && server_permit(c, j))
                found = j;
        }
        idx = found;
    }
    if (idx >= 0 && grp->cfg->sticky_cookie)
        c->x->set_sticky = true;
    return idx;
}

/* ---- connecting ------------------------------------------------------------------------- */

/* weir itself ran out of something (descriptors, memory, local ports) getting a connection:
 * that says nothing about the server, so no passive-health verdict (its failure streak
 * neither grows nor resets), the breaker permits are cancelled, the retry budget is not
 * asked, and the client gets 503 with Retry-After. */
static void local_failure(struct client *c, int err)
{
    record_breakers(c, true, false);
    release_unjudged(c);
    timer_disarm(&c->w->loop.timers, &c->x->total_timer);
    worker_local_error(c->w, MLO_CONNECT, err);
    const char *why = err == EMFILE || err == ENFILE ? "weir is out of file descriptors"
                      : err == EADDRNOTAVAIL         ? "weir has no local port left to connect from"
                                                     : "weir is out of memory";
    client_reply_ex(c, 503, why, false, "Retry-After: 1\r\n");
}

/* How long the request waited for a slot of the server's pool (it got one or gave up). */
static void record_pool_wait(struct client *c, struct pool *p)
{
    mc_add(&p->m->pool_waits, 1);
    mc_add(&p->m->pool_wait_ms, c->w->loop.now_ms - c->x->wait_start_ms);
    c->x->wait_deadline_ms = 0;
}

static void acquire_connection(struct client *c, bool fresh)
{
    const struct cfg_upstream *g = group_of(c);
    struct pool *p = &c->x->grp->pools[c->x->server];
    int err = 0;
    struct upconn *u = pool_acquire(p, c, fresh, &err);
    if (!u) {
        if (err == EAGAIN) {
            if (!c->x->wait_deadline_ms) {
                c->x->wait_start_ms = c->w->loop.now_ms;
                c->x->wait_deadline_ms = c->x->wait_start_ms + g->pool.acquire_timeout_ms;
            }
            c->state = CS_CONNECT;
            /* Woken by a release here or posted from another worker (st->slots); the timer is
             * the deadline. Counted as waiting first, then one look: a slot freed since the
             * try above is seen here, or its release sees this waiter. */
            pool_wait(p, c);
            uint64_t at = pool_slot_free(p) ? c->w->loop.now_ms : c->x->wait_deadline_ms;
            timer_arm(&c->w->loop.timers, &c->timer, at);
            return;
        }
        if (sock_local_error(err) >= 0) {
            local_failure(c, err);
            return;
        }
        attempt_failed(c, FAIL_CONNECT, 502,
                       err == ECONNREFUSED ? "the upstream refused the connection"
                                           : "cannot connect to the upstream");
        return;
    }
    c->x->up = u;
    if (c->x->wait_deadline_ms)
        record_pool_wait(c, p);
    if (u->connecting) {
        c->state = CS_CONNECT;
        upconn_arm(u, g->connect_timeout_ms);
        timer_disarm(&c->w->loop.timers, &c->timer);
        return;
    }
    u->writable = true; /* an idle pooled connection has room in its send buffer */
    exchange_connected(c);
}

void attempt_start(struct client *c)
{
    struct worker *w = c->w;
    struct breaker *gb = c->x->grp->gs ? c->x->grp->gs->breaker : NULL;
    if (gb) {
        uint32_t retry_after_ms = 0;
        if (!breaker_allow(gb, w->loop.now_ms, &retry_after_ms)) {
            atomic_fetch_add_explicit(&c->x->grp->gs->breaker_rejected, 1, memory_order_relaxed);
            timer_disarm(&w->loop.timers, &c->x->total_timer);
            char extra[48];
            snprintf(extra, sizeof(extra), "Retry-After: %u\r\n",
                     retry_after_ms ? (retry_after_ms + 999) / 1000 : 1);
            client_reply_ex(c, 503, "the circuit breaker of the upstream group is open", false,
                            extra);
            return;
        }
        c->x->group_permit = true;
    }
    if (!c->x->retried || c->x->server < 0) {
        int idx = choose_server(c);
        if (idx < 0) {
            record_breakers(c, true, false);
            timer_disarm(&w->loop.timers, &c->x->total_timer);
            bool breakers = c->x->grp->breakers && c->x->grp->breakers[0];
            client_reply(c, 503,
                         breakers ? "no upstream server is available (down or circuit open)"
                                  : "no upstream server is available",
                         false);
            return;
        }
        c->x->server = idx;
    }
    c->x->attempts++;
    struct group_shard *gm = &c->x->grp->gs->m[w->id];
    mc_add(&gm->attempts, 1);
    if (c->x->attempts > 1)
        mc_add(&gm->retries, 1);
    else
        mc_add(&gm->requests, 1);
    mc_add(&c->x->grp->states[c->x->server]->m[w->id].requests, 1);
    /* Breakers judge an attempt's duration; without them the head's time stands in. */
    c->x->attempt_start_us = (gb || c->x->grp->breakers[c->x->server] || c->x->attempts > 1)
                              ? ev_clock_us()
                              : c->x->log.t_start_us;
    struct server_state *st = c->x->grp->states[c->x->server];
    atomic_fetch_add_explicit(&st->lb.inflight, 1, memory_order_relaxed);
    c->x->counted = true;
    c->x->log.upstream = c->x->grp->cfg->servers[c->x->server].addr.text;
    if (!c->x->log.t_upstream_us) /* the first pick follows the head at once: no clock read */
        c->x->log.t_upstream_us = c->x->attempt_start_us;
    c->x->wait_deadline_ms = 0;
    acquire_connection(c, c->x->retried);
}

void forward_slot_ready(struct client *c)
{
    acquire_connection(c, false);
}

void forward_abort(struct client *c)
{
    stop_waiting(c);
    timer_disarm(&c->w->loop.timers, &c->x->total_timer);
    record_breakers(c, true, false);
    /* A client gone mid-exchange says nothing about the server. */
    attempt_release_server(c, false);
    exchange_drop_upstream(c, false);
    exchange_release(c, 0);
}

/* ---- timeouts of the attempt ------------------------------------------------------------ */

void forward_upstream_timeout(struct client *c)
{
    switch (c->state) {
    case CS_CONNECT:
        c->x->retried = true; /* a connect timeout is not a stale connection */
        attempt_failed(c, FAIL_CONNECT, 504, "connecting to the upstream timed out");
        break;
    case CS_PROXY:
        if (!c->x->resp_head_done && c->x->req_done) {
            c->x->retried = true;
            attempt_failed(c, FAIL_TIMEOUT, 504, "the upstream did not respond in time");
        } else {
            client_abort(c); /* idle in the middle of a body */
        }
        break;
    default:
        client_abort(c);
        break;
    }
}

void forward_client_timeout(struct client *c)
{
    if (c->state == CS_ADMIT || c->state == CS_BACKOFF) {
        if (c->state == CS_BACKOFF) {
            on_backoff_done(c);
            return;
        }
        admission_timeout(c);
        return;
    }
    if (c->x->waiting) {
        /* The acquire deadline, or a slot seen free as it started to wait: try again. */
        struct pool *p = &c->x->grp->pools[c->x->server];
        pool_unwait(p, c);
        if (c->w->loop.now_ms >= c->x->wait_deadline_ms) {
            p->acquire_timeouts++;
            mc_add(&p->m->pool_acquire_timeouts, 1);
            record_pool_wait(c, p);
            record_breakers(c, true, false);
            attempt_release_server(c, false);
            timer_disarm(&c->w->loop.timers, &c->x->total_timer);
            client_reply(c, 503, "no upstream connection became free in time", false);
            return;
        }
        forward_slot_ready(c);
        return;
    }
    if (c->state == CS_PROXY && !c->x->req_done && !c->x->resp_head_done) {
        forward_abort(c);
        client_reply(c, 408, "the request body did not arrive in time", true);
        return;
    }
    client_abort(c);
}

static void on_total_timeout(struct timer *t)
{
    struct client *c = container_of(t, struct h1x, total_timer)->c;
    if (c->x->resp_head_done || c->state == CS_TUNNEL)
        return;
    bool waited_on_server = c->x->up && !c->x->up->connecting && c->x->req_done;
    stop_waiting(c);
    exchange_drop_upstream(c, false);
    record_breakers(c, !waited_on_server, waited_on_server);
    attempt_release_server(c, waited_on_server);
    if (c->state == CS_BACKOFF || c->state == CS_ADMIT)
        timer_disarm(&c->w->loop.timers, &c->timer);
    client_reply(c, 504, "the request exceeded its total timeout", false);
}

void exchange_arm_total(struct client *c)
{
    const struct cfg_upstream *g = group_of(c);
    uint32_t total = c->x->route->total_timeout_ms ? c->x->route->total_timeout_ms
                     : g                           ? g->total_timeout_ms
                                                   : 0;
    if (total) {
        timer_init(&c->x->total_timer, on_total_timeout);
        timer_arm(&c->w->loop.timers, &c->x->total_timer, c->w->loop.now_ms + total);
    }
}

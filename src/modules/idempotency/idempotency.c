/* idempotency.c — see idempotency.h. The store is thread-safe (state/store_memory.c); the
 * wait queue is the pipeline's (per-worker lists, atomic counts). */
#include "modules/idempotency/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/hash.h"
#include "core/config_types.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "pipeline/waitq.h"
#include "resilience/shared_state.h"
#include "core/config.h"
#include "state/store.h"
#include "state/store_stats.h"

#define IDEM_POLL_MS 50 /* Redis backend: how often a repeat looks for the first one's end */

struct idem_shared {
    struct route_state *rs;
    struct waitq *q;
};

struct idem_ctx {
    struct waitq_entry wait;
    struct store_call call;    /* the store's begin: answered at once (memory) or later */
    const struct store_ops *ops; /* the store of this claim: the route's memory one, or Redis */
    void *st;
    struct exchange *x;
    bool in_begin;             /* inside store_call_begin: an answer now needs no resume */
    bool answered;             /* call holds an answer not yet acted on */
    bool started;
    bool keyed;                /* the request carries a key the module guards */
    bool owner;                /* it claimed the record: complete or abort it at the end */
    bool waiting;
    uint64_t deadline_ms;
    struct str key;            /* in the arena */
    uint64_t body_hash;
    char *capture;             /* the response being recorded (malloc'd, freed at the end): */
    uint32_t capture_len, capture_cap; /* its head's fields, then the body */
    uint32_t head_len;
    struct str trailers;       /* in the arena */
    bool overflow;
};

/* ---- shared state ------------------------------------------------------------------------ */

static int shared_init(void *obj, const void *key)
{
    struct idem_shared *s = obj;
    s->q = waitq_new(metrics_workers());
    if (!s->q)
        return -1;
    s->rs = (struct route_state *)key;
    route_state_ref(s->rs); /* the caller's reference is its own */
    return 0;
}

static void shared_fini(void *obj)
{
    struct idem_shared *s = obj;
    waitq_unref(s->q);
    route_state_put(s->rs);
}

static const struct pipeline_shared_type idem_type = {
    .name = "idempotency", .size = sizeof(struct idem_shared),
    .init = shared_init, .fini = shared_fini};

static bool idem_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)cfg;
    return route->idempotency.enabled;
}

static void *idem_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)conf;
    struct route_state *rs = route_state_get(route);
    if (!rs)
        return NULL;
    if (!rs->store) {
        route_state_put(rs);
        return NULL;
    }
    struct idem_shared *s = pipeline_shared_get(&idem_type, rs);
    route_state_put(rs);
    return s;
}

static void idem_shared_put(void *shared)
{
    pipeline_shared_put(shared);
}

/* ---- capture ----------------------------------------------------------------------------- */

static void capture(struct exchange *x, struct idem_ctx *c, const char *p, size_t n)
{
    if (c->overflow || !n)
        return;
    uint64_t max = x->route->idempotency.max_body;
    if ((uint64_t)c->capture_len + n > max) {
        c->overflow = true;
        return;
    }
    if (c->capture_len + n > c->capture_cap) {
        uint32_t cap = c->capture_cap ? c->capture_cap : 4096;
        while (cap < c->capture_len + n)
            cap *= 2;
        char *nb = realloc(c->capture, cap);
        if (!nb) {
            c->overflow = true;
            return;
        }
        c->capture = nb;
        c->capture_cap = cap;
    }
    memcpy(c->capture + c->capture_len, p, n);
    c->capture_len += (uint32_t)n;
}

static void capture_head(struct exchange *x, struct idem_ctx *c, const struct response *r)
{
    char line[64];
    struct str reason = r->reason.len ? r->reason : str_cstr(h1_status_text(r->status));
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %03u ", r->status);
    capture(x, c, line, (size_t)n);
    capture(x, c, reason.ptr, reason.len);
    capture(x, c, "\r\n", 2);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        capture(x, c, r->headers[i].name.ptr, r->headers[i].name.len);
        capture(x, c, ": ", 2);
        capture(x, c, r->headers[i].value.ptr, r->headers[i].value.len);
        capture(x, c, "\r\n", 2);
    }
    /* The framing it went out with, so that a replay goes out the same way. */
    if (r->chunked)
        capture(x, c, "Transfer-Encoding: chunked\r\n", 28);
    c->head_len = c->capture_len; /* the blank line comes when the record is complete */
}

/* ---- replay ------------------------------------------------------------------------------ */

/* The stored record (a head, then the body) as this exchange's reply. */
static enum pipeline_verdict replay(struct exchange *x, char *stored, size_t len)
{
    char *rec = arena_alloc(&x->arena, len ? len : 1);
    struct h1_response *head = arena_alloc(&x->arena, sizeof(*head));
    if (!rec || !head) {
        free(stored);
        return pipeline_reply(x, 503, "out of memory");
    }
    memcpy(rec, stored, len);
    free(stored);
    static const struct h1_limits lim = {.max_request_line = 8192,
                                         .max_header_bytes = 1u << 20,
                                         .max_headers = H1_MAX_HEADERS};
    int hl = h1_parse_response(rec, len, &lim, x->req->method_id == H1_M_HEAD, head);
    struct response *r = &x->reply;
    if (hl <= 0 || response_init(r, &x->arena, head->status, head->nheaders + 2) != 0)
        return pipeline_reply(x, 502, "the stored response is damaged");
    r->reason = head->reason;
    if (response_add(r, &x->arena, STR_LIT("Idempotent-Replayed"), STR_LIT("true")) != 0)
        return PIPELINE_FAIL;
    size_t tl = 0;
    for (uint32_t i = 0; i < head->nheaders; i++) {
        struct str name = head->headers[i].name;
        if (str_eq_nocase(name, STR_LIT("Transfer-Encoding")))
            continue;
        if (str_eq_nocase(name, STR_LIT("Weir-Record-Trailers"))) {
            tl = (size_t)strtoull(head->headers[i].value.ptr, NULL, 10);
            continue;
        }
        if (response_add(r, &x->arena, name, head->headers[i].value) != 0)
            return PIPELINE_FAIL;
    }
    size_t body = len - (size_t)hl;
    if (tl > body)
        return pipeline_reply(x, 502, "the stored response is damaged");
    response_set_body(r, rec + hl, body - tl);
    r->trailers = str_from(rec + hl + body - tl, tl);
    r->chunked = head->framing == H1_FRAME_CHUNKED;
    x->has_reply = true;
    return PIPELINE_RESPOND;
}

/* ---- the request ------------------------------------------------------------------------- */

/* Reads the key and builds the record key; false when the request carries none. */
static bool copy_key(struct exchange *x, struct idem_ctx *c)
{
    const struct h1_request *req = x->req;
    int i = h1_find_header(req->headers, req->nheaders, str_cstr(x->route->idempotency.header));
    if (i < 0 || !req->headers[i].value.len)
        return false;
    struct str v = req->headers[i].value;
    size_t cap = v.len + req->method.len + req->target.len + strlen(x->client_ip) + 4;
    char *k = arena_alloc(&x->arena, cap);
    if (!k)
        return false;
    int n = snprintf(k, cap, "%.*s\n%.*s\n%.*s\n%s", (int)v.len, v.ptr, (int)req->method.len,
                     req->method.ptr, (int)req->target.len, req->target.ptr, x->client_ip);
    c->key = str_from(k, n > 0 ? (size_t)n : 0);
    return n > 0;
}

static void stop_waiting(struct idem_ctx *c)
{
    waitq_remove(&c->wait);
    c->waiting = false;
}

/* The store's answer (worker thread): acted on by the hook, now or when resumed. */
static void begin_answered(struct store_call *call)
{
    struct idem_ctx *c = container_of(call, struct idem_ctx, call);
    c->answered = true;
    if (!c->in_begin)
        pipeline_resume(c->x);
}

static void begin(struct idem_ctx *c, uint64_t now, uint32_t ttl_ms)
{
    c->call = (struct store_call){.key = c->key, .body_hash = c->body_hash, .now_ms = now,
                                  .ttl_ms = ttl_ms, .done = begin_answered};
    c->in_begin = true;
    store_call_begin(c->ops, c->st, &c->call);
    c->in_begin = false;
}

static enum pipeline_verdict look(struct exchange *x, struct idem_ctx *c, struct idem_shared *s)
{
    const struct cfg_idempotency *cfg = &x->route->idempotency;
    uint64_t now = x->worker->loop->now_ms;
    if (!c->answered) {
        if (c->call.pending)
            return PIPELINE_WAIT; /* woken early (a waitq wake): the store still works */
        c->x = x;
        bool shared = x->cfg->state.backend == CFG_STATE_REDIS;
        c->ops = shared ? &store_redis : s->rs->store_ops;
        c->st = shared ? NULL : s->rs->store;
        begin(c, now, cfg->ttl_ms);
        if (!c->answered)
            return PIPELINE_WAIT; /* begin_answered resumes */
    }
    c->answered = false;
    enum store_begin r = c->call.status;
    if (r == STORE_ERROR && c->ops == &store_redis) {
        /* Redis did not answer in time: the policy decides (docs/config.md, "state"). */
        enum cfg_store_error p = x->cfg->state.idempotency_on_error;
        store_stats_fallback(STORE_F_IDEMPOTENCY, config_store_error_name(p));
        if (p == CFG_STORE_OPEN) {
            stop_waiting(c);
            c->keyed = false;
            return PIPELINE_NEXT; /* unprotected, as a request without a key */
        }
        if (p == CFG_STORE_LOCAL) {
            c->ops = s->rs->store_ops;
            c->st = s->rs->store;
            begin(c, now, cfg->ttl_ms); /* the memory store answers at once */
            c->answered = false;
            r = c->call.status;
        }
    }
    if (r != STORE_INFLIGHT)
        stop_waiting(c);
    switch (r) {
    case STORE_NEW:
        c->owner = true;
        x->retry_safe = true; /* the key makes a repeat harmless */
        return PIPELINE_NEXT;
    case STORE_DONE:
        return replay(x, c->call.resp, c->call.resp_len);
    case STORE_INFLIGHT:
        if (!c->waiting) {
            c->waiting = true;
            c->deadline_ms = now + cfg->wait_ms;
            waitq_add(s->q, &c->wait, x);
        } else if (now >= c->deadline_ms) {
            stop_waiting(c);
            return pipeline_reply(x, 409,
                                  "a request with this Idempotency-Key is still in progress");
        }
        /* The first request may run on another instance, whose end wakes nobody here: look
         * again every IDEM_POLL_MS. */
        if (c->ops == &store_redis && now + IDEM_POLL_MS < c->deadline_ms)
            return pipeline_wait_until(x, now + IDEM_POLL_MS);
        return pipeline_wait_until(x, c->deadline_ms);
    case STORE_MISMATCH:
        return pipeline_reply(x, 422, "this Idempotency-Key was used with a different request");
    case STORE_ERROR:
        break;
    }
    return pipeline_reply(x, 503, "the idempotency store is full or unavailable");
}

static enum pipeline_verdict idem_request(struct exchange *x, void *ctx)
{
    struct idem_ctx *c = ctx;
    struct idem_shared *s = x->link->shared;
    if (!c->started) {
        c->started = true;
        c->keyed = copy_key(x, c);
        if (!c->keyed)
            return PIPELINE_NEXT;
    }
    if (!c->keyed)
        return PIPELINE_NEXT;
    const struct h1_request *req = x->req;
    bool has_body = req->framing == H1_FRAME_CHUNKED ||
                    (req->framing == H1_FRAME_LENGTH && req->content_length > 0);
    if (has_body && !x->body_ready) {
        /* The body is hashed into the record: it must be kept whole. One that cannot be
         * (chunked, or over max_body, when request buffering did not read it already; or
         * one the host keeps in a temp file) goes through unprotected, as if it had no key. */
        if (req->framing == H1_FRAME_LENGTH &&
            req->content_length <= x->route->idempotency.max_body) {
            enum pipeline_verdict v = pipeline_need_body(x);
            if (v == PIPELINE_WAIT)
                return v;
        }
        if (!x->body_ready) {
            c->keyed = false;
            return PIPELINE_NEXT;
        }
    }
    if (!c->body_hash && x->body_ready && x->body.len)
        c->body_hash = lb_hash64(x->body.ptr, x->body.len, 0x1de4);
    return look(x, c, s);
}

static void idem_response_head(struct exchange *x, void *ctx, struct response *r)
{
    struct idem_ctx *c = ctx;
    if (!c->owner || !x->upstream_head)
        return;
    capture_head(x, c, r);
    pipeline_observe_on(x, ctx);
}

static void idem_response_data(struct exchange *x, void *ctx, const char *p, size_t n)
{
    capture(x, ctx, p, n);
}

/* The stored form: the head's fields, "Weir-Record-Trailers: <n>" when the body ended with
 * trailers, the blank line, the body, then the n bytes of trailer fields. */
static char *record(const struct idem_ctx *c, size_t *len)
{
    size_t body = c->capture_len - c->head_len;
    char field[48] = "";
    if (c->trailers.len)
        snprintf(field, sizeof(field), "Weir-Record-Trailers: %zu\r\n", c->trailers.len);
    size_t fl = strlen(field);
    *len = c->head_len + fl + 2 + body + c->trailers.len;
    char *rec = malloc(*len);
    if (!rec)
        return NULL;
    char *p = rec;
    memcpy(p, c->capture, c->head_len);
    p += c->head_len;
    memcpy(p, field, fl);
    p += fl;
    memcpy(p, "\r\n", 2);
    p += 2;
    memcpy(p, c->capture + c->head_len, body);
    p += body;
    if (c->trailers.len)
        memcpy(p, c->trailers.ptr, c->trailers.len);
    return rec;
}

static void idem_response_trailers(struct exchange *x, void *ctx, struct str fields)
{
    struct idem_ctx *c = ctx;
    c->trailers = arena_str(&x->arena, fields);
    if (!c->trailers.ptr)
        c->overflow = true; /* cannot keep the whole response: do not store a partial one */
}

static void idem_end(struct exchange *x, void *ctx)
{
    struct idem_ctx *c = ctx;
    struct idem_shared *s = x->link->shared;
    stop_waiting(c);
    if (c->ops)
        store_call_cancel(c->ops, c->st, &c->call);
    if (c->answered && c->call.status == STORE_DONE)
        free(c->call.resp); /* answered, never replayed */
    c->answered = false;
    if (c->owner) {
        const struct store_ops *ops = c->ops;
        char *rec = NULL;
        size_t len = 0;
        if (x->response_complete && x->upstream_head && !c->overflow && c->capture_len)
            rec = record(c, &len);
        if (rec)
            ops->complete(c->st, c->key, c->call.token, rec, len, x->worker->loop->now_ms);
        else
            ops->abort(c->st, c->key, c->call.token);
        free(rec);
        c->owner = false;
        waitq_wake_all(s->q, x->worker); /* the waiters look again: replay, or claim */
    }
    free(c->capture);
    c->capture = NULL;
}

const struct pipeline_module idempotency_module = {
    .name = "idempotency",
    .phase = PIPELINE_PHASE_LIMIT,
    .ctx_size = sizeof(struct idem_ctx),
    .enabled = idem_enabled,
    .shared_get = idem_shared_get,
    .shared_put = idem_shared_put,
    .on_request = idem_request,
    .on_response_head = idem_response_head,
    .on_response_data = idem_response_data,
    .on_response_trailers = idem_response_trailers,
    .on_end = idem_end,
};

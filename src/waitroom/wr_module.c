/* wr_module.c — the waiting room as a pipeline module (docs/waiting-room.md). Access phase,
 * after compress (so the queue page is compressed) and before shedding and rate limiting (a
 * waiter's polls never spend the route's rate-limit tokens nor reach anything behind).
 *
 * Per request: bypass rules; the cookie (HMAC check, no shared state); then at most one store
 * call — none for an admitted visitor seen within the touch interval, nor for a waiter polling
 * sooner than half of `refresh` after its last counted poll (answered from its cookie). The
 * store is the only shared state; this process's figures are atomics in the room's handle. */
#include "waitroom/wr_module.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/config_types.h"
#include "core/dlist.h"
#include "core/log.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "resilience/shared_state.h"
#include "state/store_stats.h"
#include "waitroom/wr_config.h"
#include "waitroom/wr_cookie.h"
#include "waitroom/wr_handle.h"
#include "waitroom/wr_page.h"

#define TOUCH_MAX_MS 5000

/* What one route's chain holds: the room and the parameters this generation gives it. */
struct wr_link {
    struct wr_handle *h;
    const struct wr_conf *c;
    struct wr_params p;
    struct group_state *gs;     /* the route's group (the limiter's signal), or NULL */
    uint32_t touch_ms;
    char cookie_name[WR_NAME_MAX + 9];
};

enum cookie_op { CK_NONE = 0, CK_SET, CK_CLEAR };

struct wr_ctx {
    struct exchange *x;
    struct wr_call call;        /* the store call of this request (or of the revoke) */
    bool in_call;               /* inside wr_store_call: an answer now needs no resume */
    bool answered;
    bool shared;                /* the room in Redis (state.backend: redis) */
    bool have;                  /* ck is a valid cookie */
    struct wr_cookie ck;
    int64_t now;
    uint8_t cookie_op;
    bool admitted;              /* goes upstream on a session */
    uint64_t sid;
    uint32_t slot;
    char cookie[WR_COOKIE_MAX];
};

static void *wr_shared_get(const struct cfg_route *route, const void *conf)
{
    const struct wr_conf *c = conf;
    struct wr_link *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->c = c;
    l->p = (struct wr_params){
        .max_active = c->max_active, .admit_per_minute = c->admit_per_minute,
        .window_ms = c->window_ms, .session_ms = c->session_ms, .abandon_ms = c->abandon_ms, .mode = c->queueing,
        .event = c->event, .prequeue_ms = c->prequeue_ms, .start_ms = c->start_ms,
        .end_ms = c->end_ms};
    l->touch_ms = c->session_ms / 10 < TOUCH_MAX_MS ? c->session_ms / 10 : TOUCH_MAX_MS;
    snprintf(l->cookie_name, sizeof(l->cookie_name), "weir_wr_%s", c->name);
    l->h = wr_handle_get(c, &l->p);
    if (!l->h) {
        free(l);
        return NULL;
    }
    if (route->upstream)
        l->gs = group_state_get(route->upstream);
    return l;
}

static void wr_shared_put(void *shared)
{
    struct wr_link *l = shared;
    if (!l)
        return;
    if (l->gs)
        group_state_put(l->gs);
    wr_handle_put(l->h);
    free(l);
}

static bool cidr_match(const struct wr_bypass *b, const char *ip)
{
    uint8_t a[16];
    if (!ip || inet_pton(b->family, ip, a) != 1) {
        /* an IPv4 client on a dual-stack socket may read as ::ffff:a.b.c.d */
        if (b->family != AF_INET || !ip || strncmp(ip, "::ffff:", 7) ||
            inet_pton(AF_INET, ip + 7, a) != 1)
            return false;
    }
    uint32_t bits = b->prefix, i = 0;
    for (; bits >= 8; bits -= 8, i++)
        if (a[i] != b->addr[i])
            return false;
    return !bits || ((a[i] ^ b->addr[i]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static bool bypassed(const struct exchange *x, const struct wr_conf *c)
{
    for (uint32_t i = 0; i < c->nbypass; i++) {
        const struct wr_bypass *b = &c->bypass[i];
        switch (b->kind) {
        case WR_BYPASS_PATH:
            if (str_has_prefix(x->req->target, str_cstr(b->path)))
                return true;
            break;
        case WR_BYPASS_CIDR:
            if (cidr_match(b, x->client_ip))
                return true;
            break;
        case WR_BYPASS_HEADER: {
            int k = h1_find_header(x->req->headers, x->req->nheaders, str_cstr(b->header));
            if (k >= 0 && x->req->headers[k].value.len == b->value_len &&
                CRYPTO_memcmp(x->req->headers[k].value.ptr, b->value, b->value_len) == 0)
                return true;
            break;
        }
        }
    }
    return false;
}

/* This worker's part: a reusable MAC context and the cookie values it verified lately. */
struct wr_local {
    struct wr_mac_work *w;
    struct wr_vcache vc;
};

static void *wr_local_new(const void *conf, void *shared)
{
    (void)conf;
    (void)shared;
    struct wr_local *lc = calloc(1, sizeof(*lc));
    if (lc && !(lc->w = wr_mac_work_new())) {
        free(lc);
        lc = NULL;
    }
    return lc;
}

static void wr_local_free(void *local)
{
    struct wr_local *lc = local;
    if (!lc)
        return;
    wr_mac_work_free(lc->w);
    free(lc);
}

static void set_cookie(struct wr_ctx *ctx, struct exchange *x, const struct wr_link *l,
                       const struct wr_cookie *ck)
{
    struct wr_local *lc = x->link->local;
    if (wr_cookie_encode(ck, l->c->name, l->c->mac, lc->w, ctx->cookie))
        ctx->cookie_op = CK_SET;
}

static bool wants_json(const struct exchange *x)
{
    int k = h1_find_header(x->req->headers, x->req->nheaders, STR_LIT("Accept"));
    return k >= 0 && str_eq(x->req->headers[k].value, STR_LIT("application/json"));
}

/* The queue response (waiting, or full without a ticket). */
static enum pipeline_verdict queue_reply(struct exchange *x, struct wr_link *l, bool waiting,
                                         uint64_t ahead, uint64_t active, uint64_t rate)
{
    const struct wr_conf *c = l->c;
    uint32_t refresh_s = (c->refresh_ms + 999) / 1000;
    struct wr_view v = {
        .room = c->name, .waiting = waiting, .ahead = ahead, .refresh_s = refresh_s,
        .admitted_per_minute = rate, .active = active, .max_active = c->max_active,
        .event = c->event, .prequeue_ms = c->prequeue_ms, .start_ms = c->start_ms,
        .end_ms = c->end_ms, .eta_known = rate > 0,
        .eta_s = rate ? ((ahead + 1) * 60 + rate - 1) / rate : 0};
    bool json = wants_json(x);
    size_t need = json ? wr_page_json(&v, NULL, 0) : wr_page_html(&v, c->page, c->page_len, NULL, 0);
    char *body = arena_alloc(&x->arena, need + 1);
    struct response *r = &x->reply;
    if (!body || response_init(r, &x->arena, c->status, 8) != 0)
        goto nomem;
    if (json)
        wr_page_json(&v, body, need + 1);
    else
        wr_page_html(&v, c->page, c->page_len, body, need + 1);
    response_set_body(r, body, need);
    if (response_add(r, &x->arena, STR_LIT("Content-Type"),
                     json ? STR_LIT("application/json")
                          : STR_LIT("text/html; charset=utf-8")) != 0 ||
        response_add(r, &x->arena, STR_LIT("Cache-Control"), STR_LIT("no-store")) != 0 ||
        response_addf(r, &x->arena, STR_LIT("Retry-After"), "%u", refresh_s) != 0)
        goto nomem;
    x->has_reply = true;
    atomic_fetch_add_explicit(&l->h->queue_replies, 1, memory_order_relaxed);
    return PIPELINE_RESPOND;
nomem:
    x->fail_reason = "out of memory";
    return PIPELINE_FAIL;
}

static void remember(struct wr_handle *h, const struct wr_result *res)
{
    atomic_store_explicit(&h->seen_active, res->active, memory_order_relaxed);
    atomic_store_explicit(&h->seen_rate, res->admitted_last_minute, memory_order_relaxed);
    atomic_store_explicit(&h->seen_waiting, res->waiting, memory_order_relaxed);
}

/* A valid cookie of this room and incarnation that has not expired, or false. With *adopt
 * (the room in Redis): also true for a session a local room admitted (state.on_store_error:
 * local, while Redis was away: another nonce, a local slot) within its session time, and
 * *adopt says so — Redis never knew it, the shared room adopts it (WR_OP_ADOPT). */
static bool read_cookie(struct exchange *x, struct wr_link *l, int64_t now, uint32_t nonce,
                        struct wr_cookie *ck, bool *adopt)
{
    bool found;
    struct str v = wr_cookie_find(x->req->headers, x->req->nheaders, str_cstr(l->cookie_name),
                                  &found);
    if (!found || !v.len)
        return false; /* an emptied cookie is no cookie */
    struct wr_local *lc = x->link->local;
    bool ok = wr_cookie_decode_cached(&lc->vc, v, l->c->name, l->c->mac, lc->w, ck) &&
              ck->seen_ms <= now + 60000 &&
              now - ck->seen_ms <= (int64_t)(ck->admitted ? l->p.session_ms : l->p.abandon_ms);
    if (ok && ck->nonce != nonce) {
        ok = adopt && ck->admitted && ck->slot != WR_REDIS_SLOT;
        if (ok)
            *adopt = true;
    }
    if (!ok)
        atomic_fetch_add_explicit(&l->h->cookies_rejected, 1, memory_order_relaxed);
    return ok;
}

/* The store's answer (worker thread): acted on by the hook, now or when resumed. */
static void call_answered(struct wr_call *call)
{
    struct wr_ctx *ctx = container_of(call, struct wr_ctx, call);
    ctx->answered = true;
    if (!ctx->in_call)
        pipeline_resume(ctx->x);
}

static void call_start(struct wr_ctx *ctx, struct wr_handle *h)
{
    ctx->in_call = true;
    if (ctx->shared)
        wr_store_call(&wr_store_redis, h->shared_room, &ctx->call);
    else
        wr_store_call(h->ops, h->room, &ctx->call);
    ctx->in_call = false;
}

/* Redis did not answer in time: state.on_store_error.waiting_room decides. local: this
 * instance's own room (its cookies name local tickets); open: let the request through
 * without a session; closed: 503. NEXT/RESPOND/FAIL, or -1 when the local room answered. */
static int store_failed(struct exchange *x, struct wr_ctx *ctx, struct wr_handle *h)
{
    enum cfg_store_error pol = x->cfg->state.waiting_room_on_error;
    store_stats_fallback(STORE_F_WAITROOM, config_store_error_name(pol));
    if (pol == CFG_STORE_OPEN)
        return PIPELINE_NEXT;
    if (pol == CFG_STORE_CLOSED)
        return pipeline_reply(x, 503, "the waiting room store is unavailable");
    ctx->shared = false;
    ctx->answered = false;
    if (ctx->call.op == WR_OP_POLL || ctx->call.slot == WR_REDIS_SLOT)
        ctx->call.op = WR_OP_ARRIVE; /* a Redis ticket or session means nothing here */
    else if (ctx->call.op == WR_OP_ADOPT) /* this room's own session still is, another's not */
        ctx->call.op = ctx->ck.nonce == h->nonce ? WR_OP_TOUCH : WR_OP_ARRIVE;
    call_start(ctx, h);
    return -1;
}

static enum pipeline_verdict decided(struct exchange *x, struct wr_ctx *ctx, struct wr_link *l);

static enum pipeline_verdict wr_request(struct exchange *x, void *vctx)
{
    struct wr_ctx *ctx = vctx;
    struct wr_link *l = x->link->shared;
    struct wr_handle *h = l->h;
    if (ctx->call.pending)
        return PIPELINE_WAIT; /* woken early: the store still works */
    if (ctx->answered)
        return decided(x, ctx, l);
    if (bypassed(x, l->c)) {
        atomic_fetch_add_explicit(&h->bypassed, 1, memory_order_relaxed);
        return PIPELINE_NEXT;
    }
    int64_t now = wr_now_ms();
    struct wr_params p = l->p;
    if (l->c->apm_auto) {
        bool saturated = l->gs && l->gs->limiter && atomic_load(&l->gs->queued) > 0;
        wr_auto_tick(&h->ctl, now, atomic_load(&h->seen_waiting) > 0, saturated);
        p.admit_per_minute = wr_auto_rate(&h->ctl);
    }
    wr_handle_phase(h, &p, now);
    if (p.mode == WR_PASSTHROUGH || wr_phase_at(&p, now) == WR_OFF) {
        atomic_fetch_add_explicit(&h->passed, 1, memory_order_relaxed);
        return PIPELINE_NEXT;
    }
    bool shared = x->cfg->state.backend == CFG_STATE_REDIS;
    *ctx = (struct wr_ctx){.x = x, .shared = shared, .now = now};
    struct wr_cookie *ck = &ctx->ck;
    bool adopt = false;
    ctx->have = read_cookie(x, l, now, shared ? h->shared_nonce : h->nonce, ck,
                            shared ? &adopt : NULL);
    ctx->call = (struct wr_call){.op = WR_OP_ARRIVE, .p = p, .now = now, .done = call_answered};
    if (adopt) {
        ctx->call.op = WR_OP_ADOPT;
        ctx->call.id = ck->id;
        ctx->call.slot = ck->slot;
    } else if (ctx->have && ck->admitted) {
        if (now - ck->seen_ms < (int64_t)l->touch_ms) {
            ctx->admitted = true;
            ctx->sid = ck->id;
            ctx->slot = ck->slot;
            return PIPELINE_NEXT;
        }
        ctx->call.op = WR_OP_TOUCH;
        ctx->call.id = ck->id;
        ctx->call.slot = ck->slot;
    } else if (ctx->have) {
        if (now - ck->seen_ms < (int64_t)l->c->refresh_ms / 2) /* a refresh storm: no store */
            return queue_reply(x, l, true, ck->ahead, atomic_load(&h->seen_active),
                               atomic_load(&h->seen_rate));
        ctx->call.op = WR_OP_POLL;
        ctx->call.id = ck->id;
    }
    call_start(ctx, h);
    if (!ctx->answered)
        return PIPELINE_WAIT; /* call_answered resumes */
    return decided(x, ctx, l);
}

/* The store answered ctx->call (or failed): the verdict. */
static enum pipeline_verdict decided(struct exchange *x, struct wr_ctx *ctx, struct wr_link *l)
{
    struct wr_handle *h = l->h;
    ctx->answered = false;
    if (ctx->call.failed) {
        int v = store_failed(x, ctx, h);
        if (v >= 0)
            return (enum pipeline_verdict)v;
        ctx->answered = false; /* the memory room answered at once */
    }
    const struct wr_result *res = &ctx->call.res;
    int64_t now = ctx->now;
    if (res->v != WR_NOMEM && res->v != WR_PASS)
        remember(h, res);
    bool keep = ctx->have && !res->new_visitor;
    struct wr_cookie out = {.id = res->id, .slot = res->slot,
                            .nonce = ctx->shared ? h->shared_nonce : h->nonce,
                            .issued_ms = keep && !res->fresh ? ctx->ck.issued_ms : now,
                            .seen_ms = now, .ahead = res->ahead};
    switch (res->v) {
    case WR_ADMITTED:
        out.admitted = true;
        set_cookie(ctx, x, l, &out);
        ctx->admitted = true;
        ctx->sid = res->id;
        ctx->slot = res->slot;
        return PIPELINE_NEXT;
    case WR_WAITING:
        set_cookie(ctx, x, l, &out);
        return queue_reply(x, l, true, res->ahead, res->active, res->admitted_last_minute);
    case WR_REJECTED:
        return queue_reply(x, l, false, 0, res->active, res->admitted_last_minute);
    case WR_PASS:
        return PIPELINE_NEXT;
    case WR_NOMEM:
    default:
        return pipeline_reply(x, 503, "the waiting room is out of memory");
    }
}

static void revoke_sent(struct wr_call *call)
{
    (void)call; /* nobody waits for a revoke's answer */
}

static void wr_response_head(struct exchange *x, void *vctx, struct response *r)
{
    struct wr_ctx *ctx = vctx;
    struct wr_link *l = x->link->shared;
    struct str v = response_get(r, STR_LIT("Weir-Waiting-Room"));
    if (v.ptr) {
        response_remove(r, STR_LIT("Weir-Waiting-Room"));
        if (x->upstream_head && ctx->admitted && h1_list_has_token(v, STR_LIT("revoke"))) {
            struct wr_params p = l->p;
            if (l->c->apm_auto)
                p.admit_per_minute = wr_auto_rate(&l->h->ctl);
            ctx->call = (struct wr_call){.op = WR_OP_REVOKE, .p = p, .id = ctx->sid,
                                         .slot = ctx->slot, .now = wr_now_ms(),
                                         .done = revoke_sent};
            if (ctx->slot == WR_REDIS_SLOT) /* sent; the answer is not waited for */
                wr_store_call(&wr_store_redis, l->h->shared_room, &ctx->call);
            else
                wr_store_call(l->h->ops, l->h->room, &ctx->call);
            atomic_fetch_add_explicit(&l->h->origin_revokes, 1, memory_order_relaxed);
            ctx->admitted = false;
            ctx->cookie_op = CK_CLEAR;
        }
    }
    if (ctx->cookie_op == CK_NONE)
        return;
    if (ctx->cookie_op == CK_CLEAR)
        response_addf(r, &x->arena, STR_LIT("Set-Cookie"),
                      "%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s", l->cookie_name,
                      x->tls ? "; Secure" : "");
    else
        response_addf(r, &x->arena, STR_LIT("Set-Cookie"), "%s=%s; Path=/; HttpOnly; SameSite=Lax%s",
                      l->cookie_name, ctx->cookie, x->tls ? "; Secure" : "");
}

static void wr_end(struct exchange *x, void *vctx)
{
    struct wr_ctx *ctx = vctx;
    struct wr_link *l = x->link->shared;
    if (ctx->call.pending)
        wr_store_cancel(&wr_store_redis, l->h->shared_room, &ctx->call);
    if (!ctx->admitted || !l->c->apm_auto)
        return;
    uint64_t now = ev_clock_us();
    wr_auto_observe(&l->h->ctl, now - x->start_us,
                    !x->upstream_head || x->status >= 500);
}

const struct pipeline_module waitroom_module = {
    .name = "waiting_room",
    .key = "waiting_room",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct wr_ctx),
    .config_load = wr_config_load,
    .config_free = wr_config_free,
    .shared_get = wr_shared_get,
    .shared_put = wr_shared_put,
    .local_new = wr_local_new,
    .local_free = wr_local_free,
    .on_request = wr_request,
    .on_response_head = wr_response_head,
    .on_end = wr_end,
};

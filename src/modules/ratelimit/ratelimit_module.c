/* ratelimit_module.c — see ratelimit_module.h. */
#include "modules/ratelimit/ratelimit_module.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/config.h"
#include "core/config_types.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "resilience/ratelimit.h"
#include "resilience/shared_state.h"
#include "state/redis_conn.h"
#include "state/store_stats.h"

struct rl_ctx {
    char policy[64];   /* RateLimit-Policy value, "" = none */
    char limit[64];    /* RateLimit value */
    struct exchange *x;
    struct route_state *rs;
    struct redis_req *req;     /* the Redis decision in flight */
    bool answered;             /* res (or failed) holds Redis' answer, not yet acted on */
    bool failed;               /* Redis did not answer in time */
    struct ratelimit_result res;
};

#define RL_REDIS_KEY_MAX 512

static bool rl_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)cfg;
    return route->ratelimit.enabled;
}

static void *rl_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)conf;
    struct route_state *rs = route_state_get(route);
    if (rs && !rs->ratelimit) {
        route_state_put(rs);
        return NULL;
    }
    return rs;
}

static void rl_shared_put(void *shared)
{
    route_state_put(shared);
}

static struct str request_key(const struct exchange *x)
{
    const struct cfg_ratelimit *cfg = &x->route->ratelimit;
    switch (cfg->key) {
    case CFG_RL_HEADER: {
        int i = h1_find_header(x->req->headers, x->req->nheaders, str_cstr(cfg->header));
        return i >= 0 ? x->req->headers[i].value : STR_LIT("");
    }
    case CFG_RL_ROUTE:
        return STR_LIT("route");
    case CFG_RL_CLIENT:
        /* the authenticated client (an API key's id, a token's subject), kept apart from
         * addresses; a request no authentication module identified counts by its address */
        if (x->client_id)
            return str_cstr(x->client_id);
        return str_cstr(x->client_ip);
    case CFG_RL_CLIENT_IP:
    default:
        return str_cstr(x->client_ip);
    }
}

static int add_fields(struct exchange *x, struct response *r, const struct rl_ctx *c)
{
    if (!c->policy[0])
        return 0;
    if (response_add(r, &x->arena, STR_LIT("RateLimit-Policy"), str_cstr(c->policy)) != 0 ||
        response_add(r, &x->arena, STR_LIT("RateLimit"), str_cstr(c->limit)) != 0)
        return -1;
    return 0;
}

/* Redis' answer {allowed, TAT - now} (worker thread). */
static void redis_answered(void *arg, const redisReply *r)
{
    struct rl_ctx *c = arg;
    struct route_state *rs = c->rs;
    c->req = NULL;
    c->answered = true;
    c->failed = !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                r->element[0]->type != REDIS_REPLY_INTEGER ||
                r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer < 0;
    if (!c->failed)
        ratelimit_result_of(rs->ratelimit, r->element[0]->integer == 1,
                            (uint64_t)r->element[1]->integer, &c->res);
    pipeline_resume(c->x);
}

/* Asks Redis: one EVALSHA of the GCRA script on {prefix:rl:<route>|<key>}. false when the
 * connection refuses now (down, or stalled). */
static bool redis_ask(struct exchange *x, struct rl_ctx *c, struct route_state *rs)
{
    struct redis_conn *rc = redis_conn_here();
    char id[RL_REDIS_KEY_MAX], key[RL_REDIS_KEY_MAX + 64], t[24], tau[24];
    if (!rc)
        return false;
    struct str k = request_key(x);
    int n = snprintf(id, sizeof(id), "%s|%.*s", rs->key, (int)(k.len < 256 ? k.len : 256), k.ptr);
    size_t kl = n > 0 && (size_t)n < sizeof(id)
                    ? redis_key(key, sizeof(key), redis_conn_cfg(rc)->prefix, "rl", id, (size_t)n)
                    : 0;
    if (!kl)
        return false;
    uint64_t t_us, tau_us;
    ratelimit_params(rs->ratelimit, &t_us, &tau_us);
    const char *argv[3] = {key, t, tau};
    size_t lens[3] = {kl, (size_t)snprintf(t, sizeof(t), "%" PRIu64, t_us),
                      (size_t)snprintf(tau, sizeof(tau), "%" PRIu64, tau_us)};
    c->x = x;
    c->rs = rs;
    c->req = redis_conn_eval(rc, REDIS_SCRIPT_GCRA, 1, 3, argv, lens, redis_answered, c);
    return c->req != NULL;
}

/* The decision without Redis, per state.on_store_error.rate_limit: false = refuse (503). */
static bool fallback(struct exchange *x, struct route_state *rs, struct ratelimit_result *r)
{
    enum cfg_store_error p = x->cfg->state.rate_limit_on_error;
    store_stats_fallback(STORE_F_RATELIMIT, config_store_error_name(p));
    if (p == CFG_STORE_LOCAL) {
        ratelimit_check(rs->ratelimit, request_key(x), ev_clock_us(), r);
        return true;
    }
    *r = (struct ratelimit_result){.allowed = p == CFG_STORE_OPEN};
    return p == CFG_STORE_OPEN;
}

static enum pipeline_verdict rl_request(struct exchange *x, void *ctx)
{
    struct rl_ctx *c = ctx;
    struct route_state *rs = x->link->shared;
    struct ratelimit_result r;
    if (c->req)
        return PIPELINE_WAIT; /* woken early: Redis still works */
    if (c->answered) {
        c->answered = false;
        r = c->res;
        if (c->failed && !fallback(x, rs, &r))
            return pipeline_reply(x, 503, "the rate limit store is unavailable");
    } else if (x->cfg->state.backend == CFG_STATE_REDIS) {
        if (redis_ask(x, c, rs))
            return PIPELINE_WAIT; /* redis_answered resumes */
        if (!fallback(x, rs, &r))
            return pipeline_reply(x, 503, "the rate limit store is unavailable");
    } else {
        ratelimit_check(rs->ratelimit, request_key(x), ev_clock_us(), &r);
    }
    if (!r.limit) {
        c->policy[0] = '\0'; /* allowed without a decision (open): no fields */
        return PIPELINE_NEXT;
    }
    snprintf(c->policy, sizeof(c->policy), "\"default\";q=%u;w=%u", (unsigned)r.limit,
             (unsigned)r.window_s);
    snprintf(c->limit, sizeof(c->limit), "\"default\";r=%u;t=%u", (unsigned)r.remaining,
             (unsigned)r.reset_s);
    if (r.allowed)
        return PIPELINE_NEXT;
    atomic_fetch_add_explicit(&rs->rate_limited, 1, memory_order_relaxed);
    mc_add(&rs->m[x->worker->id].rate_limited, 1);
    enum pipeline_verdict v = pipeline_reply(x, 429, "rate limit exceeded");
    if (v == PIPELINE_RESPOND) {
        response_remove(&x->reply, STR_LIT("Retry-After"));
        if (response_addf(&x->reply, &x->arena, STR_LIT("Retry-After"), "%u",
                          (unsigned)r.retry_after_s) != 0)
            return PIPELINE_FAIL;
    }
    return v;
}

static void rl_end(struct exchange *x, void *ctx)
{
    (void)x;
    struct rl_ctx *c = ctx;
    redis_req_cancel(c->req);
    c->req = NULL;
}

/* Both the 429 and an allowed request's response carry the fields. */
static void rl_response_head(struct exchange *x, void *ctx, struct response *r)
{
    add_fields(x, r, ctx);
}

const struct pipeline_module ratelimit_module = {
    .name = "rate_limit",
    .phase = PIPELINE_PHASE_LIMIT,
    .ctx_size = sizeof(struct rl_ctx),
    .enabled = rl_enabled,
    .shared_get = rl_shared_get,
    .shared_put = rl_shared_put,
    .on_request = rl_request,
    .on_response_head = rl_response_head,
    .on_end = rl_end,
};

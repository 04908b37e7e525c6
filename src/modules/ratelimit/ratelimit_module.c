/* ratelimit_module.c — see ratelimit_module.h. */
#include "modules/ratelimit/ratelimit_module.h"

#include <stdatomic.h>
#include <stdio.h>

#include "core/config_types.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "resilience/ratelimit.h"
#include "resilience/shared_state.h"

struct rl_ctx {
    char policy[64];   /* RateLimit-Policy value, "" = none */
    char limit[64];    /* RateLimit value */
};

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

static enum pipeline_verdict rl_request(struct exchange *x, void *ctx)
{
    struct rl_ctx *c = ctx;
    struct route_state *rs = x->link->shared;
    struct ratelimit_result r;
    ratelimit_check(rs->ratelimit, request_key(x), ev_clock_us(), &r);
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
};

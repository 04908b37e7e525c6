/* shed.c — see shed.h. Reads the worker's own figures only: no shared state, no lock. */
#include "modules/shed/shed.h"

#include "core/config_types.h"
#include "metrics/metrics.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"

static bool shed_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)route;
    return cfg->limits.shed_inflight || cfg->limits.shed_loop_lag_ms;
}

static enum pipeline_verdict shed_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct cfg_limits *lim = &x->cfg->limits;
    const struct pipeline_worker *w = x->worker;
    const char *why = NULL;
    if (lim->shed_inflight && w->inflight > lim->shed_inflight)
        why = "this gateway worker is over its in-flight limit";
    else if (lim->shed_loop_lag_ms && w->loop_lag_ms > lim->shed_loop_lag_ms)
        why = "this gateway worker is falling behind";
    if (!why)
        return PIPELINE_NEXT;
    if (w->metrics)
        mc_add(&w->metrics->shed, 1);
    return pipeline_reply(x, 503, why);
}

const struct pipeline_module shed_module = {
    .name = "shed",
    .phase = PIPELINE_PHASE_LIMIT,
    .enabled = shed_enabled,
    .on_request = shed_request,
};

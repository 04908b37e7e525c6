/* request_buffering.c — see request_buffering.h. Stateless: on the re-run after the host
 * resumes it, the body is either handed over (x->body_ready) or kept where a module cannot
 * see it (a temp file: pipeline_need_body says NEXT without it); either way it is in. */
#include "modules/request_buffering/request_buffering.h"

#include "core/config_types.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"

static bool rb_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)cfg;
    return route->buffering.request;
}

static enum pipeline_verdict rb_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct h1_request *r = x->req;
    bool has_body = r->framing == H1_FRAME_CHUNKED ||
                    (r->framing == H1_FRAME_LENGTH && r->content_length > 0);
    if (!has_body || x->body_ready)
        return PIPELINE_NEXT;
    return pipeline_need_body(x);
}

const struct pipeline_module request_buffering_module = {
    .name = "request_buffering",
    .phase = PIPELINE_PHASE_LIMIT,
    .enabled = rb_enabled,
    .on_request = rb_request,
};

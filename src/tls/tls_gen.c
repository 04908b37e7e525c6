/* tls_gen.c — see tls_gen.h. */
#include "tls/tls_gen.h"

#include <stdio.h>
#include <stdlib.h>

static void gen_free(void *arg)
{
    struct tls_gen *g = arg;
    if (!g)
        return;
    for (uint32_t i = 0; g->listeners && i < g->nlisteners; i++)
        tls_server_free(g->listeners[i]);
    for (uint32_t i = 0; g->upstreams && i < g->nupstreams; i++)
        tls_client_free(g->upstreams[i]);
    tls_client_free(g->state);
    free(g->listeners);
    free(g->upstreams);
    free(g);
}

int tls_gen_build(struct config *cfg, char *err, size_t errlen)
{
    if (cfg->tls_rt)
        return 0;
    bool state = cfg->state.backend == CFG_STATE_REDIS && cfg->state.tls;
    bool any = state;
    for (uint32_t i = 0; i < cfg->nlisteners; i++)
        any |= cfg->listeners[i].tls != NULL;
    for (uint32_t i = 0; i < cfg->nupstreams; i++)
        any |= cfg->upstreams[i].tls != NULL;
    if (!any)
        return 0; /* plain only: nothing to build, every lookup answers NULL */
    struct tls_gen *g = calloc(1, sizeof(*g));
    if (!g || !(g->listeners = calloc(cfg->nlisteners + 1, sizeof(*g->listeners))) ||
        !(g->upstreams = calloc(cfg->nupstreams + 1, sizeof(*g->upstreams)))) {
        gen_free(g);
        snprintf(err, errlen, "%s: out of memory building TLS contexts", cfg->source);
        return -1;
    }
    g->nlisteners = cfg->nlisteners;
    g->nupstreams = cfg->nupstreams;
    for (uint32_t i = 0; i < cfg->nlisteners; i++)
        if (cfg->listeners[i].tls && !(g->listeners[i] = tls_server_new(cfg, i, err, errlen)))
            goto bad;
    for (uint32_t i = 0; i < cfg->nupstreams; i++)
        if (cfg->upstreams[i].tls && !(g->upstreams[i] = tls_client_new(cfg, i, err, errlen)))
            goto bad;
    char where[96];
    snprintf(where, sizeof(where), "%.80s: state.tls", cfg->source);
    if (state && !(g->state = tls_client_new_cfg(cfg->state.tls, where, false, err, errlen)))
        goto bad;
    cfg->tls_rt = g;
    cfg->tls_rt_free = gen_free;
    return 0;
bad:
    gen_free(g);
    return -1;
}

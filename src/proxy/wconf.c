/* wconf.c — a worker's config generations (see wconf.h): what one generation of the config
 * owns on one worker (balancer state, pools, breakers, probes, route states and pipeline
 * chains), and how an old generation is retired while clients still hold it. */
#include "proxy/wconf.h"

#include <stdlib.h>

#include "balance/lb.h"
#include "core/config.h"
#include "core/log.h"
#include "pipeline/chain.h"
#include "proxy/dlist.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"
#include "resilience/health.h"
#include "resilience/probe.h"
#include "resilience/shared_state.h"
#include "tls/tls_gen.h"

void wconf_free(struct wconf *wc)
{
    for (uint32_t g = 0; g < wc->cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        for (uint32_t s = 0; grp->cfg && s < grp->cfg->nservers; s++) {
            if (grp->probes && grp->probes[s]) {
                probe_stop(grp->probes[s]);
                free(grp->probes[s]);
            }
            if (grp->pools)
                pool_fini(&grp->pools[s]);
            if (grp->states)
                health_put(grp->states[s]);
        }
        if (grp->lb && grp->lb_state)
            grp->lb->destroy(grp->lb_state);
        group_state_put(grp->gs);
        free(grp->breakers);
        free(grp->probes);
        free(grp->pools);
        free(grp->servers);
        free(grp->states);
    }
    for (uint32_t r = 0; wc->routes && r < wc->cfg->nroutes; r++)
        route_state_put(wc->routes[r]);
    for (uint32_t r = 0; wc->chains && r < wc->cfg->nroutes; r++)
        pipeline_chain_free(wc->chains[r]);
    free(wc->chains);
    free(wc->routes);
    free(wc->groups);
    config_unref(wc->cfg);
    free(wc);
}

static void wconf_free_deferred(void *arg)
{
    wconf_free(arg);
}

/* Frees wc after the current event batch: a probe or pool connection of it may still be
 * named by a pending event. */
static void wconf_release(struct worker *w, struct wconf *wc)
{
    for (uint32_t g = 0; g < wc->cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        for (uint32_t s = 0; grp->probes && s < grp->cfg->nservers; s++)
            if (grp->probes[s])
                probe_stop(grp->probes[s]);
    }
    if (w->loop.stop || ev_defer(&w->loop, wconf_free_deferred, wc) == -1)
        wconf_free(wc);
}

struct wconf *wconf_new(struct worker *w, struct config *cfg)
{
    struct wconf *wc = calloc(1, sizeof(*wc));
    if (!wc)
        return NULL;
    config_ref(cfg);
    wc->cfg = cfg;
    wc->w = w;
    wc->groups = calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*wc->groups));
    if (!wc->groups)
        goto fail;
    for (uint32_t g = 0; g < cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        const struct cfg_upstream *up = &cfg->upstreams[g];
        grp->cfg = up;
        grp->lb = lb_find(up->balance);
        grp->states = calloc(up->nservers, sizeof(*grp->states));
        grp->servers = calloc(up->nservers, sizeof(*grp->servers));
        grp->pools = calloc(up->nservers, sizeof(*grp->pools));
        grp->probes = calloc(up->nservers, sizeof(*grp->probes));
        grp->breakers = calloc(up->nservers, sizeof(*grp->breakers));
        dlist_init(&grp->queue);
        if (!grp->lb || !grp->states || !grp->servers || !grp->pools || !grp->probes ||
            !grp->breakers)
            goto fail;
        grp->gs = group_state_get(up);
        if (!grp->gs)
            goto fail;
        for (uint32_t s = 0; s < up->nservers; s++) {
            grp->states[s] = health_get(up->name, &up->servers[s]);
            if (!grp->states[s])
                goto fail;
            grp->servers[s] = &grp->states[s]->lb;
            grp->breakers[s] = server_breaker_get(grp->states[s], up);
            pool_init(&grp->pools[s], w, wc, up, &up->servers[s], grp->states[s]);
        }
        grp->lb_state = grp->lb->create(grp->servers, up->nservers);
        if (!grp->lb_state)
            goto fail;
    }
    wc->routes = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*wc->routes));
    if (!wc->routes)
        goto fail;
    for (uint32_t r = 0; r < cfg->nroutes; r++)
        if (!(wc->routes[r] = route_state_get(&cfg->routes[r])))
            goto fail;
    wc->chains = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof(*wc->chains));
    if (!wc->chains)
        goto fail;
    for (uint32_t r = 0; r < cfg->nroutes; r++)
        if (!(wc->chains[r] = pipeline_chain_build(cfg, &cfg->routes[r])))
            goto fail;
    return wc;
fail:
    wconf_free(wc);
    return NULL;
}

/* Starts the active checks this worker is responsible for in its current generation. */
void wconf_start_probes(struct worker *w, struct wconf *wc)
{
    for (uint32_t g = 0; g < wc->cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        if (!grp->cfg->active.enabled)
            continue;
        for (uint32_t s = 0; s < grp->cfg->nservers; s++) {
            if (health_checker_of(grp->states[s], w->nworkers) != w->id)
                continue;
            grp->probes[s] = malloc(sizeof(struct health_probe));
            if (!grp->probes[s]) {
                log_error("worker %u: out of memory for the health check of %s", w->id,
                          grp->states[s]->key);
                continue;
            }
            /* Spread first checks over the interval instead of firing them all at once. */
            uint32_t delay = (uint32_t)(worker_rand(w) % (grp->cfg->active.interval_ms / 4 + 1));
            probe_start(grp->probes[s], &w->loop, grp->states[s], grp->cfg,
                        &grp->cfg->servers[s], tls_gen_upstream(wc->cfg, g), delay);
        }
    }
}

void wconf_put(struct wconf *wc)
{
    if (--wc->users > 0 || !wc->retired)
        return;
    struct worker *w = wc->w;
    for (struct wconf **p = &w->retired; *p; p = &(*p)->next_retired) {
        if (*p == wc) {
            *p = wc->next_retired;
            break;
        }
    }
    wconf_release(w, wc);
}

/* Drops the worker's own reference to wc, its former current generation. */
void wconf_retire(struct worker *w, struct wconf *wc)
{
    if (!wc)
        return;
    wc->retired = true;
    if (--wc->users == 0) {
        wconf_release(w, wc);
        return;
    }
    /* Idle upstream connections of an old generation are not reused: close them now, and
     * only the current generation runs health checks. */
    for (uint32_t g = 0; g < wc->cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        for (uint32_t s = 0; s < grp->cfg->nservers; s++) {
            pool_close_idle(&grp->pools[s]);
            if (grp->probes[s])
                probe_stop(grp->probes[s]);
        }
    }
    wc->next_retired = w->retired;
    w->retired = wc;
}

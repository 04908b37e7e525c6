/* chain.c — see chain.h. The registry is installed once at start-up; its keyed modules become
 * the config loader's route extensions, so cfg_route.ext[i] is module i's config. */
#include "pipeline/chain.h"

#include <stdlib.h>

#include "core/config.h"
#include "core/config_types.h"

static const struct pipeline_registry *registry;
static struct cfg_route_ext exts[PIPELINE_REGISTRY_MAX];

void pipeline_registry_set(const struct pipeline_registry *r)
{
    registry = r;
    uint32_t n = r->n < PIPELINE_REGISTRY_MAX ? r->n : PIPELINE_REGISTRY_MAX;
    for (uint32_t i = 0; i < n; i++)
        exts[i] = (struct cfg_route_ext){.key = r->modules[i]->key,
                                         .load = r->modules[i]->config_load,
                                         .free = r->modules[i]->config_free,
                                         .terminal = r->modules[i]->terminal,
                                         .global = r->modules[i]->global};
    config_route_exts_set(exts, n);
}

const struct pipeline_registry *pipeline_registry(void)
{
    return registry;
}

static bool runs_on(const struct pipeline_module *m, const struct config *cfg,
                    const struct cfg_route *r, uint32_t i)
{
    if (m->key)
        return r->ext && i < config_route_exts_count() && r->ext[i];
    return m->enabled && m->enabled(cfg, r);
}

void pipeline_chain_free(struct pipeline_chain *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->links[i].local && c->links[i].m->local_free)
            c->links[i].m->local_free(c->links[i].local);
        if (c->links[i].shared && c->links[i].m->shared_put)
            c->links[i].m->shared_put(c->links[i].shared);
    }
    free(c);
}

struct pipeline_chain *pipeline_chain_build(const struct config *cfg, const struct cfg_route *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; registry && i < registry->n && i < PIPELINE_REGISTRY_MAX; i++)
        n += runs_on(registry->modules[i], cfg, r, i);
    if (n > PIPELINE_MAX_LINKS)
        return NULL;
    struct pipeline_chain *c = calloc(1, sizeof(*c) + n * sizeof(c->links[0]));
    if (!c)
        return NULL;
    for (uint32_t i = 0; registry && i < registry->n && i < PIPELINE_REGISTRY_MAX; i++) {
        const struct pipeline_module *m = registry->modules[i];
        if (!runs_on(m, cfg, r, i))
            continue;
        struct pipeline_link *l = &c->links[c->n++];
        l->m = m;
        l->conf = m->key ? r->ext[i] : NULL;
        if (m->shared_get) {
            l->shared = m->shared_get(r, l->conf);
            if (!l->shared) {
                c->n--;
                pipeline_chain_free(c);
                return NULL;
            }
        }
        if (m->local_new && !(l->local = m->local_new(l->conf, l->shared))) {
            pipeline_chain_free(c);
            return NULL;
        }
        c->response_hooks |= m->on_response_head != NULL;
        c->end_hooks |= m->on_end != NULL;
    }
    return c;
}

/* chain.h — the modules enabled on one route, in registry (phase) order, with their config and
 * shared state, as one worker's config generation sees them. Built when a worker takes a
 * generation (pipeline_chain_build), freed with it; immutable in between. Worker thread. */
#ifndef WEIR_PIPELINE_CHAIN_H
#define WEIR_PIPELINE_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/module.h"

struct config;
struct cfg_route;

#define PIPELINE_REGISTRY_MAX 32
#define PIPELINE_MAX_LINKS 16      /* = PIPELINE_MAX_MODULES of exchange.h */

struct pipeline_link {
    const struct pipeline_module *m;
    const void *conf;            /* the route's config of the module (NULL for keyless ones) */
    void *shared;                /* from shared_get, or NULL */
    void *local;                 /* from local_new: this worker's, or NULL */
};

struct pipeline_chain {
    uint32_t n;
    bool response_hooks;         /* some link has on_response_head */
    bool end_hooks;              /* some link has on_end */
    struct pipeline_link links[];
};

/* The registry: modules in phase order, and each one's index (for config slots). */
struct pipeline_registry {
    const struct pipeline_module *const *modules;
    uint32_t n;
};

/* Installs the registry (main thread, once, before configs are loaded). */
void pipeline_registry_set(const struct pipeline_registry *r);
const struct pipeline_registry *pipeline_registry(void);

/* The route's chain: the keyed modules it configures and the keyless ones that say they are
 * enabled; shared state acquired. NULL when out of memory or when shared_get failed. */
struct pipeline_chain *pipeline_chain_build(const struct config *cfg, const struct cfg_route *r);
void pipeline_chain_free(struct pipeline_chain *c);

#endif

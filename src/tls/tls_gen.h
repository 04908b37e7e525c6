/* tls_gen.h — the TLS state of one configuration generation: a server context per TLS
 * listener, a client context per TLS upstream group and one for a TLS Redis state store. Built on the main thread before the
 * generation is installed (config->tls_rt, freed with the config), so a certificate or key
 * that does not load refuses the start or the reload and the running generation keeps
 * serving with its own. */
#ifndef WEIR_TLS_TLS_GEN_H
#define WEIR_TLS_TLS_GEN_H

#include <stddef.h>

#include "core/config_types.h"
#include "tls/tls_client.h"
#include "tls/tls_server.h"

struct tls_gen {
    struct tls_server **listeners;   /* [nlisteners]; NULL for plain ones */
    struct tls_client **upstreams;   /* [nupstreams]; NULL for plain groups */
    struct tls_client *state;        /* state.tls (Redis); NULL when plain */
    uint32_t nlisteners, nupstreams;
};

/* Builds cfg->tls_rt (once; again is a no-op). -1 with err written. */
int tls_gen_build(struct config *cfg, char *err, size_t errlen);

static inline struct tls_server *tls_gen_listener(const struct config *cfg, uint32_t i)
{
    const struct tls_gen *g = cfg->tls_rt;
    return g ? g->listeners[i] : NULL;
}

static inline struct tls_client *tls_gen_upstream(const struct config *cfg, uint32_t i)
{
    const struct tls_gen *g = cfg->tls_rt;
    return g ? g->upstreams[i] : NULL;
}

static inline struct tls_client *tls_gen_state(const struct config *cfg)
{
    const struct tls_gen *g = cfg->tls_rt;
    return g ? g->state : NULL;
}

#endif

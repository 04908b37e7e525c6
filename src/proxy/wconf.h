/* wconf.h — one config generation as one worker sees it. The worker thread creates a
 * generation per load or reload; each client holds its generation (users++) for its
 * lifetime; a retired generation is freed when its last user puts it, after the current
 * event batch. All calls on the owning worker's thread. */
#ifndef WEIR_PROXY_WCONF_H
#define WEIR_PROXY_WCONF_H

#include "proxy/proxy_types.h"

/* A generation of cfg for worker w (cfg referenced), or NULL when out of memory. */
struct wconf *wconf_new(struct worker *w, struct config *cfg);

/* Starts the active health checks this worker is responsible for in wc. */
void wconf_start_probes(struct worker *w, struct wconf *wc);

/* Drops the worker's own reference to wc, its former current generation: idle upstream
 * connections close and probes stop; wc lives on while clients hold it. */
void wconf_retire(struct worker *w, struct wconf *wc);

/* A client is done with its config generation. */
void wconf_put(struct wconf *wc);

/* Frees wc now (the worker's loop has stopped). */
void wconf_free(struct wconf *wc);

#endif

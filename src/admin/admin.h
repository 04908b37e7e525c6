/* admin.h — the admin listener: metrics, status, live events and the dashboard.
 *
 * The admin listener runs on its own thread with its own event loop (event/loop.h), apart
 * from traffic: it is never shed, and a saturated traffic port does not slow it down. It only
 * READS what workers record: the per-worker metrics shards (metrics/metrics.h), summed when
 * asked, and the shared server/group/route state through the registries' foreach functions
 * (whose lock only reloads take, never a request). Endpoints (docs/operations.md):
 *   GET /          the dashboard page (admin_dashboard_html)
 *   GET /metrics   Prometheus text format 0.0.4
 *   GET /status    the status document (JSON, docs/internals/admin-status.md)
 *   GET /events    Server-Sent Events: the status document every second
 *   GET /healthz   200 "ok"
 * HEAD works on each; other methods get 405. With a token configured, every endpoint wants
 * `Authorization: Bearer <token>` or `?token=<token>`, else 401. The full table of endpoints,
 * with the API's POST actions, is in admin_routes.c. */
#ifndef WEIR_ADMIN_ADMIN_H
#define WEIR_ADMIN_ADMIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_types.h"
#include "metrics/metrics.h"

/* What the main thread shows the admin thread. Filled before admin_start and kept alive (at
 * the same address) until admin_stop returns; the atomics are bumped by the main thread. */
struct admin_view {
    uint32_t nworkers;
    struct worker_shard **workers;  /* [nworkers], each worker's own shard */
    atomic_uint_fast64_t generation, reloads_ok, reloads_failed;
    uint64_t start_wall_ms, start_mono_ms; /* CLOCK_REALTIME / CLOCK_MONOTONIC, ms */
    struct config *state_cfg;       /* its `state` section: the admin thread's own Redis
                                       connection (purges are broadcast from it); admin_start
                                       takes a reference */
};

struct admin;

/* Starts the admin thread (own epoll loop) listening on cfg->listen. Returns NULL with a
 * message in err on failure (bind error: fatal when cfg->explicit_listen, otherwise the caller
 * logs a warning and runs without admin). An address in use is retried every 100 ms for up to
 * busy_wait_ms first (0: not at all): the old weir of a binary upgrade still draining.
 * cfg is copied (the token too); view is borrowed.
 * Main thread; call with the signals blocked (the thread inherits the mask). */
struct admin *admin_start(const struct cfg_admin *cfg, struct admin_view *view,
                          uint32_t busy_wait_ms, char *err, size_t errlen);

/* Main thread: stops the thread, joins it, closes every connection and frees everything.
 * NULL is a no-op. Call before the shards in view (and the registries) go away. */
void admin_stop(struct admin *a);

/* The dashboard page served at "/", generated at build time from src/admin/dashboard.html
 * (src/admin/dashboard_html.c). */
extern const char admin_dashboard_html[];
extern const size_t admin_dashboard_html_len;

#endif

/* worker.h — one thread, one epoll loop, its own listeners (SO_REUSEPORT), its own clients,
 * pools and buffers. The main thread talks to a worker only through worker_post() and the
 * atomics in struct worker; everything else is touched by the worker thread alone. */
#ifndef WEIR_PROXY_WORKER_H
#define WEIR_PROXY_WORKER_H

#include "proxy/proxy_types.h"

/* Size of the per-worker pooled buffers (upstream reads, heads). */
#define WORKER_BUF_SIZE (32u * 1024u)

struct server;

/* A read-only set of listening sockets, one fd per worker per address (main thread owns it). */
struct listener_set {
    uint32_t naddrs;
    uint32_t nworkers;
    int *fds; /* [naddrs * nworkers]: fds[a * nworkers + worker_id] */
};

/* Main thread: initialises w and starts its thread with cfg (a reference is taken) and its
 * listeners from ls. Returns 0 or -1 with an error logged. */
int worker_start(struct worker *w, uint32_t id, struct server *srv, struct config *cfg,
                 const struct listener_set *ls);

/* Main thread: hands a new config and listener set over; the worker acknowledges by setting
 * applied_generation to cfg->generation. ls must stay valid until then. */
void worker_reload(struct worker *w, struct config *cfg, const struct listener_set *ls);

/* Main thread: asks the worker to stop (WCMD_GRACEFUL or WCMD_FAST) and wakes it. */
void worker_post(struct worker *w, unsigned cmd);
/* Main thread: waits for the thread and frees what the worker left. */
void worker_join(struct worker *w);

/* Worker thread: pooled WORKER_BUF_SIZE buffers and client structs (uninitialised). get
 * returns NULL on out of memory; put takes NULL. */
char *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, char *buf);
struct client *worker_client_get(struct worker *w);
void worker_client_put(struct worker *w, struct client *c);

/* Worker thread: exchange structs for client connections (uninitialised). get returns NULL
 * on out of memory. */
struct h1x *worker_x_get(struct worker *w);
void worker_x_put(struct worker *w, struct h1x *x);

/* Worker thread: 32 lowercase hex chars + NUL. */
void worker_request_id(struct worker *w, char out[33]);
uint64_t worker_rand(struct worker *w);


/* Worker thread: an `op` failed with errno err, a local shortage (sock_local_error(err) >= 0):
 * counted in the worker's metrics and logged, at most one line a second per op. */
void worker_local_error(struct worker *w, enum metrics_local_op op, int err);

/* Worker thread: a client connection closed; lets a draining worker finish. */
void worker_client_gone(struct worker *w);

#endif

/* state_events.h — the state store's per-thread connections and the events weir instances
 * broadcast to each other (pub/sub on channel "<prefix>:events").
 *
 * With `state: backend: redis`, every worker thread (and the admin thread) opens one command
 * connection on its own loop (redis_conn_here() then finds it); worker 0 also opens the
 * subscriber connection, so each event is applied once per instance, on worker 0's thread.
 * The subscriber never writes, so it cannot see its server demoted: when any connection of the
 * process finds a new primary, worker 0 is told (state_post) and moves the subscription there.
 *
 * An event is "<instance> <kind> <payload>": the instance id (random per process) lets an
 * instance skip its own events, which it already applied when it published them. Kinds are
 * registered by the layers above (the cache's purges, the breakers' opens) before workers
 * start: an explicit table, no discovery. */
#ifndef WEIR_STATE_STATE_EVENTS_H
#define WEIR_STATE_STATE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/loop.h"

struct config;

enum state_event_kind { STATE_EV_PURGE, STATE_EV_BREAKER, STATE_EV_REVOKE, STATE_EV_COUNT };

/* Runs on worker 0's thread with the payload of another instance's event. */
typedef void (*state_event_fn)(const char *payload, size_t len);

/* Main thread, before the workers start. */
void state_events_handle(enum state_event_kind kind, state_event_fn fn);
/* Runs fn on worker 0's thread every STATE_SYNC_MS (first soon after start), with that thread's
 * command connection as redis_conn_here(): for state kept as a local mirror of Redis, re-read
 * so that an event missed while disconnected (or sent before this instance started) still
 * arrives. Main thread, before the workers start; at most 4. */
#define STATE_SYNC_MS 2000
typedef void (*state_sync_fn)(void);
void state_events_every(state_sync_fn fn);

/* How other threads run fn(arg) on the subscriber's thread (its host's mailbox: the worker's
 * post). post returns 0, or -1 when it could not (the call is then dropped). */
struct state_post {
    int (*post)(void *ctx, void (*fn)(void *arg), void *arg);
    void *ctx;
};

/* The calling thread's connections for cfg (nothing with the memory backend): `pool` command
 * connections (a worker: state.pool_size; the admin thread: 1); subscriber non-NULL: this
 * thread also applies other instances' events, and its subscription follows the primary
 * whichever thread's connection finds it moved (told through subscriber->post). */
void state_thread_start(struct ev_loop *loop, struct config *cfg, uint32_t pool,
                        const struct state_post *subscriber);
void state_thread_stop(void);

/* Does the calling thread talk to a shared store (state: backend redis)? */
bool state_events_shared(void);

/* Broadcasts an event from the calling thread's connection; false when it could not be sent
 * (no Redis, or Redis not answering: the event then stays local). */
bool state_event_publish(enum state_event_kind kind, const char *payload, size_t len);

#endif

/* health.h — the shared state of each upstream server and its health transitions.
 *
 * One `struct server_state` exists per (group name, server address) for the whole process and
 * survives reloads (a server that is down stays down across a reload). Every worker reads it on
 * every pick and writes it with atomics: in-flight and connection counts, passive failure
 * counts. Up/down transitions go through atomic exchanges, so each is logged exactly once
 * whichever worker caused it. Active checks for a server run on exactly one worker
 * (health_checker_of), so their number does not grow with the number of workers.
 *
 * The registry is guarded by a mutex and used only when a config generation is built or freed
 * (never per request). */
#ifndef WEIR_RESILIENCE_HEALTH_H
#define WEIR_RESILIENCE_HEALTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "balance/lb.h"
#include "core/config_types.h"
#include "metrics/metrics.h"

struct breaker;

enum health_down_reason {
    HEALTH_UP = 0,
    HEALTH_DOWN_ACTIVE,   /* failed `fall` active checks in a row */
    HEALTH_DOWN_PASSIVE,  /* `failures` failed requests within the window */
};

struct waitq;

struct server_state {
    struct lb_server lb;            /* first: strategies see &state->lb */
    char *key;                      /* "group/address", for logs */
    char *group;
    char *address;
    uint32_t refs;                  /* registry references (under the registry lock) */
    uint32_t index;                 /* creation order: spreads checks across workers */

    atomic_uint conns;              /* open connections to it, all workers (max_conns) */
    atomic_uint wanted;             /* workers waiting for a connection slot */
    struct waitq *slots;            /* their pools, woken when another worker frees a slot */
    atomic_int down_reason;         /* enum health_down_reason */
    atomic_uint fails;              /* consecutive failed requests (passive) */
    atomic_uint_fast64_t fail_window_start_ms;
    atomic_uint_fast64_t down_until_ms; /* passive cool-off end */
    atomic_uint_fast64_t up_since_ms;   /* for slow start; 0 = full weight */

    /* Its own circuit breaker (shared_state.c manages it under the registry lock). */
    struct breaker *breaker;
    struct cfg_breaker breaker_cfg;

    /* Written only by the checker worker. */
    uint32_t check_ok_streak;
    uint32_t check_fail_streak;

    struct server_shard *m;         /* [metrics_workers()] per-worker figures */

    /* Figures (relaxed atomics). */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t failures;
    atomic_uint_fast64_t checks;
    atomic_uint_fast64_t checks_failed;
    atomic_uint_fast64_t transitions;
};

/* Returns the state for (group, address), creating it up with full weight; a reference is
 * taken. weight/backup are refreshed from the config. NULL on out of memory. Any thread. */
struct server_state *health_get(const char *group, const struct cfg_server *srv);
void health_put(struct server_state *st);

/* Calls fn for every server state under the registry lock (admin thread: keep fn short). */
void health_foreach(void (*fn)(struct server_state *st, void *arg), void *arg);

/* Which worker (0..nworkers-1) runs the active checks of st. */
static inline uint32_t health_checker_of(const struct server_state *st, uint32_t nworkers)
{
    return nworkers ? st->index % nworkers : 0;
}

/* Outcome of one request to st (passive checks). `failed`: connect error, timeout, or 5xx when
 * passive.on_5xx. May mark the server down (logged once). Any worker. */
void health_report(struct server_state *st, const struct cfg_upstream *g, bool failed,
                   uint64_t now_ms);

/* Outcome of one active check (checker worker only). */
void health_check_result(struct server_state *st, const struct cfg_upstream *g, bool ok,
                         const char *why, uint64_t now_ms);

/* Periodic work for a server on its checker worker: ends a passive cool-off when no active
 * check will (the server gets one trial request: a single failure marks it down again), and
 * ends slow start when its time is over. */
void health_tick(struct server_state *st, const struct cfg_upstream *g, uint64_t now_ms);

/* Slow start: should a pick of st be kept (true) or re-drawn elsewhere (false)? True outside
 * a ramp; during one, with a probability growing linearly with the time since st came up. */
bool health_ramp_admits(const struct server_state *st, const struct cfg_upstream *g,
                        uint64_t now_ms, uint64_t rand);

/* Marks st up or down; returns true when this call changed the state (and logged it). */
bool health_set_up(struct server_state *st, const struct cfg_upstream *g, uint64_t now_ms,
                   const char *why);
bool health_set_down(struct server_state *st, enum health_down_reason reason, const char *why);

#endif

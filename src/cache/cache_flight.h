/* cache_flight.h — request coalescing: the keys whose response is being fetched, each with
 * the requests waiting for it. The first miss of a key starts a flight (it is the leader);
 * later misses join it and wait on its waitq (pipeline/waitq.h: per-worker lists, woken
 * across workers). The leader finishes the flight when its response is stored or known
 * uncacheable: the flight leaves the table (a later miss starts a new one) and its waiters are
 * woken to look again.
 *
 * Locking: the table is striped by key hash (CACHE_FLIGHT_STRIPES mutexes), held only to find,
 * add or remove a flight. A flight is refcounted (the table's entry, the leader, each waiter,
 * a refresh under way); `done` and `uncacheable` are atomics. Any thread. */
#ifndef WEIR_CACHE_FLIGHT_H
#define WEIR_CACHE_FLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

#define CACHE_FLIGHT_STRIPES 16

struct cache_flight;
struct cache_flights;
struct waitq;

struct cache_flights *cache_flights_new(void);
void cache_flights_free(struct cache_flights *t);

/* Joins the flight of `key` under way, or starts one (*leader = true). Referenced; NULL when
 * out of memory. nworkers sizes the flight's waitq. */
struct cache_flight *cache_flight_join(struct cache_flights *t, uint64_t hash, struct str key,
                                       uint32_t nworkers, bool *leader);
struct waitq *cache_flight_waitq(struct cache_flight *f);
/* The leader is done: the flight leaves the table, `uncacheable` is recorded for the waiters.
 * The caller wakes them (waitq_wake_all) and still drops its own reference. */
void cache_flight_finish(struct cache_flights *t, struct cache_flight *f, bool uncacheable);
/* True once finished, with what the leader found. */
bool cache_flight_done(const struct cache_flight *f, bool *uncacheable);
void cache_flight_ref(struct cache_flight *f);
void cache_flight_put(struct cache_flight *f);

#endif

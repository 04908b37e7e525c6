/* redis_conn.h — one connection to Redis on one worker's event loop (hiredis async through
 * state/redis_ev.c): commands pipelined, answered in order, each within the command timeout.
 *
 * Life: connect (non-blocking) to one of state.addrs → AUTH / SELECT / ROLE / SCRIPT LOAD (or
 * SUBSCRIBE for a subscriber connection) pipelined → ready. A server whose ROLE is not master,
 * a lost connection, or a handshake not finished within the connect timeout is dropped and the
 * next address tried at once; after a whole pass over the addresses without a primary, the
 * retry waits a backoff that doubles from reconnect_min to reconnect_max (reset once ready).
 * A command answered -READONLY (the primary was demoted) drops the connection the same way.
 * When one connection of the process finds the primary moved, the others follow it: each
 * compares its server with that primary before its next command (and once a second when
 * idle) and reconnects there, the command refused meanwhile; the subscriber, which never
 * writes, is also told at once (redis_conn_on_primary → redis_conn_follow on its thread).
 *
 * Never waiting: a command is refused at once (NULL) when the connection is not ready or is
 * stalled (some earlier command is past its timeout and still unanswered: Redis is stopped or
 * slow, so a new one would only wait too). A command not answered within command_timeout gets
 * its answer NULL at the timeout; its late reply is dropped when it comes. A connection stalled
 * longer than max(1 s, 20 command timeouts) is dropped and reconnected.
 *
 * With state.tls the connection runs through an in-process TLS tunnel (redis_tunnel.h), under
 * the same connect timeout, backoff and command timeouts.
 *
 * One thread: the loop's. Figures go to state/store_stats.h. */
#ifndef WEIR_STATE_REDIS_CONN_H
#define WEIR_STATE_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_types.h"
#include "event/loop.h"
#include "state/redis_script.h"

struct redis_conn;
struct redis_req;
struct redisReply;

/* The answer: r is the reply (an array, integer, ...; never an error reply), or NULL when the
 * store did not answer (error, timeout, lost connection). r is valid during the call only. */
typedef void (*redis_reply_fn)(void *arg, const struct redisReply *r);
/* A subscriber connection's message on its channel (payload bytes, valid during the call). */
typedef void (*redis_msg_fn)(void *arg, const char *msg, size_t len);

/* Starts connecting to cfg->state (a reference to cfg is kept). on_msg != NULL makes it a
 * subscriber of `channel`. NULL on out of memory. */
struct redis_conn *redis_conn_new(struct ev_loop *loop, struct config *cfg, const char *channel,
                                  redis_msg_fn on_msg, void *msg_arg);
/* Answers every pending command with NULL, closes, frees. */
void redis_conn_free(struct redis_conn *c);

bool redis_conn_ready(const struct redis_conn *c);
const struct cfg_state *redis_conn_cfg(const struct redis_conn *c);

/* EVALSHA of script s with nkeys keys then the other arguments (argv[0..argc), lens[i] bytes
 * each). Returns the pending request (cb runs later, exactly once unless cancelled), or NULL
 * when refused now (cb never runs: the caller decides without the store). */
struct redis_req *redis_conn_eval(struct redis_conn *c, enum redis_script s, int nkeys,
                                  int argc, const char *const *argv, const size_t *lens,
                                  redis_reply_fn cb, void *arg);
/* Sends without wanting the answer (complete / abort / PUBLISH): false when refused now. */
bool redis_conn_eval_forget(struct redis_conn *c, enum redis_script s, int nkeys, int argc,
                            const char *const *argv, const size_t *lens);
/* One plain command (argv[0] is its name: SCAN, ...), answered as redis_conn_eval's. */
struct redis_req *redis_conn_command(struct redis_conn *c, int argc, const char *const *argv,
                                     const size_t *lens, redis_reply_fn cb, void *arg);
bool redis_conn_publish(struct redis_conn *c, const char *channel, const char *msg, size_t len);
/* The caller no longer wants r's answer: its cb will not run. */
void redis_req_cancel(struct redis_req *r);

/* fn() runs, on the thread of the connection that found it, each time the primary changes
 * (store_stats_set_primary said so: once per change in the process). Before the loops start;
 * fn must be thread-safe. */
typedef void (*redis_primary_fn)(void);
void redis_conn_on_primary(redis_primary_fn fn);
/* Moves c to the server at addr (one of state.addrs by its text) now, unless it is on it or
 * connecting to it: a subscriber, which never writes and so never hears READONLY, follows
 * the primary the command connections found. The handshake's ROLE still decides. True when
 * c moves (it is not ready until connected there). */
bool redis_conn_follow(struct redis_conn *c, const char *addr);

/* The calling thread's command connection (its owner, the worker or the admin thread, set
 * its pool of state.pool_size connections), or NULL: how store backends reach "this
 * worker's" connection without threading it through every interface. Each call takes the
 * next ready connection of the pool (round-robin), or one that refuses when none is ready.
 * One pool per thread, owned by that thread; the array must stay until set to NULL. */
struct redis_conn *redis_conn_here(void);
void redis_conn_set_here(struct redis_conn *const *conns, uint32_t n);

#endif

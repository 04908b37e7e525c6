/* worker.h — one load-generating thread: its reactor, its connections, its share of the
 * schedule.
 *
 * Worker i of T sends the requests i, i+T, i+2T, ... of the schedule, so T workers together
 * send exactly the offered count with interleaved intended times. In the open model a timerfd
 * on the worker's ev_loop (µs precision; the loop's wheel has 1 ms ticks) fires at each
 * intended time; a due request goes out on a connection with a free pipeline slot, or waits in
 * the backlog (counted as a conn_wait) until one frees or a new connection opens: when the
 * backlog holds more requests than connections are being opened, the worker opens another one
 * (up to its share of --max-connections), so the concurrency follows what the offered rate
 * needs (Little's law) instead of capping it. A waiting request's latency and send lag still
 * count from its intended time. The open model's threads run SCHED_FIFO when allowed (see
 * worker_main). In the closed model each connection sends its next request when an answer
 * arrives. Everything but `share` and `stop` belongs to the worker's thread. */
#ifndef WEIR_LOAD_WORKER_H
#define WEIR_LOAD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "event/loop.h"
#include "http/h1_types.h"
#include "load/reqs.h"
#include "load/sched.h"
#include "load/stats.h"
#include "load/transport.h"

#define WORKER_MAX_DEPTH 64

struct worker_cfg {
    const struct reqs *reqs;
    const struct sched *sched;
    const struct transport_ops *tp;
    void *tp_ctx;          /* the transport's run-wide context (shared by the workers) */
    uint64_t start_us;     /* absolute CLOCK_MONOTONIC µs of the schedule's t = 0 */
    uint64_t timeout_us;   /* an answer slower than this is a timeout */
    uint64_t grace_us;     /* after the schedule's end: how long in-flight answers may take */
    uint32_t depth;        /* requests in flight per connection (pipelining; 1 = none) */
    uint32_t nthreads;
    uint32_t max_conns;    /* per worker (open model: connections are added up to it) */
    bool realtime;         /* open model: ask for SCHED_FIFO */
};

struct conn_req {
    uint64_t intended_us, sent_us;
    bool head;
};

enum conn_state { CONN_HEAD, CONN_BODY_LEN, CONN_BODY_CHUNKED, CONN_BODY_EOF };

struct worker;

struct conn {
    struct ev_io io;       /* first: the loop hands back &io */
    struct worker *w;
    void *tp_state;
    bool connecting, writable, dead, in_avail, close_after;
    bool opening;          /* open model: connecting, or nothing fully sent on it yet */
    bool added;            /* opened for waiting sends: its opening time is measured */
    uint64_t opened_us;
    uint64_t retry_at_us;  /* dead: when to reconnect */
    char *out;
    size_t olen, ooff, ocap;
    char *in;
    size_t ilen;
    struct conn_req q[WORKER_MAX_DEPTH];
    uint32_t qh, qn;
    enum conn_state state;
    uint64_t body_left;
    uint16_t status;
    struct h1_chunked chunked;
};

struct worker {
    pthread_t thread;
    uint32_t id;
    const struct worker_cfg *cfg;
    struct ev_loop loop;
    struct ev_io tfd_io;
    int tfd;
    struct timer tick;
    struct conn **conns;   /* each allocated alone: the loop holds pointers to them */
    uint32_t nconns, conns_cap;
    uint32_t nopening;     /* connections with `opening` set */
    uint64_t open_cost_us; /* moving average: connect (+ handshake) to first bytes sent */
    bool rt;               /* the thread got SCHED_FIFO */
    struct conn **avail;   /* connections with a free pipeline slot (a stack) */
    uint32_t navail;
    uint64_t next_n, next_due_us; /* open model: next request index of this worker, its time */
    uint64_t *backlog;     /* intended times of due requests waiting for a connection (ring) */
    uint32_t bl_head, bl_n, bl_cap;
    bool sending_over;
    uint64_t stopped_at_us; /* when `stop` was seen before the schedule's end */
    uint64_t *ok_by_sec;   /* ok answers by the second of their intended send time (read by
                              the main thread after the join only) */
    uint32_t nsec_slots;
    uint64_t rng;
    struct h1_response resp; /* parser scratch */
    pthread_mutex_t mu;    /* guards share */
    struct stats share;
    struct stats spare;    /* swapped with share by worker_take, so the lock is held briefly */
    atomic_bool stop;
};

/* Allocates the worker's connections and stats; 0 or -1. From the main thread. */
int worker_init(struct worker *w, uint32_t id, uint32_t nconns, const struct worker_cfg *cfg);
void worker_free(struct worker *w);
/* The thread body (pthread_create argument: the worker). */
void *worker_main(void *arg);
/* Adds the worker's stats since the last take into dst and resets them. Any thread. */
void worker_take(struct worker *w, struct stats *dst);

/* conn.c: used by worker.c */
int conn_open(struct worker *w, struct conn *c);
void conn_close(struct conn *c);
/* Queues one request (intended_us: its intended send time) and writes it. */
void conn_send(struct conn *c, uint64_t intended_us);
void conn_on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events);
/* Fails in-flight requests older than the timeout (closes the connection). */
void conn_check_timeout(struct conn *c, uint64_t now_us);

/* worker.c: used by conn.c */
void worker_conn_free_slot(struct worker *w, struct conn *c); /* a slot freed or it connected */
void worker_conn_connected(struct worker *w, struct conn *c);
void worker_conn_sent(struct worker *w, struct conn *c); /* all its queued bytes went out */
void worker_conn_lost(struct worker *w, struct conn *c);  /* failed: reconnect after a pause */
void worker_conn_ended(struct worker *w, struct conn *c); /* closed cleanly: reconnect now */
void worker_record(struct worker *w, const struct conn_req *r, uint64_t now_us, int status,
                   uint64_t bytes);
void worker_record_fail(struct worker *w, uint32_t n, bool timeout);

#endif

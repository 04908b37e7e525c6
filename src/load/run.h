/* run.h — one load run: start the workers on a schedule, take their stats once a second, and
 * sum up what was measured.
 *
 * The main thread wakes 1 ms after each second of the schedule, takes every worker's stats
 * (worker_take) into that second's interval and prints the live line. Seconds that start inside
 * a phase's warm-up count in the per-second series but not in the phase's or the run's
 * measured totals. Self-honesty: the run is invalid when the generator was the limit — its CPU
 * time over 80 % of its threads' wall time, a send lag p99 over 1 ms, or (open model) sends
 * that found no free connection. */
#ifndef WEIR_LOAD_RUN_H
#define WEIR_LOAD_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "load/reqs.h"
#include "load/sched.h"
#include "load/stats.h"
#include "load/transport.h"

struct run_cfg {
    const struct reqs *reqs;
    const struct transport_ops *tp; /* for the URL's scheme */
    void *tp_ctx;                   /* its context (a TLS client context for https) */
    uint32_t threads, connections, depth;
    uint32_t max_connections; /* open model: connections are added up to this many */
    bool realtime;            /* open model: generator threads ask for SCHED_FIFO */
    uint64_t timeout_us;
    FILE *live;      /* per-second lines, or NULL */
    bool live_tty;   /* rewrite one line in place */
    double t_offset; /* added to printed times (search steps follow each other) */
};

struct run_sec {
    double t;        /* seconds from the start of the (whole) run, at the interval's end */
    double offered;  /* requests/s the schedule asked for in this second */
    int phase;
    bool warmup;
    struct stats_counts c;
    uint64_t p50, p90, p99, p999, max; /* corrected, µs */
    uint64_t u_p50, u_p99;             /* uncorrected */
    uint64_t lag_p99;
};

struct run_phase {
    struct stats st;  /* measured part of the phase */
    double seconds;   /* measured time */
    double offered;   /* requests the schedule meant to send in it (measured part) */
};

struct run_result {
    bool open;
    uint32_t nsec;
    struct run_sec *secs;    /* owned */
    struct stats total;      /* everything measured (warm-ups left out) */
    double measured_s;
    uint32_t nphases;
    struct run_phase *phases; /* owned */
    uint64_t unsent;          /* due but never sent (backlog at the end) */
    uint32_t conns_peak;      /* connections at the end (-c plus those added) */
    uint32_t rt_threads;      /* threads that ran SCHED_FIFO */
    uint64_t *ok_by_intended; /* owned: ok answers by the second of their intended send */
    uint32_t nintended;
    double cpu_pct;           /* process CPU / (threads × wall), % */
    double wall_s;
    bool invalid;
    char why[256];            /* the reasons, "; "-separated */
};

/* Runs the schedule to its end (or until *stop becomes true). Returns 0, or -1 with a message
 * on stderr (set-up failed). res is filled either way and freed with run_result_free. */
int run_execute(const struct run_cfg *cfg, const struct sched *s, struct run_result *res,
                volatile int *stop);
void run_result_free(struct run_result *res);

#endif

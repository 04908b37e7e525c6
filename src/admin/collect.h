/* collect.h — the admin thread's picture of weir: every figure read from the shards and the
 * shared state into plain structs, plus the sliding windows (throughput, latency percentiles)
 * kept from one-second samples.
 *
 * Counters and gauges are read fresh on every collect. Window figures (rates, percentiles of
 * the last ~10 s, the per-second history) change once per second, at collector_tick: the
 * collector keeps, per route, per group and for the whole process, the cumulative histogram
 * of each of the last 10 seconds (sparse: only non-empty buckets), and diffs the current one
 * against the oldest.
 *
 * Reading rules (see admin.h): shards with relaxed loads; routes, groups and servers under
 * their registry's lock (taken only by reloads otherwise), one registry at a time so no lock
 * order is created; breakers through breaker_get_stats (its mutex, held for a copy).
 * Admin thread only. */
#ifndef WEIR_ADMIN_COLLECT_H
#define WEIR_ADMIN_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "admin/admin.h"
#include "metrics/metrics.h"
#include "resilience/breaker.h"

/* Prometheus `le` bounds in µs (0.0001 s .. 60 s); +Inf is implicit. */
#define ADMIN_NLE 18
extern const uint64_t admin_le_us[ADMIN_NLE];

/* The dashboard's coarse latency histogram: ADMIN_NCOARSE bounds (ms), one more bucket above. */
#define ADMIN_NCOARSE 16
extern const double admin_coarse_ms[ADMIN_NCOARSE];

#define ADMIN_HISTORY 300 /* seconds of per-second history */
#define ADMIN_WINDOW_S 10 /* latency / per-route rate window */
#define ADMIN_POOL_REASONS 7 /* enum pool_close_reason (proxy/proxy_types.h), same order */
extern const char *const admin_pool_reason[ADMIN_POOL_REASONS];

/* A histogram reduced to Prometheus' cumulative buckets. count is the sum of the buckets
 * read (not the separate count field), so the +Inf bucket always equals _count. */
struct m_hist {
    uint64_t le[ADMIN_NLE];
    uint64_t count;
    uint64_t sum_us;
};

/* Figures of a window (the last ADMIN_WINDOW_S seconds, fewer just after start). */
struct m_window {
    double window_s;
    double rps;
    uint64_t p50_us, p90_us, p99_us, p999_us, max_us;
    uint64_t coarse[ADMIN_NCOARSE + 1]; /* whole process only */
};

struct m_breaker {
    enum breaker_state state;
    double since_s;
    uint32_t calls, failure_rate_pct, slow_rate_pct;
    uint64_t rejected;
    uint32_t ntransitions;        /* newest last */
    struct breaker_transition transitions[BREAKER_HISTORY];
};

struct m_route {
    char *key, *label;
    uint64_t requests, methods[MM_COUNT], status[METRICS_STATUS_CLASSES];
    uint64_t bytes_in, bytes_out, rate_limited;
    struct m_hist total, upstream;
    struct m_window win;
};

struct m_group {
    char *name;
    uint64_t requests, attempts, retries, failures, queued_total;
    uint64_t budget_allowed, budget_refused, limit_rejected, queue_timeouts, breaker_rejected;
    bool has_breaker, has_limiter;
    struct m_breaker breaker;
    uint32_t limit, inflight, queued;
    struct m_hist upstream;
    struct m_window win;
};

struct m_server {
    char *group, *address;
    bool up, backup, has_breaker;
    int down_reason;
    uint32_t inflight, conns;
    uint64_t requests, failures, checks, checks_failed, transitions;
    uint64_t pool_idle, pool_busy, pool_waiters, pool_created, pool_reused, pool_timeouts;
    uint64_t pool_waits, pool_wait_ms;
    uint64_t pool_closed[ADMIN_POOL_REASONS];
    struct m_breaker breaker;
};

struct m_second {
    uint64_t t;             /* unix seconds */
    double rps, p50_ms, p99_ms;
    uint64_t err;           /* 5xx responses in that second */
};

struct m_global {
    uint32_t nworkers;
    uint64_t accepted, active_clients, upstream_conns, requests, status[METRICS_STATUS_CLASSES];
    uint64_t bytes_in, bytes_out, shed, log_dropped;
    uint64_t local_errors[MLO_COUNT][METRICS_LOCAL_KINDS], local_errors_total;
    uint64_t loop_lag_ms[METRICS_MAX_WORKERS];
    uint64_t buf_memory[METRICS_MAX_WORKERS], buf_files[METRICS_MAX_WORKERS]; /* bytes now */
    uint64_t bodies_memory, bodies_file, bodies_refused, responses_ahead, ahead_fallbacks;
    uint64_t h2_requests, h2_streams, h2_conns; /* HTTP/2 (src/h2) */
    uint64_t generation, reloads_ok, reloads_failed;
    uint64_t ts_ms, start_wall_ms;
    double uptime_s;
    double rps_1s, rps_10s, rps_60s;
    struct m_hist total;
    struct m_window win;
};

struct model {
    struct m_global g;
    struct m_route *routes;
    uint32_t nroutes;
    struct m_group *groups;
    uint32_t ngroups;
    struct m_server *servers;
    uint32_t nservers;
    struct m_second history[ADMIN_HISTORY]; /* oldest first */
    uint32_t nhistory;
};

struct collector;

/* NULL on out of memory. view is borrowed. */
struct collector *collector_new(struct admin_view *view);
void collector_free(struct collector *c);

enum {
    COLLECT_HIST = 1u << 0,  /* fill the m_hist fields (for /metrics) */
    COLLECT_TICK = 1u << 1,  /* a one-second sample: advance the windows */
};

/* Fills m (zeroed first; free with model_free) at mono_ms / wall_ms. Returns 0, or -1 on out
 * of memory (m is then still safe to free). Cost: O(workers x buckets) per route and group
 * when COLLECT_HIST or COLLECT_TICK, O(workers) per object otherwise. */
int collector_collect(struct collector *c, struct model *m, unsigned flags, uint64_t mono_ms,
                      uint64_t wall_ms);
void model_free(struct model *m);

#endif

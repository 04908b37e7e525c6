/* metrics.h — what weir counts, and how without locks on the hot path.
 *
 * Every figure lives in a per-worker shard written only by that worker, with relaxed atomic
 * loads and stores (plain moves on x86: no locked instruction); readers (the admin thread) sum
 * the shards of all workers when they are asked. Shards hang off the objects that outlive
 * reloads — route, group and server state (resilience/shared_state.h, resilience/health.h) —
 * so counters stay monotonic across reloads, as Prometheus expects.
 *
 * Gauges that belong to a worker's own structures (pool sizes) are published into its shard by
 * the worker's 100 ms health tick: readers never touch another thread's plain fields. */
#ifndef WEIR_METRICS_METRICS_H
#define WEIR_METRICS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "metrics/histogram.h"

#define METRICS_MAX_WORKERS 256

/* Classes used as label values. */
enum metrics_method { MM_GET = 0, MM_HEAD, MM_POST, MM_PUT, MM_DELETE, MM_PATCH, MM_OPTIONS,
                      MM_OTHER, MM_COUNT };
/* Status classes: index = status / 100 (1..5); 0 = no status (connection closed/aborted). */
#define METRICS_STATUS_CLASSES 6

typedef atomic_uint_fast64_t mcounter;

/* Owner-only increment: a relaxed load and store, not a locked add. */
static inline void mc_add(mcounter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void mc_set(mcounter *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}
static inline uint64_t mc_get(const mcounter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

struct route_shard {
    mcounter requests;
    mcounter methods[MM_COUNT];
    mcounter status[METRICS_STATUS_CLASSES];
    mcounter bytes_in, bytes_out;
    mcounter rate_limited;
    struct histogram total;      /* head parsed -> response written, µs */
    struct histogram upstream;   /* first attempt -> response written, µs (proxied only) */
};

struct group_shard {
    mcounter requests;           /* exchanges that reached attempt stage */
    mcounter attempts;           /* including retries */
    mcounter retries;
    mcounter failures;           /* failed attempts (connect, timeout, bad response, status) */
    mcounter limit_queued;
    struct histogram upstream;
};

struct server_shard {
    mcounter requests;           /* attempts sent to this server */
    mcounter pool_idle, pool_busy, pool_waiters; /* gauges, published by the health tick */
    mcounter pool_created, pool_reused, pool_acquire_timeouts;
    mcounter pool_waits;         /* requests that waited for a connection slot */
    mcounter pool_wait_ms;       /* their total wait, ms */
    mcounter pool_closed[8];     /* by enum pool_close_reason */
};

/* Failures for lack of a local resource (event/sock.h enum sock_local_error), by operation. */
enum metrics_local_op { MLO_ACCEPT = 0, MLO_CONNECT, MLO_COUNT };
#define METRICS_LOCAL_KINDS 8

struct worker_shard {
    mcounter accepted;
    mcounter active_clients;     /* gauge */
    mcounter upstream_conns;     /* gauge: open upstream connections of this worker */
    mcounter requests;
    mcounter status[METRICS_STATUS_CLASSES];
    mcounter bytes_in, bytes_out;
    mcounter shed;
    mcounter loop_lag_ms;        /* gauge */
    mcounter local_errors[MLO_COUNT][METRICS_LOCAL_KINDS];
    /* Buffering (proxy/buffering.c). */
    mcounter buf_memory;         /* gauge: bytes of request bodies and read-ahead in memory */
    mcounter buf_files;          /* gauge: bytes of request bodies in temp files */
    mcounter bodies_memory;      /* request bodies read whole into memory */
    mcounter bodies_file;        /* ... into a temp file */
    mcounter bodies_refused;     /* refused (413/503): the worker's buffers were full */
    mcounter responses_ahead;    /* upstream released before the client had the response */
    mcounter ahead_fallbacks;    /* read-ahead gave way to backpressure (too large, full) */
    /* HTTP/2 (src/h2): requests (streams given an exchange), and two gauges. */
    mcounter h2_requests;
    mcounter h2_streams;         /* gauge: streams with an exchange in progress */
    mcounter h2_conns;           /* gauge: open HTTP/2 connections */
    struct histogram total;
};

/* Number of workers whose shards exist (set once at start, before any shard is made). */
void metrics_set_workers(uint32_t n);
uint32_t metrics_workers(void);

/* Shard arrays [metrics_workers()], zeroed; NULL on out of memory. Free with free(). */
struct route_shard *metrics_route_shards(void);
struct group_shard *metrics_group_shards(void);
struct server_shard *metrics_server_shards(void);

enum metrics_method metrics_method_class(int h1_method_id);
const char *metrics_method_name(enum metrics_method m);

#endif

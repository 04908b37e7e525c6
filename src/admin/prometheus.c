/* prometheus.c — see prometheus.h. One function per family group; the family list is the
 * table in docs/operations.md ("Metrics"), keep them in step. */
#include "admin/prometheus.h"
#include "admin/waitroom_admin.h"

#include "admin/admin_cache.h"
#include "admin/admin_store.h"

#include <stddef.h>
#include <stdio.h>

#include "event/sock.h"
#include "tls/tls_stats.h"
#include "tls/tls_ticket.h"

struct lbl {
    const char *k, *v;
};

static void family(struct abuf *b, const char *name, const char *type, const char *help)
{
    abuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void series(struct abuf *b, const char *name, const char *suffix, const struct lbl *l,
                   uint32_t n)
{
    abuf_str(b, name);
    abuf_str(b, suffix);
    if (n) {
        abuf_add(b, "{", 1);
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                abuf_add(b, ",", 1);
            abuf_str(b, l[i].k);
            abuf_add(b, "=\"", 2);
            abuf_prom_label(b, l[i].v);
            abuf_add(b, "\"", 1);
        }
        abuf_add(b, "}", 1);
    }
    abuf_add(b, " ", 1);
}

static void s_u64(struct abuf *b, const char *name, const struct lbl *l, uint32_t n, uint64_t v)
{
    series(b, name, "", l, n);
    abuf_u64(b, v);
    abuf_add(b, "\n", 1);
}

static void s_num(struct abuf *b, const char *name, const struct lbl *l, uint32_t n, double v)
{
    series(b, name, "", l, n);
    abuf_printf(b, "%.6f\n", v);
}

static void s_hist(struct abuf *b, const char *name, const struct lbl *l, uint32_t n,
                   const struct m_hist *h)
{
    struct lbl ll[8];
    char le[32];
    for (uint32_t i = 0; i < n && i < 7; i++)
        ll[i] = l[i];
    uint32_t k = n < 7 ? n : 7;
    ll[k].k = "le";
    for (uint32_t j = 0; j < ADMIN_NLE; j++) {
        snprintf(le, sizeof(le), "%g", (double)admin_le_us[j] / 1e6);
        ll[k].v = le;
        series(b, name, "_bucket", ll, k + 1);
        abuf_u64(b, h->le[j]);
        abuf_add(b, "\n", 1);
    }
    ll[k].v = "+Inf";
    series(b, name, "_bucket", ll, k + 1);
    abuf_u64(b, h->count);
    abuf_add(b, "\n", 1);
    series(b, name, "_sum", l, k);
    abuf_printf(b, "%.6f\n", (double)h->sum_us / 1e6);
    series(b, name, "_count", l, k);
    abuf_u64(b, h->count);
    abuf_add(b, "\n", 1);
}

static const char *const status_class[METRICS_STATUS_CLASSES] = {"none", "1xx", "2xx",
                                                                 "3xx",  "4xx", "5xx"};

static void render_process(struct abuf *b, const struct model *m)
{
    const struct m_global *g = &m->g;
    family(b, "weir_build_info", "gauge", "Always 1; the version label is weir's version.");
    s_u64(b, "weir_build_info", &(struct lbl){"version", WEIR_VERSION}, 1, 1);
    family(b, "weir_start_time_seconds", "gauge", "Unix time weir started at.");
    s_num(b, "weir_start_time_seconds", NULL, 0, (double)g->start_wall_ms / 1000.0);
    family(b, "weir_uptime_seconds", "gauge", "Seconds since weir started.");
    s_num(b, "weir_uptime_seconds", NULL, 0, g->uptime_s);
    family(b, "weir_workers", "gauge", "Worker threads.");
    s_u64(b, "weir_workers", NULL, 0, g->nworkers);
    family(b, "weir_config_generation", "gauge",
           "Generation of the configuration in force (1 at start, +1 per successful reload).");
    s_u64(b, "weir_config_generation", NULL, 0, g->generation);
    family(b, "weir_config_reloads_total", "counter", "Configuration reloads by result.");
    s_u64(b, "weir_config_reloads_total", &(struct lbl){"result", "ok"}, 1, g->reloads_ok);
    s_u64(b, "weir_config_reloads_total", &(struct lbl){"result", "failed"}, 1,
          g->reloads_failed);
    family(b, "weir_accesslog_dropped_buffers_total", "counter",
           "Access-log buffers dropped because the writer could not keep up.");
    s_u64(b, "weir_accesslog_dropped_buffers_total", NULL, 0, g->log_dropped);
}

static void render_traffic(struct abuf *b, const struct model *m)
{
    const struct m_global *g = &m->g;
    family(b, "weir_connections_accepted_total", "counter", "Client connections accepted.");
    s_u64(b, "weir_connections_accepted_total", NULL, 0, g->accepted);
    family(b, "weir_client_connections", "gauge", "Open client connections.");
    s_u64(b, "weir_client_connections", NULL, 0, g->active_clients);
    family(b, "weir_upstream_connections", "gauge", "Open connections to upstream servers.");
    s_u64(b, "weir_upstream_connections", NULL, 0, g->upstream_conns);
    family(b, "weir_requests_total", "counter", "Requests received (routed or not).");
    s_u64(b, "weir_requests_total", NULL, 0, g->requests);
    family(b, "weir_requests_by_protocol_total", "counter", "Requests by client protocol.");
    s_u64(b, "weir_requests_by_protocol_total", &(struct lbl){"protocol", "HTTP/1.1"}, 1,
          g->requests > g->h2_requests ? g->requests - g->h2_requests : 0);
    s_u64(b, "weir_requests_by_protocol_total", &(struct lbl){"protocol", "HTTP/2"}, 1,
          g->h2_requests);
    family(b, "weir_active_streams", "gauge", "HTTP/2 streams with an exchange in progress.");
    s_u64(b, "weir_active_streams", &(struct lbl){"protocol", "HTTP/2"}, 1, g->h2_streams);
    family(b, "weir_http2_connections", "gauge", "Open HTTP/2 client connections.");
    s_u64(b, "weir_http2_connections", NULL, 0, g->h2_conns);
    family(b, "weir_responses_total", "counter",
           "Responses by status class; code=\"none\": the exchange ended without a status.");
    for (uint32_t k = 0; k < METRICS_STATUS_CLASSES; k++)
        s_u64(b, "weir_responses_total", &(struct lbl){"code", status_class[k]}, 1,
              g->status[k]);
    family(b, "weir_received_bytes_total", "counter", "Bytes received from clients.");
    s_u64(b, "weir_received_bytes_total", NULL, 0, g->bytes_in);
    family(b, "weir_sent_bytes_total", "counter", "Bytes sent to clients.");
    s_u64(b, "weir_sent_bytes_total", NULL, 0, g->bytes_out);
    family(b, "weir_shed_requests_total", "counter",
           "Requests refused with 503 by load shedding (loop lag or in-flight limit).");
    s_u64(b, "weir_shed_requests_total", NULL, 0, g->shed);
    family(b, "weir_local_errors_total", "counter",
           "Accepts and upstream connects that failed for lack of a local resource "
           "(descriptors, memory, local ports), by operation and errno; never counted against "
           "an upstream server.");
    static const char *const ops[MLO_COUNT] = {[MLO_ACCEPT] = "accept",
                                               [MLO_CONNECT] = "connect"};
    for (uint32_t op = 0; op < MLO_COUNT; op++)
        for (uint32_t k = 0; k < SOCK_LOCAL_KINDS; k++)
            s_u64(b, "weir_local_errors_total",
                  (struct lbl[]){{"op", ops[op]}, {"kind", sock_local_error_name(k)}}, 2,
                  g->local_errors[op][k]);
    family(b, "weir_request_duration_seconds", "histogram",
           "Time from the complete request head to the end of the response, all requests.");
    s_hist(b, "weir_request_duration_seconds", NULL, 0, &g->total);
    family(b, "weir_requests_per_second", "gauge",
           "Requests per second over the last 1 s, 10 s and 60 s (sampled every second).");
    s_num(b, "weir_requests_per_second", &(struct lbl){"window", "1s"}, 1, g->rps_1s);
    s_num(b, "weir_requests_per_second", &(struct lbl){"window", "10s"}, 1, g->rps_10s);
    s_num(b, "weir_requests_per_second", &(struct lbl){"window", "60s"}, 1, g->rps_60s);
    family(b, "weir_event_loop_lag_seconds", "gauge",
           "How late each worker's event loop last ran its timers.");
    for (uint32_t w = 0; w < g->nworkers && w < METRICS_MAX_WORKERS; w++) {
        char id[16];
        snprintf(id, sizeof(id), "%u", w);
        s_num(b, "weir_event_loop_lag_seconds", &(struct lbl){"worker", id}, 1,
              (double)g->loop_lag_ms[w] / 1000.0);
    }
}

/* A gauge with one sample per worker. */
static void worker_gauge(struct abuf *b, const char *name, const char *help,
                         const struct m_global *g, const uint64_t *vals)
{
    family(b, name, "gauge", help);
    for (uint32_t w = 0; w < g->nworkers && w < METRICS_MAX_WORKERS; w++) {
        char id[16];
        snprintf(id, sizeof(id), "%u", w);
        s_u64(b, name, &(struct lbl){"worker", id}, 1, vals[w]);
    }
}

/* Request and response buffering (proxy/buffering.h). */
static void render_buffering(struct abuf *b, const struct model *m)
{
    const struct m_global *g = &m->g;
    worker_gauge(b, "weir_buffer_memory_bytes",
                 "Bytes of request bodies and response read-ahead each worker holds in memory "
                 "(bounded by buffering.memory).",
                 g, g->buf_memory);
    worker_gauge(b, "weir_buffer_file_bytes",
                 "Bytes of request bodies each worker holds in temp files (bounded by "
                 "buffering.files).",
                 g, g->buf_files);
    family(b, "weir_buffered_request_bodies_total", "counter",
           "Request bodies read whole before the first attempt, by where they were kept.");
    s_u64(b, "weir_buffered_request_bodies_total", &(struct lbl){"where", "memory"}, 1,
          g->bodies_memory);
    s_u64(b, "weir_buffered_request_bodies_total", &(struct lbl){"where", "file"}, 1,
          g->bodies_file);
    family(b, "weir_buffer_refused_requests_total", "counter",
           "Requests refused (413, 503) because the worker's request buffers were full.");
    s_u64(b, "weir_buffer_refused_requests_total", NULL, 0, g->bodies_refused);
    family(b, "weir_buffered_responses_total", "counter",
           "Responses read ahead of a slow client: the upstream connection was released "
           "before the client had the whole response.");
    s_u64(b, "weir_buffered_responses_total", NULL, 0, g->responses_ahead);
    family(b, "weir_buffer_fallbacks_total", "counter",
           "Responses whose read-ahead gave way to backpressure (larger than "
           "response_buffering.max, or the worker's memory bound reached).");
    s_u64(b, "weir_buffer_fallbacks_total", NULL, 0, g->ahead_fallbacks);
}

static void route_counter(struct abuf *b, const struct model *m, const char *name,
                          const char *help, size_t off)
{
    family(b, name, "counter", help);
    for (uint32_t i = 0; i < m->nroutes; i++) {
        const struct m_route *r = &m->routes[i];
        s_u64(b, name, &(struct lbl){"route", r->label}, 1,
              *(const uint64_t *)(const void *)((const char *)r + off));
    }
}

static void render_routes(struct abuf *b, const struct model *m)
{
    family(b, "weir_route_requests_total", "counter", "Requests matched to a route, by method.");
    for (uint32_t i = 0; i < m->nroutes; i++)
        for (uint32_t k = 0; k < MM_COUNT; k++)
            s_u64(b, "weir_route_requests_total",
                  (struct lbl[]){{"route", m->routes[i].label},
                                 {"method", metrics_method_name((enum metrics_method)k)}},
                  2, m->routes[i].methods[k]);
    family(b, "weir_route_responses_total", "counter",
           "Responses of a route by status class (code=\"none\": no status was sent).");
    for (uint32_t i = 0; i < m->nroutes; i++)
        for (uint32_t k = 0; k < METRICS_STATUS_CLASSES; k++)
            s_u64(b, "weir_route_responses_total",
                  (struct lbl[]){{"route", m->routes[i].label}, {"code", status_class[k]}}, 2,
                  m->routes[i].status[k]);
    route_counter(b, m, "weir_route_received_bytes_total", "Bytes received from clients, by route.",
                  offsetof(struct m_route, bytes_in));
    route_counter(b, m, "weir_route_sent_bytes_total", "Bytes sent to clients, by route.",
                  offsetof(struct m_route, bytes_out));
    route_counter(b, m, "weir_route_rate_limited_total",
                  "Requests refused with 429 by the route's rate limit.",
                  offsetof(struct m_route, rate_limited));
    family(b, "weir_route_request_duration_seconds", "histogram",
           "Time from the complete request head to the end of the response, by route.");
    for (uint32_t i = 0; i < m->nroutes; i++)
        s_hist(b, "weir_route_request_duration_seconds",
               &(struct lbl){"route", m->routes[i].label}, 1, &m->routes[i].total);
    family(b, "weir_route_upstream_duration_seconds", "histogram",
           "Time from the first attempt to the end of the response, proxied requests by route.");
    for (uint32_t i = 0; i < m->nroutes; i++)
        s_hist(b, "weir_route_upstream_duration_seconds",
               &(struct lbl){"route", m->routes[i].label}, 1, &m->routes[i].upstream);
}

static void group_counter(struct abuf *b, const struct model *m, const char *name,
                          const char *help, size_t off)
{
    family(b, name, "counter", help);
    for (uint32_t i = 0; i < m->ngroups; i++) {
        const struct m_group *g = &m->groups[i];
        s_u64(b, name, &(struct lbl){"group", g->name}, 1,
              *(const uint64_t *)(const void *)((const char *)g + off));
    }
}

static void breaker_states(struct abuf *b, const char *name, const struct lbl *l, uint32_t n,
                           enum breaker_state st)
{
    static const enum breaker_state all[] = {BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
    struct lbl ll[4];
    for (uint32_t i = 0; i < n && i < 3; i++)
        ll[i] = l[i];
    uint32_t k = n < 3 ? n : 3;
    ll[k].k = "state";
    for (uint32_t i = 0; i < 3; i++) {
        ll[k].v = breaker_state_name(all[i]);
        s_u64(b, name, ll, k + 1, all[i] == st);
    }
}

static void render_groups(struct abuf *b, const struct model *m)
{
    group_counter(b, m, "weir_group_requests_total", "Requests that reached the attempt stage.",
                  offsetof(struct m_group, requests));
    group_counter(b, m, "weir_group_attempts_total", "Attempts sent to the group's servers, retries included.",
                  offsetof(struct m_group, attempts));
    group_counter(b, m, "weir_group_retries_total", "Retries (attempts after the first).",
                  offsetof(struct m_group, retries));
    group_counter(b, m, "weir_group_failures_total",
                  "Failed attempts: connect error, timeout, bad response or retryable status.",
                  offsetof(struct m_group, failures));
    group_counter(b, m, "weir_group_retry_budget_allowed_total",
                  "Retries the retry budget allowed.", offsetof(struct m_group, budget_allowed));
    group_counter(b, m, "weir_group_retry_budget_refused_total",
                  "Retries the retry budget refused.", offsetof(struct m_group, budget_refused));
    group_counter(b, m, "weir_group_breaker_rejected_total",
                  "Requests refused with 503 by an open circuit breaker (group or server).",
                  offsetof(struct m_group, breaker_rejected));
    family(b, "weir_group_breaker_state", "gauge",
           "1 for the state the group's circuit breaker is in, 0 for the others.");
    for (uint32_t i = 0; i < m->ngroups; i++)
        if (m->groups[i].has_breaker)
            breaker_states(b, "weir_group_breaker_state",
                           &(struct lbl){"group", m->groups[i].name}, 1,
                           m->groups[i].breaker.state);
    family(b, "weir_group_concurrency_limit", "gauge",
           "Current concurrency limit (fixed, or found by the adaptive limiter).");
    for (uint32_t i = 0; i < m->ngroups; i++)
        if (m->groups[i].has_limiter)
            s_u64(b, "weir_group_concurrency_limit", &(struct lbl){"group", m->groups[i].name},
                  1, m->groups[i].limit);
    family(b, "weir_group_concurrency_inflight", "gauge",
           "Requests holding a concurrency slot of the group.");
    for (uint32_t i = 0; i < m->ngroups; i++)
        if (m->groups[i].has_limiter)
            s_u64(b, "weir_group_concurrency_inflight",
                  &(struct lbl){"group", m->groups[i].name}, 1, m->groups[i].inflight);
    family(b, "weir_group_concurrency_waiting", "gauge",
           "Requests waiting in the queue for a concurrency slot.");
    for (uint32_t i = 0; i < m->ngroups; i++)
        s_u64(b, "weir_group_concurrency_waiting", &(struct lbl){"group", m->groups[i].name}, 1,
              m->groups[i].queued);
    group_counter(b, m, "weir_group_concurrency_queued_total",
                  "Requests that had to wait for a concurrency slot.",
                  offsetof(struct m_group, queued_total));
    group_counter(b, m, "weir_group_concurrency_rejected_total",
                  "Requests refused with 503 by the concurrency limit (queue full).",
                  offsetof(struct m_group, limit_rejected));
    group_counter(b, m, "weir_group_concurrency_queue_timeouts_total",
                  "Requests refused with 503 after waiting queue_timeout for a slot.",
                  offsetof(struct m_group, queue_timeouts));
    family(b, "weir_group_upstream_duration_seconds", "histogram",
           "Time from the first attempt to the end of the response, by upstream group.");
    for (uint32_t i = 0; i < m->ngroups; i++)
        s_hist(b, "weir_group_upstream_duration_seconds",
               &(struct lbl){"group", m->groups[i].name}, 1, &m->groups[i].upstream);
}

#define SERVER_LBL(s) ((struct lbl[]){{"group", (s)->group}, {"server", (s)->address}})

static void server_u64(struct abuf *b, const struct model *m, const char *name,
                       const char *type, const char *help, size_t off)
{
    family(b, name, type, help);
    for (uint32_t i = 0; i < m->nservers; i++) {
        const struct m_server *s = &m->servers[i];
        s_u64(b, name, SERVER_LBL(s), 2,
              *(const uint64_t *)(const void *)((const char *)s + off));
    }
}

static void render_servers(struct abuf *b, const struct model *m)
{
    family(b, "weir_server_up", "gauge", "1 while the server is up (health), 0 while down.");
    for (uint32_t i = 0; i < m->nservers; i++)
        s_u64(b, "weir_server_up", SERVER_LBL(&m->servers[i]), 2, m->servers[i].up);
    family(b, "weir_server_backup", "gauge", "1 for a backup server.");
    for (uint32_t i = 0; i < m->nservers; i++)
        s_u64(b, "weir_server_backup", SERVER_LBL(&m->servers[i]), 2, m->servers[i].backup);
    family(b, "weir_server_inflight", "gauge", "Requests in flight to the server.");
    for (uint32_t i = 0; i < m->nservers; i++)
        s_u64(b, "weir_server_inflight", SERVER_LBL(&m->servers[i]), 2, m->servers[i].inflight);
    family(b, "weir_server_connections", "gauge", "Open connections to the server, all workers.");
    for (uint32_t i = 0; i < m->nservers; i++)
        s_u64(b, "weir_server_connections", SERVER_LBL(&m->servers[i]), 2, m->servers[i].conns);
    server_u64(b, m, "weir_server_requests_total", "counter", "Attempts sent to the server.",
               offsetof(struct m_server, requests));
    server_u64(b, m, "weir_server_failures_total", "counter",
               "Failed requests to the server (passive health).",
               offsetof(struct m_server, failures));
    server_u64(b, m, "weir_server_health_checks_total", "counter", "Active health checks run.",
               offsetof(struct m_server, checks));
    server_u64(b, m, "weir_server_health_checks_failed_total", "counter",
               "Active health checks failed.", offsetof(struct m_server, checks_failed));
    server_u64(b, m, "weir_server_health_transitions_total", "counter",
               "Up/down transitions of the server.", offsetof(struct m_server, transitions));
    family(b, "weir_server_breaker_state", "gauge",
           "1 for the state the server's own circuit breaker is in, 0 for the others.");
    for (uint32_t i = 0; i < m->nservers; i++)
        if (m->servers[i].has_breaker)
            breaker_states(b, "weir_server_breaker_state", SERVER_LBL(&m->servers[i]), 2,
                           m->servers[i].breaker.state);
    server_u64(b, m, "weir_pool_idle_connections", "gauge",
               "Idle pooled connections to the server, all workers.",
               offsetof(struct m_server, pool_idle));
    server_u64(b, m, "weir_pool_busy_connections", "gauge",
               "Pooled connections to the server carrying a request.",
               offsetof(struct m_server, pool_busy));
    server_u64(b, m, "weir_pool_waiters", "gauge",
               "Requests waiting for a connection to the server (max_conns reached).",
               offsetof(struct m_server, pool_waiters));
    server_u64(b, m, "weir_pool_connections_created_total", "counter",
               "Connections opened to the server.", offsetof(struct m_server, pool_created));
    server_u64(b, m, "weir_pool_connections_reused_total", "counter",
               "Requests sent on a reused pooled connection.",
               offsetof(struct m_server, pool_reused));
    family(b, "weir_pool_connections_closed_total", "counter",
           "Pooled connections closed, by reason.");
    for (uint32_t i = 0; i < m->nservers; i++) {
        const struct m_server *s = &m->servers[i];
        for (uint32_t k = 0; k < ADMIN_POOL_REASONS; k++)
            s_u64(b, "weir_pool_connections_closed_total",
                  (struct lbl[]){{"group", s->group}, {"server", s->address},
                                 {"reason", admin_pool_reason[k]}},
                  3, s->pool_closed[k]);
    }
    server_u64(b, m, "weir_pool_acquire_timeouts_total", "counter",
               "Requests that waited pool.acquire_timeout for a connection and got 503.",
               offsetof(struct m_server, pool_timeouts));
    server_u64(b, m, "weir_pool_waits_total", "counter",
               "Requests that had to wait for a connection (the server was at max_conns).",
               offsetof(struct m_server, pool_waits));
    family(b, "weir_pool_wait_seconds_total", "counter",
           "Total time requests waited for a connection; divide by weir_pool_waits_total.");
    for (uint32_t i = 0; i < m->nservers; i++) {
        const struct m_server *s = &m->servers[i];
        s_num(b, "weir_pool_wait_seconds_total",
              (struct lbl[]){{"group", s->group}, {"server", s->address}}, 2,
              (double)s->pool_wait_ms / 1000.0);
    }
}

/* TLS figures are process-wide atomics (tls_stats.h), read directly. */
static uint64_t ld(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void render_tls(struct abuf *b)
{
    struct tls_stats *t = &tls_stats;
    family(b, "weir_tls_handshakes_total", "counter",
           "Finished TLS handshakes with clients, full or resumed (ticket or session cache).");
    s_u64(b, "weir_tls_handshakes_total", &(struct lbl){"kind", "full"}, 1, ld(&t->full));
    s_u64(b, "weir_tls_handshakes_total", &(struct lbl){"kind", "resumed"}, 1, ld(&t->resumed));
    family(b, "weir_tls_handshake_failures_total", "counter",
           "Failed TLS handshakes with clients by reason.");
    for (uint32_t i = 0; i < TLS_FAIL_REASONS; i++)
        s_u64(b, "weir_tls_handshake_failures_total",
              &(struct lbl){"reason", tls_stats_fail_name(i)}, 1, ld(&t->failed[i]));
    family(b, "weir_tls_protocol_total", "counter", "Client handshakes by protocol version.");
    for (uint32_t i = 0; i < TLS_PROTO_COUNT; i++)
        s_u64(b, "weir_tls_protocol_total", &(struct lbl){"protocol", tls_stats_proto_name(i)},
              1, ld(&t->protocol[i]));
    family(b, "weir_tls_cipher_total", "counter", "Client handshakes by cipher.");
    for (uint32_t i = 0; i <= TLS_STATS_CIPHERS; i++)
        if (ld(&t->cipher[i]))
            s_u64(b, "weir_tls_cipher_total", &(struct lbl){"cipher", tls_stats_cipher_name(i)},
                  1, ld(&t->cipher[i]));
    family(b, "weir_tls_ticket_key_rotations_total", "counter", "Session ticket key rotations.");
    s_u64(b, "weir_tls_ticket_key_rotations_total", NULL, 0, tls_ticket_rotations());
    family(b, "weir_tls_upstream_handshakes_total", "counter",
           "TLS handshakes with upstream servers by result.");
    s_u64(b, "weir_tls_upstream_handshakes_total", &(struct lbl){"result", "full"}, 1,
          ld(&t->up_full));
    s_u64(b, "weir_tls_upstream_handshakes_total", &(struct lbl){"result", "resumed"}, 1,
          ld(&t->up_resumed));
    s_u64(b, "weir_tls_upstream_handshakes_total", &(struct lbl){"result", "failed"}, 1,
          ld(&t->up_failed));
    s_u64(b, "weir_tls_upstream_handshakes_total", &(struct lbl){"result", "verify_failed"}, 1,
          ld(&t->up_verify_failed));
}

void prometheus_render(const struct model *m, struct abuf *out)
{
    render_process(out, m);
    render_traffic(out, m);
    render_buffering(out, m);
    render_routes(out, m);
    render_groups(out, m);
    render_servers(out, m);
    admin_cache_prometheus(out);
    admin_store_prometheus(out);
    waitroom_prometheus(out);
    render_tls(out);
}

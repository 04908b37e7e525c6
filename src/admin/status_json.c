/* status_json.c — see status_json.h. */
#include "admin/status_json.h"

#include "admin/admin_cache.h"
#include "admin/admin_store.h"
#include "admin/waitroom_admin.h"

#include <string.h>

#include "tls/tls_stats.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void key(struct abuf *b, const char *k)
{
    abuf_add(b, "\"", 1);
    abuf_str(b, k);
    abuf_add(b, "\":", 2);
}

static void kv_u64(struct abuf *b, const char *k, uint64_t v)
{
    key(b, k);
    abuf_u64(b, v);
}

static void kv_num(struct abuf *b, const char *k, double v)
{
    key(b, k);
    abuf_num(b, v);
}

static void kv_bool(struct abuf *b, const char *k, bool v)
{
    key(b, k);
    abuf_str(b, v ? "true" : "false");
}

static void breaker_obj(struct abuf *b, const struct m_breaker *br)
{
    abuf_str(b, "{\"state\":");
    abuf_json_str(b, breaker_state_name(br->state));
    abuf_add(b, ",", 1);
    kv_num(b, "since_s", br->since_s);
    abuf_add(b, ",", 1);
    kv_u64(b, "failure_rate", br->failure_rate_pct);
    abuf_add(b, ",", 1);
    kv_u64(b, "slow_rate", br->slow_rate_pct);
    abuf_add(b, ",", 1);
    kv_u64(b, "rejected", br->rejected);
    /* The last transitions, oldest first, with wall-clock times (ms since the epoch). */
    abuf_str(b, ",\"transitions\":[");
    for (uint32_t i = 0; i < br->ntransitions; i++) {
        const struct breaker_transition *t = &br->transitions[i];
        abuf_str(b, i ? ",{" : "{");
        kv_u64(b, "at_ms", t->wall_ms);
        abuf_str(b, ",\"from\":");
        abuf_json_str(b, breaker_state_name(t->from));
        abuf_str(b, ",\"to\":");
        abuf_json_str(b, breaker_state_name(t->to));
        abuf_add(b, ",", 1);
        kv_u64(b, "failure_rate", t->failure_rate_pct);
        abuf_add(b, ",", 1);
        kv_u64(b, "slow_rate", t->slow_rate_pct);
        abuf_add(b, ",", 1);
        kv_u64(b, "calls", t->calls);
        abuf_add(b, "}", 1);
    }
    abuf_add(b, "]}", 2);
}

static void server_obj(struct abuf *b, const struct m_server *s)
{
    abuf_str(b, "{\"address\":");
    abuf_json_str(b, s->address);
    abuf_add(b, ",", 1);
    kv_bool(b, "up", s->up);
    abuf_add(b, ",", 1);
    kv_bool(b, "backup", s->backup);
    abuf_add(b, ",", 1);
    kv_u64(b, "inflight", s->inflight);
    abuf_add(b, ",", 1);
    kv_u64(b, "conns", s->conns);
    abuf_add(b, ",", 1);
    kv_u64(b, "requests", s->requests);
    abuf_add(b, ",", 1);
    kv_u64(b, "failures", s->failures);
    abuf_str(b, ",\"pool\":{");
    kv_u64(b, "idle", s->pool_idle);
    abuf_add(b, ",", 1);
    kv_u64(b, "busy", s->pool_busy);
    abuf_add(b, ",", 1);
    kv_u64(b, "waiters", s->pool_waiters);
    abuf_add(b, ",", 1);
    kv_u64(b, "waits", s->pool_waits);
    abuf_add(b, ",", 1);
    kv_num(b, "avg_wait_ms", s->pool_waits ? (double)s->pool_wait_ms / (double)s->pool_waits : 0);
    abuf_str(b, "},\"breaker\":");
    if (s->has_breaker)
        abuf_json_str(b, breaker_state_name(s->breaker.state));
    else
        abuf_str(b, "null");
    abuf_add(b, "}", 1);
}

static void group_obj(struct abuf *b, const struct model *m, const struct m_group *g)
{
    abuf_str(b, "{\"name\":");
    abuf_json_str(b, g->name);
    abuf_add(b, ",", 1);
    kv_u64(b, "requests", g->requests);
    abuf_add(b, ",", 1);
    kv_u64(b, "retries", g->retries);
    abuf_add(b, ",", 1);
    kv_u64(b, "budget_refused", g->budget_refused);
    abuf_add(b, ",", 1);
    kv_u64(b, "limit_rejected", g->limit_rejected);
    abuf_str(b, ",\"breaker\":");
    if (g->has_breaker)
        breaker_obj(b, &g->breaker);
    else
        abuf_str(b, "null");
    abuf_str(b, ",\"concurrency\":");
    if (g->has_limiter) {
        abuf_add(b, "{", 1);
        kv_u64(b, "limit", g->limit);
        abuf_add(b, ",", 1);
        kv_u64(b, "inflight", g->inflight);
        abuf_add(b, ",", 1);
        kv_u64(b, "queued", g->queued);
        abuf_add(b, "}", 1);
    } else {
        abuf_str(b, "null");
    }
    abuf_add(b, ",", 1);
    kv_num(b, "p50_ms", ms(g->win.p50_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p99_ms", ms(g->win.p99_us));
    abuf_str(b, ",\"servers\":[");
    bool first = true;
    for (uint32_t i = 0; i < m->nservers; i++) {
        if (strcmp(m->servers[i].group, g->name) != 0)
            continue;
        if (!first)
            abuf_add(b, ",", 1);
        first = false;
        server_obj(b, &m->servers[i]);
    }
    abuf_str(b, "]}");
}

static void route_obj(struct abuf *b, const struct m_route *r)
{
    abuf_str(b, "{\"route\":");
    abuf_json_str(b, r->label);
    abuf_add(b, ",", 1);
    kv_u64(b, "requests", r->requests);
    abuf_add(b, ",", 1);
    kv_num(b, "rps", r->win.rps);
    abuf_add(b, ",", 1);
    kv_u64(b, "errors_5xx", r->status[5]);
    abuf_add(b, ",", 1);
    kv_u64(b, "rate_limited", r->rate_limited);
    abuf_add(b, ",", 1);
    kv_num(b, "p50_ms", ms(r->win.p50_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p90_ms", ms(r->win.p90_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p99_ms", ms(r->win.p99_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p999_ms", ms(r->win.p999_us));
    abuf_add(b, "}", 1);
}

static uint64_t ld(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The TLS figures (process-wide atomics, tls_stats.h). */
static void status_tls(struct abuf *b)
{
    struct tls_stats *t = &tls_stats;
    kv_u64(b, "handshakes_full", ld(&t->full));
    abuf_add(b, ",", 1);
    kv_u64(b, "handshakes_resumed", ld(&t->resumed));
    abuf_str(b, ",\"failures\":{");
    for (uint32_t i = 0; i < TLS_FAIL_REASONS; i++) {
        if (i)
            abuf_add(b, ",", 1);
        kv_u64(b, tls_stats_fail_name(i), ld(&t->failed[i]));
    }
    abuf_str(b, "},\"protocols\":{");
    for (uint32_t i = 0; i < TLS_PROTO_COUNT; i++) {
        if (i)
            abuf_add(b, ",", 1);
        kv_u64(b, tls_stats_proto_name(i), ld(&t->protocol[i]));
    }
    abuf_str(b, "},\"ciphers\":{");
    bool first = true;
    for (uint32_t i = 0; i <= TLS_STATS_CIPHERS; i++) {
        if (!ld(&t->cipher[i]))
            continue;
        if (!first)
            abuf_add(b, ",", 1);
        first = false;
        kv_u64(b, tls_stats_cipher_name(i), ld(&t->cipher[i]));
    }
    abuf_str(b, "},\"upstream\":{");
    kv_u64(b, "full", ld(&t->up_full));
    abuf_add(b, ",", 1);
    kv_u64(b, "resumed", ld(&t->up_resumed));
    abuf_add(b, ",", 1);
    kv_u64(b, "failed", ld(&t->up_failed));
    abuf_add(b, ",", 1);
    kv_u64(b, "verify_failed", ld(&t->up_verify_failed));
    abuf_add(b, "}", 1);
}

void status_json_render(const struct model *m, struct abuf *b)
{
    const struct m_global *g = &m->g;

    abuf_str(b, "{\"version\":");
    abuf_json_str(b, WEIR_VERSION);
    abuf_add(b, ",", 1);
    kv_num(b, "uptime_s", g->uptime_s);
    abuf_add(b, ",", 1);
    kv_u64(b, "generation", g->generation);
    abuf_add(b, ",", 1);
    kv_u64(b, "workers", g->nworkers);
    abuf_add(b, ",", 1);
    kv_u64(b, "ts_ms", g->ts_ms);

    abuf_str(b, ",\"reloads\":{");
    kv_u64(b, "ok", g->reloads_ok);
    abuf_add(b, ",", 1);
    kv_u64(b, "failed", g->reloads_failed);

    abuf_str(b, "},\"tls\":{");
    status_tls(b);

    abuf_str(b, "},\"rps\":{");
    kv_num(b, "1s", g->rps_1s);
    abuf_add(b, ",", 1);
    kv_num(b, "10s", g->rps_10s);
    abuf_add(b, ",", 1);
    kv_num(b, "60s", g->rps_60s);

    abuf_str(b, "},\"totals\":{");
    kv_u64(b, "requests", g->requests);
    abuf_str(b, ",\"status\":{");
    for (uint32_t k = 1; k < METRICS_STATUS_CLASSES; k++) {
        abuf_printf(b, "%s\"%uxx\":", k > 1 ? "," : "", k);
        abuf_u64(b, g->status[k]);
    }
    abuf_str(b, "},");
    kv_u64(b, "bytes_in", g->bytes_in);
    abuf_add(b, ",", 1);
    kv_u64(b, "bytes_out", g->bytes_out);
    abuf_add(b, ",", 1);
    kv_u64(b, "active_clients", g->active_clients);
    abuf_str(b, ",\"protocols\":{");
    kv_u64(b, "http1_requests", g->requests > g->h2_requests ? g->requests - g->h2_requests : 0);
    abuf_add(b, ",", 1);
    kv_u64(b, "http2_requests", g->h2_requests);
    abuf_add(b, ",", 1);
    kv_u64(b, "http2_streams", g->h2_streams);
    abuf_add(b, ",", 1);
    kv_u64(b, "http2_connections", g->h2_conns);
    abuf_str(b, "},");
    kv_u64(b, "upstream_conns", g->upstream_conns);
    abuf_add(b, ",", 1);
    kv_u64(b, "shed", g->shed);
    abuf_add(b, ",", 1);
    kv_u64(b, "local_errors", g->local_errors_total);
    uint64_t mem = 0, files = 0;
    for (uint32_t w = 0; w < g->nworkers && w < METRICS_MAX_WORKERS; w++) {
        mem += g->buf_memory[w];
        files += g->buf_files[w];
    }
    abuf_str(b, ",\"buffering\":{");
    kv_u64(b, "memory_bytes", mem);
    abuf_add(b, ",", 1);
    kv_u64(b, "file_bytes", files);
    abuf_add(b, ",", 1);
    kv_u64(b, "bodies_memory", g->bodies_memory);
    abuf_add(b, ",", 1);
    kv_u64(b, "bodies_file", g->bodies_file);
    abuf_add(b, ",", 1);
    kv_u64(b, "refused", g->bodies_refused);
    abuf_add(b, ",", 1);
    kv_u64(b, "responses_ahead", g->responses_ahead);
    abuf_add(b, ",", 1);
    kv_u64(b, "fallbacks", g->ahead_fallbacks);
    abuf_add(b, "}", 1);

    abuf_str(b, "},\"latency_ms\":{");
    kv_num(b, "p50", ms(g->win.p50_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p90", ms(g->win.p90_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p99", ms(g->win.p99_us));
    abuf_add(b, ",", 1);
    kv_num(b, "p999", ms(g->win.p999_us));
    abuf_add(b, ",", 1);
    kv_num(b, "max", ms(g->win.max_us));
    abuf_add(b, ",", 1);
    kv_num(b, "window_s", g->win.window_s);

    abuf_str(b, "},\"histogram\":{\"bounds_ms\":[");
    for (uint32_t i = 0; i < ADMIN_NCOARSE; i++) {
        if (i)
            abuf_add(b, ",", 1);
        abuf_num(b, admin_coarse_ms[i]);
    }
    abuf_str(b, "],\"counts\":[");
    for (uint32_t i = 0; i <= ADMIN_NCOARSE; i++) {
        if (i)
            abuf_add(b, ",", 1);
        abuf_u64(b, g->win.coarse[i]);
    }

    abuf_str(b, "]},\"history\":[");
    for (uint32_t i = 0; i < m->nhistory; i++) {
        const struct m_second *s = &m->history[i];
        abuf_str(b, i ? ",{" : "{");
        kv_u64(b, "t", s->t);
        abuf_add(b, ",", 1);
        kv_num(b, "rps", s->rps);
        abuf_add(b, ",", 1);
        kv_num(b, "p50", s->p50_ms);
        abuf_add(b, ",", 1);
        kv_num(b, "p99", s->p99_ms);
        abuf_add(b, ",", 1);
        kv_u64(b, "err", s->err);
        abuf_add(b, "}", 1);
    }

    abuf_str(b, "],\"routes\":[");
    for (uint32_t i = 0; i < m->nroutes; i++) {
        if (i)
            abuf_add(b, ",", 1);
        route_obj(b, &m->routes[i]);
    }
    abuf_str(b, "],\"groups\":[");
    for (uint32_t i = 0; i < m->ngroups; i++) {
        if (i)
            abuf_add(b, ",", 1);
        group_obj(b, m, &m->groups[i]);
    }
    abuf_str(b, "],\"waiting_rooms\":");
    waitroom_status_json(b);
    abuf_str(b, ",");
    admin_cache_status(b);
    abuf_str(b, ",");
    admin_store_status(b);
    abuf_str(b, "}");
}

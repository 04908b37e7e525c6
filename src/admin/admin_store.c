/* admin_store.c — see admin_store.h. */
#include "admin/admin_store.h"

#include <stdio.h>

#include "admin/collect.h"
#include "state/store_stats.h"

static uint64_t ld(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void counter(struct abuf *b, const char *name, const char *help, uint64_t v)
{
    abuf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s ", name, help, name, name);
    abuf_u64(b, v);
    abuf_add(b, "\n", 1);
}

void admin_store_prometheus(struct abuf *b)
{
    struct store_stats *s = &store_stats;
    int conns = atomic_load_explicit(&s->connections, memory_order_relaxed);
    if (!conns && !ld(&s->commands))
        return; /* memory backend: nothing to show */
    abuf_printf(b, "# HELP weir_store_connections Redis connections configured and ready.\n"
                   "# TYPE weir_store_connections gauge\n"
                   "weir_store_connections{state=\"configured\"} %d\n"
                   "weir_store_connections{state=\"ready\"} %d\n",
                conns, atomic_load_explicit(&s->connected, memory_order_relaxed));
    char primary[256];
    store_stats_primary(primary, sizeof(primary));
    if (primary[0] && atomic_load_explicit(&s->connected, memory_order_relaxed) > 0) {
        abuf_str(b, "# HELP weir_store_primary The Redis server the store connections found "
                    "primary (ROLE master).\n# TYPE weir_store_primary gauge\n"
                    "weir_store_primary{address=");
        abuf_json_str(b, primary);
        abuf_str(b, "} 1\n");
    }
    counter(b, "weir_store_commands_total", "Commands sent to the state store.", ld(&s->commands));
    counter(b, "weir_store_errors_total",
            "Store commands answered with an error, refused, or lost with their connection.",
            ld(&s->errors));
    counter(b, "weir_store_timeouts_total", "Store commands not answered within command_timeout.",
            ld(&s->timeouts));
    counter(b, "weir_store_reconnects_total", "Connection attempts after the first.",
            ld(&s->reconnects));
    counter(b, "weir_store_events_published_total", "Events broadcast to other instances.",
            ld(&s->published));
    counter(b, "weir_store_events_received_total", "Events of other instances applied here.",
            ld(&s->received));
    abuf_str(b, "# HELP weir_store_fallbacks_total Decisions taken without the store "
                "(on_store_error), by feature.\n# TYPE weir_store_fallbacks_total counter\n");
    for (unsigned f = 0; f < STORE_F_COUNT; f++)
        abuf_printf(b, "weir_store_fallbacks_total{feature=\"%s\"} %llu\n",
                    store_feature_name(f), (unsigned long long)ld(&s->fallbacks[f]));
    struct hist_snapshot h = {0};
    hist_add_to(&h, &s->latency);
    abuf_str(b, "# HELP weir_store_latency_seconds Time from sending a store command to its "
                "answer.\n# TYPE weir_store_latency_seconds histogram\n");
    for (uint32_t j = 0; j < ADMIN_NLE; j++)
        abuf_printf(b, "weir_store_latency_seconds_bucket{le=\"%g\"} %llu\n",
                    (double)admin_le_us[j] / 1e6,
                    (unsigned long long)hist_count_le(&h, admin_le_us[j]));
    abuf_printf(b, "weir_store_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
                   "weir_store_latency_seconds_sum %.6f\nweir_store_latency_seconds_count %llu\n",
                (unsigned long long)h.count, (double)h.sum_us / 1e6, (unsigned long long)h.count);
}

void admin_store_status(struct abuf *b)
{
    struct store_stats *s = &store_stats;
    int conns = atomic_load_explicit(&s->connections, memory_order_relaxed);
    int ready = atomic_load_explicit(&s->connected, memory_order_relaxed);
    struct hist_snapshot h = {0};
    hist_add_to(&h, &s->latency);
    abuf_printf(b,
                "\"store\":{\"backend\":\"%s\",\"healthy\":%s,\"connections\":%d,\"ready\":%d,"
                "\"commands\":%llu,\"errors\":%llu,\"timeouts\":%llu,\"reconnects\":%llu,"
                "\"p99_ms\":%.3f,\"fallbacks\":{",
                conns ? "redis" : "memory", !conns || ready == conns ? "true" : "false", conns,
                ready, (unsigned long long)ld(&s->commands), (unsigned long long)ld(&s->errors),
                (unsigned long long)ld(&s->timeouts), (unsigned long long)ld(&s->reconnects),
                (double)hist_quantile(&h, 0.99) / 1000.0);
    for (unsigned f = 0; f < STORE_F_COUNT; f++)
        abuf_printf(b, "%s\"%s\":%llu", f ? "," : "", store_feature_name(f),
                    (unsigned long long)ld(&s->fallbacks[f]));
    abuf_str(b, "},\"primary\":");
    char primary[256];
    store_stats_primary(primary, sizeof(primary));
    if (ready && primary[0]) /* none while no connection is ready */
        abuf_json_str(b, primary);
    else
        abuf_str(b, "null");
    abuf_str(b, "}");
}

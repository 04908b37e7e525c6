/* metrics.c — shard allocation and label names; see metrics.h. */
#include "metrics/metrics.h"

#include <stdlib.h>

#include "http/h1_types.h"

static atomic_uint nworkers = 1;

void metrics_set_workers(uint32_t n)
{
    atomic_store(&nworkers, n ? (n > METRICS_MAX_WORKERS ? METRICS_MAX_WORKERS : n) : 1);
}

uint32_t metrics_workers(void)
{
    return atomic_load(&nworkers);
}

struct route_shard *metrics_route_shards(void)
{
    return calloc(metrics_workers(), sizeof(struct route_shard));
}

struct group_shard *metrics_group_shards(void)
{
    return calloc(metrics_workers(), sizeof(struct group_shard));
}

struct server_shard *metrics_server_shards(void)
{
    return calloc(metrics_workers(), sizeof(struct server_shard));
}

enum metrics_method metrics_method_class(int id)
{
    switch (id) {
    case H1_M_GET:
        return MM_GET;
    case H1_M_HEAD:
        return MM_HEAD;
    case H1_M_POST:
        return MM_POST;
    case H1_M_PUT:
        return MM_PUT;
    case H1_M_DELETE:
        return MM_DELETE;
    case H1_M_PATCH:
        return MM_PATCH;
    case H1_M_OPTIONS:
        return MM_OPTIONS;
    default:
        return MM_OTHER;
    }
}

const char *metrics_method_name(enum metrics_method m)
{
    static const char *const names[MM_COUNT] = {"GET",    "HEAD",  "POST",    "PUT",
                                                "DELETE", "PATCH", "OPTIONS", "OTHER"};
    return m < MM_COUNT ? names[m] : "OTHER";
}

/* store_stats.c — see store_stats.h. */
#include "state/store_stats.h"

#include <stdbool.h>

#include "core/log.h"

struct store_stats store_stats;

/* One flag per feature: set when its fallback was logged in this outage. */
static atomic_bool logged[STORE_F_COUNT];

static const char *const names[STORE_F_COUNT] = {
    [STORE_F_RATELIMIT] = "rate_limit",
    [STORE_F_IDEMPOTENCY] = "idempotency",
    [STORE_F_WAITROOM] = "waiting_room",
};

const char *store_feature_name(enum store_feature f)
{
    return (unsigned)f < STORE_F_COUNT ? names[f] : "?";
}

void store_stats_fallback(enum store_feature f, const char *policy)
{
    atomic_fetch_add_explicit(&store_stats.fallbacks[f], 1, memory_order_relaxed);
    if (!atomic_exchange_explicit(&logged[f], true, memory_order_relaxed))
        log_warn("state store: no answer for %s, deciding '%s' until it is back", names[f],
                 policy);
}

void store_stats_recovered(void)
{
    for (unsigned i = 0; i < STORE_F_COUNT; i++)
        atomic_store_explicit(&logged[i], false, memory_order_relaxed);
}

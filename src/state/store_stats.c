/* store_stats.c — see store_stats.h. */
#include "state/store_stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

struct store_stats store_stats;

/* The primary's address, written by the workers, read by the admin thread. */
static pthread_mutex_t primary_lock = PTHREAD_MUTEX_INITIALIZER;
static char primary[256];
/* The server last logged read-only: the connections that meet its READONLY one after the
 * other log it once (cleared when it is the primary again). */
static char read_only[256];

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

bool store_stats_set_primary(const char *addr)
{
    pthread_mutex_lock(&primary_lock);
    bool changed = strncmp(primary, addr, sizeof(primary) - 1) != 0;
    if (changed) {
        snprintf(primary, sizeof(primary), "%s", addr);
        if (strcmp(read_only, primary) == 0)
            read_only[0] = '\0'; /* the primary again: its next demotion is news */
    }
    pthread_mutex_unlock(&primary_lock);
    if (changed)
        log_info("state store: primary is now %s", addr);
    return changed;
}

void store_stats_read_only(const char *addr)
{
    pthread_mutex_lock(&primary_lock);
    bool changed = strncmp(read_only, addr, sizeof(read_only) - 1) != 0;
    if (changed)
        snprintf(read_only, sizeof(read_only), "%s", addr);
    pthread_mutex_unlock(&primary_lock);
    if (changed)
        log_warn("state store: redis %s is read-only now (no longer the primary), looking for "
                 "the primary", addr);
}

void store_stats_primary(char *out, size_t n)
{
    pthread_mutex_lock(&primary_lock);
    snprintf(out, n, "%s", primary);
    pthread_mutex_unlock(&primary_lock);
}

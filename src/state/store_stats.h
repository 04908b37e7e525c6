/* store_stats.h — the state store's health and figures, for /metrics and /status.
 *
 * One process-wide set of relaxed atomics (every worker's Redis connection adds to it; the
 * admin thread reads it). `connected` counts the connections that are ready now. */
#ifndef WEIR_STATE_STORE_STATS_H
#define WEIR_STATE_STORE_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/histogram.h"

enum store_feature { STORE_F_RATELIMIT, STORE_F_IDEMPOTENCY, STORE_F_WAITROOM, STORE_F_COUNT };

struct store_stats {
    atomic_uint_fast64_t commands;     /* sent */
    atomic_uint_fast64_t errors;       /* error replies, refused sends, lost connections */
    atomic_uint_fast64_t timeouts;     /* not answered within command_timeout */
    atomic_uint_fast64_t reconnects;   /* connection attempts after the first */
    atomic_uint_fast64_t published;    /* pub/sub events sent */
    atomic_uint_fast64_t received;     /* pub/sub events applied from other instances */
    atomic_uint_fast64_t fallbacks[STORE_F_COUNT]; /* decisions taken without the store */
    atomic_int connected;              /* connections ready now */
    atomic_int connections;            /* connections configured */
    struct histogram latency;          /* per answered command, us */
};

extern struct store_stats store_stats;

/* Counts one decision of `f` taken without the store; logs the first one of each feature of
 * each outage (until store_stats_recovered) at warn. Any thread. */
void store_stats_fallback(enum store_feature f, const char *policy);
/* A connection became ready: the next fallback is logged again. */
void store_stats_recovered(void);
const char *store_feature_name(enum store_feature f);
/* A connection became ready on the primary at addr: logs "primary is now addr" when it is not
 * the one last set (once per change, however many connections follow) and returns true then.
 * Any thread. */
bool store_stats_set_primary(const char *addr);
/* A connection's write was refused READONLY by addr: logs it once per demotion (however many
 * connections meet it). Any thread. */
void store_stats_read_only(const char *addr);
/* The address last set ("" before any) into out (n bytes). Any thread. */
void store_stats_primary(char *out, size_t n);

#endif

/* breaker.h — a circuit breaker with Resilience4j's semantics.
 *
 * CLOSED: calls pass and their outcomes fill a sliding window (the last N calls, or the last T
 * seconds in one-second buckets). Once the window holds at least min_calls outcomes and the
 * failure rate or the slow-call rate (calls slower than slow_call_ms) reaches its threshold,
 * the breaker OPENs. OPEN: every call is refused at once (the caller answers 503 with
 * Retry-After) until open_ms has passed; then HALF_OPEN admits half_open_calls trial calls:
 * a failed (or slow, when the slow rate is the trigger) trial re-opens it, all trials
 * succeeding close it (with an empty window).
 *
 * Thread-safe: one breaker is shared by every worker; each call takes its mutex briefly (two
 * lock/unlock pairs per proxied request). Transitions are logged once (log_warn) and kept with
 * their timestamps for the admin API. */
#ifndef WEIR_RESILIENCE_BREAKER_H
#define WEIR_RESILIENCE_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_types.h"

enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN };

#define BREAKER_HISTORY 16

struct breaker_transition {
    uint64_t at_ms;          /* loop clock (CLOCK_MONOTONIC ms) */
    uint64_t wall_ms;        /* wall clock, for display */
    enum breaker_state from, to;
    uint32_t failure_rate_pct, slow_rate_pct, calls; /* the window that decided it */
};

struct breaker_stats {
    enum breaker_state state;
    uint64_t state_since_ms;
    uint32_t calls, failures, slow;  /* in the current window */
    uint32_t failure_rate_pct, slow_rate_pct; /* of the current window (0 below min_calls) */
    uint64_t rejected;               /* calls refused while open / half-open full */
    uint32_t ntransitions;           /* in history (newest last) */
    struct breaker_transition history[BREAKER_HISTORY];
};

struct breaker;

/* `name` appears in logs ("group api", "server api/127.0.0.1:9001"). The config is copied.
 * NULL on out of memory. */
struct breaker *breaker_new(const struct cfg_breaker *cfg, const char *name);
void breaker_free(struct breaker *b);

/* May a call start at now_ms? true: it may, and must later be finished with breaker_record or
 * breaker_cancel. false: refused; *retry_after_ms is how long until a trial may be admitted. */
bool breaker_allow(struct breaker *b, uint64_t now_ms, uint32_t *retry_after_ms);
/* The outcome of an allowed call. */
void breaker_record(struct breaker *b, uint64_t now_ms, bool failure, uint32_t duration_ms);
/* An allowed call that never reached the dependency (aborted early): frees its trial slot. */
void breaker_cancel(struct breaker *b);

enum breaker_state breaker_state(struct breaker *b, uint64_t now_ms);
void breaker_get_stats(struct breaker *b, uint64_t now_ms, struct breaker_stats *out);
const char *breaker_state_name(enum breaker_state s);

/* Sharing between weir instances (issue 15; the transport is the caller's: state_events.h).
 * The observer hears this instance's own OPEN and CLOSED transitions (under the breaker's
 * lock: keep it short and never call back into the breaker); set it once, before the workers
 * start. breaker_apply_remote applies another instance's event to the breakers called
 * name[0..len): 'open' opens a closed or half-open one for its own open duration (its
 * counting goes on as before), 'close' closes one that only a remote event had opened. A
 * remote transition is never observed, so events do not echo between instances. Any thread. */
typedef void (*breaker_observer)(const char *name, enum breaker_state to);
void breaker_set_observer(breaker_observer fn);
void breaker_apply_remote(const char *name, size_t len, bool open, uint64_t now_ms);

#endif

/* breaker.c — see breaker.h.
 *
 * Shared state: everything in struct breaker is guarded by its `lock`; no field is read
 * outside it. Every entry point is O(1) (amortized over the seconds a time window skips), so
 * the critical section is a few dozen instructions; the only slow thing done under the lock is
 * the log line of a transition, which is rare and keeps transitions ordered in the log.
 *
 * The two windows keep running totals (calls, failures, slow) next to their storage so that
 * reading a rate never walks the window:
 * - count: a ring of the last N outcomes, one byte each (bit 0 failure, bit 1 slow); adding the
 *   N+1th outcome subtracts the one it overwrites.
 * - time: T one-second buckets indexed by second % T. `last_sec` is the newest second seen;
 *   moving it forward clears (and subtracts) the buckets of the seconds skipped, so a bucket
 *   older than T seconds never counts. A late outcome (a worker whose cached clock lags)
 *   lands in the bucket of its second if that is still inside the window, else is dropped.
 *
 * Half-open bookkeeping: `trials` slots have been handed out, `trials_done` of them reported
 * success. breaker_record cannot tell a trial from a call admitted before the breaker opened
 * (the API carries no token), so in HALF_OPEN a record counts as a trial outcome only while
 * some trial is outstanding, and is ignored otherwise; records arriving while OPEN are ignored. */
#include "resilience/breaker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define OUT_FAIL 1u
#define OUT_SLOW 2u
/* Retry-After while half-open is full: the trials usually finish well within a second. */
#define HALF_OPEN_RETRY_MS 1000u

struct bucket {
    uint64_t sec;
    uint32_t calls, failures, slow;
};

struct breaker {
    struct breaker *all_next, **all_pprev; /* every live breaker (all_lock), for remote events */
    bool remote_open;   /* opened by another instance's event (not by this one's counting) */
    pthread_mutex_t lock;
    struct cfg_breaker cfg;
    char *name;
    uint32_t min_calls; /* effective: >= 1, and <= N for a count window */

    enum breaker_state state;
    uint64_t state_since_ms;
    uint64_t open_until_ms;
    bool opened_by_slow; /* the slow-call rate tripped the last opening */

    /* the window's running totals, for either kind */
    uint32_t calls, failures, slow;
    uint8_t *ring;          /* count window: cfg.window_size outcomes */
    uint32_t ring_pos;      /* next slot to write */
    struct bucket *buckets; /* time window: cfg.window_size buckets */
    uint64_t last_sec;

    uint32_t trials, trials_done, trials_slow;
    uint64_t rejected;

    struct breaker_transition hist[BREAKER_HISTORY]; /* ring, hist_n entries, oldest at hist_head */
    uint32_t hist_head, hist_n;
};

const char *breaker_state_name(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

/* Upper-case names for the transition log line, as operators grep for them. */
static const char *state_upper(enum breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "CLOSED";
    case BREAKER_OPEN:
        return "OPEN";
    case BREAKER_HALF_OPEN:
        return "HALF_OPEN";
    }
    return "?";
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t pct(uint32_t part, uint32_t whole)
{
    return whole ? (uint32_t)((uint64_t)part * 100u / whole) : 0;
}

/* A threshold of 0 or above 100 disables that rate. */
static bool rate_enabled(uint32_t threshold)
{
    return threshold >= 1 && threshold <= 100;
}

/* part/whole >= threshold%, in integers so "exactly at the threshold" is exact. */
static bool rate_reached(uint32_t part, uint32_t whole, uint32_t threshold)
{
    return rate_enabled(threshold) && (uint64_t)part * 100u >= (uint64_t)threshold * whole;
}

static void window_clear(struct breaker *b)
{
    b->calls = b->failures = b->slow = 0;
    if (b->ring) {
        memset(b->ring, 0, b->cfg.window_size);
        b->ring_pos = 0;
    } else {
        memset(b->buckets, 0, sizeof(*b->buckets) * b->cfg.window_size);
    }
}

static void bucket_drop(struct breaker *b, struct bucket *bk)
{
    b->calls -= bk->calls;
    b->failures -= bk->failures;
    b->slow -= bk->slow;
    memset(bk, 0, sizeof(*bk));
}

/* Moves a time window's newest second to now_ms's, forgetting what fell out of it. */
static void window_advance(struct breaker *b, uint64_t now_ms)
{
    if (b->ring)
        return;
    uint64_t sec = now_ms / 1000u, n = b->cfg.window_size;
    if (sec <= b->last_sec)
        return;
    if (sec - b->last_sec >= n) {
        window_clear(b);
    } else {
        for (uint64_t s = b->last_sec + 1; s <= sec; s++)
            bucket_drop(b, &b->buckets[s % n]);
    }
    b->last_sec = sec;
}

static void window_add(struct breaker *b, uint64_t now_ms, bool failure, bool slow)
{
    uint32_t n = b->cfg.window_size;
    if (b->ring) {
        uint8_t old = b->ring[b->ring_pos];
        if (old) { /* 0 marks an empty slot: every stored outcome has bit 2 set */
            b->calls--;
            b->failures -= (old & OUT_FAIL) ? 1 : 0;
            b->slow -= (old & OUT_SLOW) ? 1 : 0;
        }
        b->ring[b->ring_pos] = (uint8_t)(4u | (failure ? OUT_FAIL : 0) | (slow ? OUT_SLOW : 0));
        b->ring_pos = (b->ring_pos + 1) % n;
    } else {
        window_advance(b, now_ms);
        uint64_t sec = now_ms / 1000u;
        if (sec + n <= b->last_sec)
            return; /* older than the window */
        struct bucket *bk = &b->buckets[sec % n];
        if (bk->sec != sec) { /* only possible for an empty slot after a clear */
            bucket_drop(b, bk);
            bk->sec = sec;
        }
        bk->calls++;
        bk->failures += failure ? 1 : 0;
        bk->slow += slow ? 1 : 0;
    }
    b->calls++;
    b->failures += failure ? 1 : 0;
    b->slow += slow ? 1 : 0;
}

/* The counts that decided a transition: the window for CLOSED -> OPEN (and the frozen window
 * for OPEN -> HALF_OPEN), the trials for the steps out of HALF_OPEN. */
struct tally {
    uint32_t calls, failures, slow;
};

static struct tally window_tally(const struct breaker *b)
{
    return (struct tally){.calls = b->calls, .failures = b->failures, .slow = b->slow};
}

/* Every breaker, by name, for the events of other instances (breaker_apply_remote). */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct breaker *all;
static breaker_observer observer; /* set once before the workers start */

void breaker_set_observer(breaker_observer fn)
{
    observer = fn;
}

static void transition(struct breaker *b, uint64_t now_ms, enum breaker_state to, const char *why,
                       struct tally t)
{
    /* This instance's own discovery (not a remote event being applied) is shared. */
    if (observer && (to == BREAKER_OPEN || to == BREAKER_CLOSED) && !b->remote_open)
        observer(b->name, to);
    if (to != BREAKER_OPEN)
        b->remote_open = false;
    enum breaker_state from = b->state;
    uint32_t idx = (b->hist_head + b->hist_n) % BREAKER_HISTORY;
    if (b->hist_n == BREAKER_HISTORY)
        b->hist_head = (b->hist_head + 1) % BREAKER_HISTORY;
    else
        b->hist_n++;
    b->hist[idx] = (struct breaker_transition){
        .at_ms = now_ms,
        .wall_ms = wall_ms(),
        .from = from,
        .to = to,
        .failure_rate_pct = pct(t.failures, t.calls),
        .slow_rate_pct = pct(t.slow, t.calls),
        .calls = t.calls,
    };
    log_warn("circuit breaker %s: %s -> %s (%s)", b->name, state_upper(from), state_upper(to),
             why);

    b->state = to;
    b->state_since_ms = now_ms;
    b->trials = b->trials_done = b->trials_slow = 0;
    if (to == BREAKER_OPEN)
        b->open_until_ms = now_ms + b->cfg.open_ms;
    else if (to == BREAKER_CLOSED)
        window_clear(b);
}

/* The lazy OPEN -> HALF_OPEN step, taken by whoever looks first once open_ms has passed. */
static void check_open_elapsed(struct breaker *b, uint64_t now_ms)
{
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until_ms) {
        char why[64];
        snprintf(why, sizeof(why), "after %u ms open", b->cfg.open_ms);
        transition(b, now_ms, BREAKER_HALF_OPEN, why, window_tally(b));
    }
}

/* CLOSED only: open when the window is big enough and a rate reached its threshold. */
static void evaluate(struct breaker *b, uint64_t now_ms)
{
    if (b->calls < b->min_calls)
        return;
    char why[128];
    bool by_fail = rate_reached(b->failures, b->calls, b->cfg.failure_rate_pct);
    bool by_slow = !by_fail && rate_reached(b->slow, b->calls, b->cfg.slow_rate_pct);
    if (by_fail)
        snprintf(why, sizeof(why), "failure rate %u%% >= %u%% over %u calls",
                 pct(b->failures, b->calls), b->cfg.failure_rate_pct, b->calls);
    else if (by_slow)
        snprintf(why, sizeof(why), "slow-call rate %u%% >= %u%% over %u calls",
                 pct(b->slow, b->calls), b->cfg.slow_rate_pct, b->calls);
    else
        return;
    b->opened_by_slow = by_slow;
    transition(b, now_ms, BREAKER_OPEN, why, window_tally(b));
}

struct breaker *breaker_new(const struct cfg_breaker *cfg, const char *name)
{
    struct breaker *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->cfg = *cfg;
    if (b->cfg.window_size == 0)
        b->cfg.window_size = cfg->window == CFG_BREAKER_TIME ? 60 : 100;
    if (b->cfg.half_open_calls == 0)
        b->cfg.half_open_calls = 1;
    b->min_calls = b->cfg.min_calls ? b->cfg.min_calls : 1;
    if (b->cfg.window == CFG_BREAKER_COUNT && b->min_calls > b->cfg.window_size)
        b->min_calls = b->cfg.window_size; /* else the window could never be judged */
    b->name = strdup(name ? name : "?");
    if (b->cfg.window == CFG_BREAKER_COUNT)
        b->ring = calloc(b->cfg.window_size, 1);
    else
        b->buckets = calloc(b->cfg.window_size, sizeof(*b->buckets));
    if (!b->name || (!b->ring && !b->buckets) || pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b->ring);
        free(b->buckets);
        free(b->name);
        free(b);
        return NULL;
    }
    b->state = BREAKER_CLOSED;
    pthread_mutex_lock(&all_lock);
    b->all_next = all;
    if (all)
        all->all_pprev = &b->all_next;
    b->all_pprev = &all;
    all = b;
    pthread_mutex_unlock(&all_lock);
    return b;
}

void breaker_apply_remote(const char *name, size_t len, bool open, uint64_t now_ms)
{
    pthread_mutex_lock(&all_lock);
    for (struct breaker *b = all; b; b = b->all_next) {
        if (strlen(b->name) != len || memcmp(b->name, name, len) != 0)
            continue;
        pthread_mutex_lock(&b->lock);
        if (open && b->state != BREAKER_OPEN) {
            b->remote_open = true;
            transition(b, now_ms, BREAKER_OPEN, "opened by another instance", window_tally(b));
        } else if (!open && b->remote_open && b->state != BREAKER_CLOSED) {
            transition(b, now_ms, BREAKER_CLOSED, "closed by another instance", window_tally(b));
        }
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&all_lock);
}

void breaker_free(struct breaker *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&all_lock);
    *b->all_pprev = b->all_next;
    if (b->all_next)
        b->all_next->all_pprev = b->all_pprev;
    pthread_mutex_unlock(&all_lock);
    pthread_mutex_destroy(&b->lock);
    free(b->ring);
    free(b->buckets);
    free(b->name);
    free(b);
}

bool breaker_allow(struct breaker *b, uint64_t now_ms, uint32_t *retry_after_ms)
{
    bool ok = true;
    uint32_t retry = 0;
    pthread_mutex_lock(&b->lock);
    check_open_elapsed(b, now_ms);
    switch (b->state) {
    case BREAKER_CLOSED:
        break;
    case BREAKER_OPEN: {
        uint64_t left = b->open_until_ms - now_ms; /* > 0: check_open_elapsed ran */
        retry = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
        ok = false;
        break;
    }
    case BREAKER_HALF_OPEN:
        if (b->trials < b->cfg.half_open_calls) {
            b->trials++;
        } else {
            retry = HALF_OPEN_RETRY_MS;
            ok = false;
        }
        break;
    }
    if (!ok)
        b->rejected++;
    pthread_mutex_unlock(&b->lock);
    if (retry_after_ms)
        *retry_after_ms = ok ? 0 : retry;
    return ok;
}

void breaker_record(struct breaker *b, uint64_t now_ms, bool failure, uint32_t duration_ms)
{
    pthread_mutex_lock(&b->lock);
    bool slow = b->cfg.slow_call_ms > 0 && duration_ms > b->cfg.slow_call_ms;
    switch (b->state) {
    case BREAKER_CLOSED:
        window_add(b, now_ms, failure, slow);
        evaluate(b, now_ms);
        break;
    case BREAKER_OPEN:
        break; /* a call admitted before the breaker opened: the window is frozen */
    case BREAKER_HALF_OPEN:
        if (b->trials_done >= b->trials)
            break; /* no trial outstanding: a straggler from before the opening */
        if (failure || (slow && b->opened_by_slow)) {
            /* opened_by_slow stays as it was: the same rate is still the trigger. */
            struct tally t = {.calls = b->trials_done + 1,
                              .failures = failure ? 1 : 0,
                              .slow = b->trials_slow + (slow ? 1 : 0)};
            transition(b, now_ms, BREAKER_OPEN, failure ? "trial call failed" : "trial call slow",
                       t);
            break;
        }
        b->trials_slow += slow ? 1 : 0;
        if (++b->trials_done == b->cfg.half_open_calls) {
            char why[64];
            snprintf(why, sizeof(why), "%u trial call%s succeeded", b->trials_done,
                     b->trials_done == 1 ? "" : "s");
            struct tally t = {.calls = b->trials_done, .slow = b->trials_slow};
            transition(b, now_ms, BREAKER_CLOSED, why, t);
        }
        break;
    }
    pthread_mutex_unlock(&b->lock);
}

void breaker_cancel(struct breaker *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == BREAKER_HALF_OPEN && b->trials > b->trials_done)
        b->trials--;
    pthread_mutex_unlock(&b->lock);
}

enum breaker_state breaker_state(struct breaker *b, uint64_t now_ms)
{
    pthread_mutex_lock(&b->lock);
    check_open_elapsed(b, now_ms);
    enum breaker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

void breaker_get_stats(struct breaker *b, uint64_t now_ms, struct breaker_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&b->lock);
    check_open_elapsed(b, now_ms);
    if (b->state == BREAKER_CLOSED)
        window_advance(b, now_ms); /* a frozen window keeps what decided the opening */
    out->state = b->state;
    out->state_since_ms = b->state_since_ms;
    out->calls = b->calls;
    out->failures = b->failures;
    out->slow = b->slow;
    if (b->calls >= b->min_calls) {
        out->failure_rate_pct = pct(b->failures, b->calls);
        out->slow_rate_pct = pct(b->slow, b->calls);
    }
    out->rejected = b->rejected;
    out->ntransitions = b->hist_n;
    for (uint32_t i = 0; i < b->hist_n; i++)
        out->history[i] = b->hist[(b->hist_head + i) % BREAKER_HISTORY];
    pthread_mutex_unlock(&b->lock);
}

/* search.h — the saturation search (--find-saturation) as a pure state machine.
 *
 * A failing step is run again up to `confirm` times (--confirm, default 1) and counts as
 * failed only when every run fails: a stall of a shared machine, or of the generator, during
 * one short step is not the service's knee.
 *
 * The caller runs one open-model step at the rate search_rate() names, summarises it into a
 * struct search_step and hands it to search_feed(), until search_done(). Steps grow ×1.25 from
 * a low start rate while they pass; after the first failure the rate is bisected between the
 * last pass and the first failure until they are within 2 % of each other. The saturation rate
 * is the highest passing rate. No I/O and no clock, so the unit tests drive it with a simulated
 * service.
 *
 * A step passes when (search_verdict): goodput >= 97 % of the offered rate; errors + timeouts
 * <= 1 %; corrected p99 <= the SLO, or without one p50 <= 2 × the first step's p50; the
 * per-second p50 is not trending up (a queue growing during the step); and the generator had a
 * free connection for every send. */
#ifndef WEIR_LOAD_SEARCH_H
#define WEIR_LOAD_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#define SEARCH_MAX_STEPS 64
#define SEARCH_MAX_SECONDS 120

struct search_step {
    double rate;               /* offered, requests/s */
    double goodput;            /* successful answers per second */
    double p50_us, p99_us, p999_us, mean_us; /* corrected latency */
    double err_ratio;          /* (errors + timeouts) / sent */
    uint32_t nsec;             /* per-second corrected p50 of the measured part */
    double sec_p50_us[SEARCH_MAX_SECONDS];
    uint64_t conn_waits;       /* sends that waited at --max-connections, or never went */
    const char *failed;        /* set by search_feed: NULL = passed, else the criterion */
    bool rerun;                /* set by search_feed: failed, and the rate is run again */
};

enum search_phase { SEARCH_GROW, SEARCH_BISECT, SEARCH_DONE };

struct search {
    double start_rate, max_rate;
    double slo_p99_us;         /* 0: use 2 × base p50 */
    double factor;             /* 1.25 */
    double precision;          /* 0.02 */
    uint32_t confirm;          /* reruns a failing rate gets before it counts as failed */
    uint32_t reruns_left;      /* of the rate being confirmed */
    enum search_phase phase;
    double next;               /* the rate of the next step */
    double lo, hi;             /* highest pass, lowest failure (0: none yet) */
    double base_p50_us;
    const char *stop_reason;   /* the criterion that failed at `hi` */
    uint32_t nsteps;
    struct search_step steps[SEARCH_MAX_STEPS];
};

void search_init(struct search *s, double start_rate, double max_rate, double slo_p99_us,
                 uint32_t confirm);
static inline bool search_done(const struct search *s)
{
    return s->phase == SEARCH_DONE;
}
static inline double search_rate(const struct search *s)
{
    return s->next;
}

/* NULL when the step passes, else a short name of the first failed criterion. base_p50_us is
 * the first step's p50 (0 while that step itself is judged). */
const char *search_verdict(const struct search *s, const struct search_step *st);

/* True when the per-second p50 rises during the step by more than half the step's p50 and
 * 1 ms (least-squares slope × measured time). */
bool search_trending_up(const struct search_step *st);

/* Records a step's result (copied) and picks the next rate or ends the search. */
void search_feed(struct search *s, const struct search_step *st);

/* The saturation rate (the highest passing rate; 0 when even the first step failed). */
static inline double search_result(const struct search *s)
{
    return s->lo;
}

/* The passing step at the saturation rate (NULL when none). */
const struct search_step *search_knee(const struct search *s);

#endif

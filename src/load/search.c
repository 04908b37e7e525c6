/* search.c — saturation search; see search.h for the criteria. */
#include "load/search.h"

#include <string.h>

void search_init(struct search *s, double start_rate, double max_rate, double slo_p99_us,
                 uint32_t confirm)
{
    *s = (struct search){.start_rate = start_rate, .max_rate = max_rate,
                         .slo_p99_us = slo_p99_us, .factor = 1.25, .precision = 0.02,
                         .confirm = confirm, .reruns_left = confirm, .phase = SEARCH_GROW,
                         .next = start_rate};
}

bool search_trending_up(const struct search_step *st)
{
    uint32_t n = st->nsec;
    if (n < 3)
        return false;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (uint32_t i = 0; i < n; i++) {
        double x = i, y = st->sec_p50_us[i];
        sx += x, sy += y, sxx += x * x, sxy += x * y;
    }
    double den = n * sxx - sx * sx;
    if (den <= 0)
        return false;
    double slope = (n * sxy - sx * sy) / den; /* µs per second */
    double rise = slope * (n - 1);
    double floor = st->p50_us / 2 > 1000 ? st->p50_us / 2 : 1000;
    return rise > floor;
}

const char *search_verdict(const struct search *s, const struct search_step *st)
{
    if (st->goodput < 0.97 * st->rate)
        return "goodput < 97% of offered";
    if (st->err_ratio > 0.01)
        return "errors+timeouts > 1%";
    if (s->slo_p99_us > 0) {
        if (st->p99_us > s->slo_p99_us)
            return "p99 > SLO";
    } else if (s->base_p50_us > 0 && st->p50_us > 2 * s->base_p50_us &&
               st->p50_us > s->base_p50_us + 1000) { /* a 1 ms floor: sub-ms noise is no knee */
        return "p50 > 2x low-rate p50";
    }
    if (search_trending_up(st))
        return "p50 trending up (queue growing)";
    if (st->conn_waits > 0)
        return "connections exhausted";
    return NULL;
}

void search_feed(struct search *s, const struct search_step *st)
{
    if (s->phase == SEARCH_DONE)
        return;
    struct search_step *rec = s->nsteps < SEARCH_MAX_STEPS ? &s->steps[s->nsteps++] : NULL;
    const char *failed = search_verdict(s, st);
    if (rec) {
        *rec = *st;
        rec->failed = failed;
        rec->rerun = false;
    }
    if (failed && s->reruns_left > 0 && s->nsteps < SEARCH_MAX_STEPS) {
        s->reruns_left--; /* s->next stays: the same rate again */
        if (rec)
            rec->rerun = true;
        return;
    }
    s->reruns_left = s->confirm;
    if (s->base_p50_us == 0 && !failed)
        s->base_p50_us = st->p50_us > 0 ? st->p50_us : 1;
    if (failed) {
        if (s->hi == 0 || st->rate < s->hi) {
            s->hi = st->rate;
            s->stop_reason = failed;
        }
        s->phase = s->lo > 0 ? SEARCH_BISECT : SEARCH_DONE; /* the start rate already failed */
    } else if (st->rate > s->lo) {
        s->lo = st->rate;
    }
    if (s->nsteps >= SEARCH_MAX_STEPS) {
        s->phase = SEARCH_DONE;
        return;
    }
    if (s->phase == SEARCH_GROW) {
        s->next = s->lo * s->factor;
        if (s->max_rate > 0 && s->next > s->max_rate) {
            if (s->lo >= s->max_rate) {
                s->stop_reason = "reached --max-rate";
                s->phase = SEARCH_DONE;
            }
            s->next = s->max_rate;
        }
    } else if (s->phase == SEARCH_BISECT) {
        if ((s->hi - s->lo) <= s->precision * s->lo)
            s->phase = SEARCH_DONE;
        else
            s->next = (s->lo + s->hi) / 2;
    }
}

const struct search_step *search_knee(const struct search *s)
{
    for (uint32_t i = 0; i < s->nsteps; i++)
        if (!s->steps[i].failed && s->steps[i].rate == s->lo)
            return &s->steps[i];
    return NULL;
}

/* run.c — one load run on T worker threads; see run.h. */
#include "load/run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "load/worker.h"

#define RUN_TAKE_DELAY_US 1000 /* just after the boundary: whole seconds by completion time */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_until(uint64_t abs_us)
{
    struct timespec ts = {.tv_sec = (time_t)(abs_us / 1000000u),
                          .tv_nsec = (long)(abs_us % 1000000u) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static void add_why(struct run_result *res, const char *what)
{
    size_t n = strlen(res->why);
    snprintf(res->why + n, sizeof(res->why) - n, "%s%s", n ? "; " : "", what);
    res->invalid = true;
}

static void live_line(const struct run_cfg *cfg, const struct run_sec *s)
{
    if (!cfg->live)
        return;
    uint64_t fails = s->c.errors + s->c.timeouts + s->c.s5xx;
    fprintf(cfg->live,
            "%s%6.0fs  rate %7llu/s (offered %6.0f)  p50 %8.2fms  p99 %8.2fms  errors %llu%s%s",
            cfg->live_tty ? "\r\033[K" : "", s->t, (unsigned long long)s->c.done,
            s->offered, s->p50 / 1000.0,
            s->p99 / 1000.0, (unsigned long long)fails, s->warmup ? "  (warm-up)" : "",
            cfg->live_tty ? "" : "\n");
    fflush(cfg->live);
}

/* Folds one second's stats into the result. */
static int take_second(const struct run_cfg *cfg, const struct sched *s, struct run_result *res,
                       struct worker *ws, uint32_t sec, struct stats *tmp)
{
    stats_reset(tmp);
    for (uint32_t i = 0; i < cfg->threads; i++)
        worker_take(&ws[i], tmp);
    struct run_sec *r = realloc(res->secs, (res->nsec + 1) * sizeof(*r));
    if (!r)
        return -1;
    res->secs = r;
    uint64_t t0 = (uint64_t)sec * 1000000u;
    int ph = sched_phase_at(s, t0);
    if (ph < 0)
        ph = (int)s->nphases - 1;
    const struct sched_phase *p = &s->phases[ph];
    bool warm = t0 < p->start_us + p->warmup_us;
    double offered = s->open ? sched_count_at(s, t0 + 1000000u) - sched_count_at(s, t0) : 0;
    r[res->nsec] = (struct run_sec){
        .t = cfg->t_offset + sec + 1, .offered = offered, .phase = ph, .warmup = warm,
        .c = tmp->c, .p50 = hdr_quantile(tmp->corr, 0.5), .p90 = hdr_quantile(tmp->corr, 0.9),
        .p99 = hdr_quantile(tmp->corr, 0.99), .p999 = hdr_quantile(tmp->corr, 0.999),
        .max = tmp->corr->max_us, .u_p50 = hdr_quantile(tmp->unc, 0.5),
        .u_p99 = hdr_quantile(tmp->unc, 0.99), .lag_p99 = hdr_quantile(tmp->lag, 0.99)};
    live_line(cfg, &r[res->nsec]);
    res->nsec++;
    if (!warm) {
        stats_add(&res->total, tmp);
        stats_add(&res->phases[ph].st, tmp);
        uint64_t in_end = t0 + 1000000u;
        if (in_end > s->total_us)
            in_end = s->total_us;
        if (in_end > t0) {
            res->measured_s += (double)(in_end - t0) / 1e6;
            res->phases[ph].seconds += (double)(in_end - t0) / 1e6;
            res->phases[ph].offered += s->open ? sched_count_at(s, in_end) - sched_count_at(s, t0)
                                               : 0;
        }
    }
    return 0;
}

int run_execute(const struct run_cfg *cfg, const struct sched *s, struct run_result *res,
                volatile int *stop)
{
    memset(res, 0, sizeof(*res));
    res->open = s->open;
    int rc = -1;
    struct stats tmp = {0};
    struct worker *ws = calloc(cfg->threads, sizeof(*ws));
    res->phases = calloc(s->nphases, sizeof(*res->phases));
    res->nphases = s->nphases;
    if (!ws || !res->phases || stats_init(&res->total) == -1 || stats_init(&tmp) == -1)
        goto out;
    for (uint32_t i = 0; i < s->nphases; i++)
        if (stats_init(&res->phases[i].st) == -1)
            goto out;
    uint64_t start = ev_clock_us() + 200000; /* time for the threads to connect */
    struct worker_cfg wc = {
        .reqs = cfg->reqs, .sched = s, .tp = cfg->tp, .tp_ctx = cfg->tp_ctx, .start_us = start,
        .timeout_us = cfg->timeout_us, .depth = cfg->depth ? cfg->depth : 1,
        .nthreads = cfg->threads,
        .max_conns = (cfg->max_connections + cfg->threads - 1) / cfg->threads,
        .realtime = cfg->realtime && s->open,
        .grace_us = cfg->timeout_us < 2000000 ? cfg->timeout_us : 2000000};
    uint32_t started = 0;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        uint32_t n = cfg->connections / cfg->threads + (i < cfg->connections % cfg->threads);
        if (n == 0)
            n = 1;
        if (worker_init(&ws[i], i, n, &wc) == -1)
            goto join;
    }
    double cpu0 = cpu_seconds();
    uint64_t wall0 = ev_clock_us();
    for (; started < cfg->threads; started++)
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0)
            goto join;
    uint32_t nsecs = (uint32_t)((s->total_us + 999999u) / 1000000u);
    for (uint32_t sec = 0; sec < nsecs; sec++) {
        sleep_until(start + (uint64_t)(sec + 1) * 1000000u + RUN_TAKE_DELAY_US);
        if (take_second(cfg, s, res, ws, sec, &tmp) == -1)
            goto join;
        if (stop && *stop) {
            for (uint32_t i = 0; i < started; i++)
                atomic_store(&ws[i].stop, true);
            break;
        }
    }
    rc = 0;
join:
    if (rc == -1)
        for (uint32_t i = 0; i < started; i++)
            atomic_store(&ws[i].stop, true);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    if (rc == 0) {
        res->wall_s = (double)(ev_clock_us() - wall0) / 1e6;
        res->cpu_pct = 100.0 * (cpu_seconds() - cpu0) / (res->wall_s * cfg->threads);
        /* what arrived after the last whole second (answers in the grace time) */
        stats_reset(&tmp);
        res->nintended = ws[0].nsec_slots;
        res->ok_by_intended = calloc(res->nintended, sizeof(*res->ok_by_intended));
        for (uint32_t i = 0; i < cfg->threads; i++) {
            worker_take(&ws[i], &tmp);
            res->unsent += ws[i].bl_n;
            res->conns_peak += ws[i].nconns;
            res->rt_threads += ws[i].rt;
            for (uint32_t k = 0; res->ok_by_intended && k < res->nintended; k++)
                res->ok_by_intended[k] += ws[i].ok_by_sec[k];
        }
        stats_add(&res->total, &tmp);
        if (s->nphases)
            stats_add(&res->phases[s->nphases - 1].st, &tmp);
        if (cfg->live && cfg->live_tty)
            fputc('\n', cfg->live);
        char buf[96];
        if (res->cpu_pct > 80) {
            snprintf(buf, sizeof(buf), "generator CPU %.0f%% > 80%%", res->cpu_pct);
            add_why(res, buf);
        }
        uint64_t lag99 = hdr_quantile(res->total.lag, 0.99);
        if (s->open && lag99 > 1000) {
            snprintf(buf, sizeof(buf), "send lag p99 %.2f ms > 1 ms", lag99 / 1000.0);
            add_why(res, buf);
        }
        if (s->open && (res->total.c.conn_full || res->unsent)) {
            snprintf(buf, sizeof(buf), "connections exhausted (%llu sends waited at %u "
                     "connections, %llu never sent; raise --max-connections)",
                     (unsigned long long)res->total.c.conn_full, res->conns_peak,
                     (unsigned long long)res->unsent);
            add_why(res, buf);
        }
    }
    for (uint32_t i = 0; i < cfg->threads; i++)
        if (ws[i].conns || ws[i].share.corr)
            worker_free(&ws[i]);
out:
    free(ws);
    stats_free(&tmp);
    return rc;
}

void run_result_free(struct run_result *res)
{
    for (uint32_t i = 0; res->phases && i < res->nphases; i++)
        stats_free(&res->phases[i].st);
    free(res->phases);
    free(res->secs);
    free(res->ok_by_intended);
    stats_free(&res->total);
    memset(res, 0, sizeof(*res));
}

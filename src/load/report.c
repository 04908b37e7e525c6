/* report.c — text, JSON and CSV output; see report.h. */
#include "load/report.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* The per-second fields of --json intervals and --csv rows, in order. */
static const struct {
    const char *json, *csv;
    size_t off;
} report_sec_fields[] = {
    {"sent", "sent", offsetof(struct run_sec, c.sent)},
    {"done", "done", offsetof(struct run_sec, c.done)},
    {"ok", "ok", offsetof(struct run_sec, c.ok)},
    {"status_4xx", "status_4xx", offsetof(struct run_sec, c.s4xx)},
    {"status_5xx", "status_5xx", offsetof(struct run_sec, c.s5xx)},
    {"errors", "errors", offsetof(struct run_sec, c.errors)},
    {"timeouts", "timeouts", offsetof(struct run_sec, c.timeouts)},
    {"late_sends", "late_sends", offsetof(struct run_sec, c.late)},
    {"conn_waits", "conn_waits", offsetof(struct run_sec, c.conn_waits)},
    {"p50", "p50_us", offsetof(struct run_sec, p50)},
    {"p90", "p90_us", offsetof(struct run_sec, p90)},
    {"p99", "p99_us", offsetof(struct run_sec, p99)},
    {"p99_9", "p99_9_us", offsetof(struct run_sec, p999)},
    {"max", "max_us", offsetof(struct run_sec, max)},
    {"uncorrected_p50", "uncorrected_p50_us", offsetof(struct run_sec, u_p50)},
    {"uncorrected_p99", "uncorrected_p99_us", offsetof(struct run_sec, u_p99)},
    {"send_lag_p99", "send_lag_p99_us", offsetof(struct run_sec, lag_p99)},
};
#define REPORT_NSEC_FIELDS (sizeof(report_sec_fields) / sizeof(report_sec_fields[0]))

static unsigned long long sec_field(const struct run_sec *s, size_t k)
{
    uint64_t v;
    memcpy(&v, (const char *)s + report_sec_fields[k].off, sizeof(v));
    return (unsigned long long)v;
}

static const double report_spectrum[] = {0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0};

double report_littles_l(const struct search *s)
{
    const struct search_step *k = search_knee(s);
    return k ? k->rate * k->mean_us / 1e6 : 0;
}

static double pct_fail(const struct stats_counts *c)
{
    return c->sent ? 100.0 * (double)(c->errors + c->timeouts + c->s5xx) / (double)c->sent : 0;
}

double report_metric(const struct report *r, const char *m)
{
    const struct hdr *h = r->total->corr;
    if (!strcmp(m, "p50"))
        return (double)hdr_quantile(h, 0.5);
    if (!strcmp(m, "p90"))
        return (double)hdr_quantile(h, 0.9);
    if (!strcmp(m, "p99"))
        return (double)hdr_quantile(h, 0.99);
    if (!strcmp(m, "p99.9"))
        return (double)hdr_quantile(h, 0.999);
    if (!strcmp(m, "max"))
        return (double)h->max_us;
    if (!strcmp(m, "mean"))
        return hdr_mean(h);
    if (!strcmp(m, "errors"))
        return pct_fail(&r->total->c);
    if (!strcmp(m, "rps"))
        return r->measured_s > 0 ? (double)r->total->c.done / r->measured_s : 0;
    return NAN;
}

static void fmt_us(char *b, size_t n, double us)
{
    if (us >= 1e6)
        snprintf(b, n, "%.3fs", us / 1e6);
    else if (us >= 1e3)
        snprintf(b, n, "%.3fms", us / 1e3);
    else
        snprintf(b, n, "%.0fus", us);
}

void report_settings(FILE *f, const struct search *s, const char *ind, double visitor_rps)
{
    const struct search_step *k = search_knee(s);
    if (!k)
        return;
    double l = report_littles_l(s);
    unsigned conc = (unsigned)ceil(l) ? (unsigned)ceil(l) : 1;
    /* the waiting room counts visitors: 90 % of the knee's rate at visitor_rps each; with the
     * default 5 min sessions a steady room admits max_active per 5 minutes */
    double active = floor(0.9 * k->rate / (visitor_rps > 0 ? visitor_rps : 1));
    if (active < 1)
        active = 1;
    double per_min = fmax(1, floor(active / 5));
    fprintf(f,
            "%s# weir settings that hold the service just under %.0f req/s (docs/config.md):\n"
            "%s# a bulkhead at Little's law L = %.0f req/s x %.2f ms mean = %.1f in flight\n"
            "%supstreams:\n%s  <name>:\n"
            "%s    concurrency: {max: %u, queue: %u, queue_timeout: %.0fms}\n"
            "%s# a waiting room for 90%% of it, if each admitted visitor sends %g req/s\n"
            "%s# (--visitor-rps); sessions of 5 min renew max_active every 5 minutes\n"
            "%sroutes:\n%s  - path: /\n"
            "%s    waiting_room: {name: <name>, max_active: %.0f, admit_per_minute: %.0f,\n"
            "%s                   session: 5m, secret: \"${file:/etc/weir/waitroom.key}\"}\n",
            ind, k->rate, ind, k->rate, k->mean_us / 1e3, l, ind, ind, ind, conc, conc * 2,
            fmax(1, k->p99_us / 1e3 * 2), ind, visitor_rps, ind, ind, ind, ind, active, per_min,
            ind);
}

void report_text(FILE *f, const struct report *r)
{
    const struct stats *t = r->total;
    const struct stats_counts *c = &t->c;
    char a[32], b[32];
    fprintf(f, "\nweir load %s — %s%s, %u threads, %u connections%s\n", r->url, r->mode,
            r->search ? " (open model steps; totals: the step at the saturation rate)" : " model",
            r->threads, r->connections, r->depth > 1 ? ", pipelined" : "");
    double secs = r->measured_s > 0 ? r->measured_s : 1;
    fprintf(f, "  requests  %llu sent, %llu answered in %.1f s measured: %.1f req/s (%.1f ok/s)\n",
            (unsigned long long)c->sent, (unsigned long long)c->done, r->measured_s,
            (double)c->done / secs, (double)c->ok / secs);
    fprintf(f, "  answers   %llu ok, %llu 4xx, %llu 5xx; %llu errors, %llu timeouts (%.2f%% failed)\n",
            (unsigned long long)c->ok, (unsigned long long)c->s4xx, (unsigned long long)c->s5xx,
            (unsigned long long)c->errors, (unsigned long long)c->timeouts, pct_fail(c));
    if (r->open) {
        fmt_us(a, sizeof(a), (double)hdr_quantile(t->lag, 0.99));
        fprintf(f, "  sends     %llu late (> 1 ms), %llu waited for a connection, %llu never sent; "
                "send lag p99 %s\n", (unsigned long long)c->late,
                (unsigned long long)c->conn_waits, (unsigned long long)r->unsent, a);
        if (r->conns_peak)
            fprintf(f, "  conns     %u at the end (%u asked, %llu added for waiting sends, %llu "
                    "waits at --max-connections); threads %s\n", r->conns_peak,
                    r->connections, (unsigned long long)c->conns_added,
                    (unsigned long long)c->conn_full,
                    r->rt_threads == r->threads ? "SCHED_FIFO"
                    : r->rt_threads ? "partly SCHED_FIFO" : "SCHED_OTHER (FIFO not allowed or off)");
    }
    fprintf(f, "  latency   %s\n", r->open ? "corrected (from the intended send time)   "
                                              "uncorrected (from the actual send)"
                                           : "(closed model: from the send)");
    for (size_t i = 0; i < sizeof(report_spectrum) / sizeof(report_spectrum[0]); i++) {
        double p = report_spectrum[i];
        fmt_us(a, sizeof(a), (double)hdr_quantile(t->corr, p));
        fmt_us(b, sizeof(b), (double)hdr_quantile(t->unc, p));
        char name[16];
        snprintf(name, sizeof(name), p >= 1 ? "max" : "p%g", p * 100);
        if (r->open)
            fprintf(f, "  %10s  %-12s                             %s\n", name, a, b);
        else
            fprintf(f, "  %10s  %s\n", name, a);
    }
    fmt_us(a, sizeof(a), hdr_mean(t->corr));
    fprintf(f, "  %10s  %s\n", "mean", a);
    fprintf(f, "  generator CPU %.0f%% of its threads\n", r->cpu_pct);
    if (r->search) {
        const struct search *s = r->search;
        fprintf(f, "\nsaturation search (steps x1.25, then bisection to 2%%)\n");
        fprintf(f, "  %9s %9s %10s %10s %10s %7s  %s\n", "rate/s", "goodput", "p50", "p99",
                "p99.9", "errors", "verdict");
        for (uint32_t i = 0; i < s->nsteps; i++) {
            const struct search_step *st = &s->steps[i];
            char p50[32], p99[32], p999[32];
            fmt_us(p50, sizeof(p50), st->p50_us);
            fmt_us(p99, sizeof(p99), st->p99_us);
            fmt_us(p999, sizeof(p999), st->p999_us);
            fprintf(f, "  %9.1f %9.1f %10s %10s %10s %6.2f%%  %s%s\n", st->rate, st->goodput,
                    p50, p99, p999, st->err_ratio * 100, st->failed ? st->failed : "pass",
                    st->rerun ? " (run again)" : "");
        }
        if (search_result(s) > 0) {
            fprintf(f, "  saturation: %.1f req/s (stopped by: %s)\n", search_result(s),
                    s->stop_reason ? s->stop_reason : "-");
            fprintf(f, "  concurrency at saturation (Little's law): %.1f\n\n",
                    report_littles_l(s));
            report_settings(f, s, "  ", r->visitor_rps);
        } else {
            fprintf(f, "  no passing step: even %.1f req/s failed (%s); lower --start-rate\n",
                    s->start_rate, s->stop_reason ? s->stop_reason : "-");
        }
    }
    for (uint32_t i = 0; i < r->nth; i++)
        fprintf(f, "%s threshold %s (measured %.3f)\n", r->th_pass[i] ? "PASS" : "FAIL",
                r->th[i].text, r->th_value[i]);
    if (r->invalid)
        fprintf(f, "INVALID RUN: the load generator was the limit: %s\n", r->why);
}

static void json_hist(FILE *f, const struct hdr *h)
{
    fprintf(f, "{\"count\": %llu, \"min\": %llu, \"mean\": %.1f, \"max\": %llu",
            (unsigned long long)h->count, (unsigned long long)(h->count ? h->min_us : 0),
            hdr_mean(h), (unsigned long long)h->max_us);
    static const char *const names[] = {"p50", "p75", "p90", "p99", "p99_9", "p99_99",
                                        "p99_999", "p100"};
    for (size_t i = 0; i < sizeof(report_spectrum) / sizeof(report_spectrum[0]); i++)
        fprintf(f, ", \"%s\": %llu", names[i],
                (unsigned long long)hdr_quantile(h, report_spectrum[i]));
    fputs(", \"buckets\": [", f);
    bool first = true;
    for (uint32_t i = 0; i < HDR_NBUCKETS; i++)
        if (h->counts[i]) {
            fprintf(f, "%s[%llu, %llu]", first ? "" : ", ",
                    (unsigned long long)hdr_bucket_upper(i), (unsigned long long)h->counts[i]);
            first = false;
        }
    fputs("]}", f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void report_json(FILE *f, const struct report *r)
{
    const struct stats_counts *c = &r->total->c;
    fprintf(f, "{\"schema\": \"%s\", \"url\": ", REPORT_SCHEMA);
    json_str(f, r->url);
    fprintf(f, ", \"mode\": \"%s\", \"threads\": %u, \"connections\": %u, \"pipeline\": %u, "
            "\"valid\": %s, \"invalid_reasons\": ", r->mode, r->threads, r->connections,
            r->depth, r->invalid ? "false" : "true");
    json_str(f, r->invalid ? r->why : "");
    double secs = r->measured_s > 0 ? r->measured_s : 1;
    fprintf(f, ",\n \"totals\": {\"sent\": %llu, \"done\": %llu, \"ok\": %llu, \"status_4xx\": %llu, "
            "\"status_5xx\": %llu, \"errors\": %llu, \"timeouts\": %llu, \"late_sends\": %llu, "
            "\"conn_waits\": %llu, \"conn_full\": %llu, \"conns_added\": %llu, "
            "\"connections_end\": %u, \"realtime_threads\": %u, "
            "\"unsent\": %llu, \"measured_s\": %.3f, \"rps\": %.2f, "
            "\"goodput\": %.2f, \"error_pct\": %.4f, \"generator_cpu_pct\": %.1f},\n",
            (unsigned long long)c->sent, (unsigned long long)c->done, (unsigned long long)c->ok,
            (unsigned long long)c->s4xx, (unsigned long long)c->s5xx,
            (unsigned long long)c->errors, (unsigned long long)c->timeouts,
            (unsigned long long)c->late, (unsigned long long)c->conn_waits,
            (unsigned long long)c->conn_full, (unsigned long long)c->conns_added,
            r->conns_peak, r->rt_threads, (unsigned long long)r->unsent, r->measured_s, (double)c->done / secs,
            (double)c->ok / secs, pct_fail(c), r->cpu_pct);
    fputs(" \"latency_us\": {\"corrected\": ", f);
    json_hist(f, r->total->corr);
    fputs(",\n  \"uncorrected\": ", f);
    json_hist(f, r->total->unc);
    fputs(",\n  \"send_lag\": ", f);
    json_hist(f, r->total->lag);
    fputs("},\n \"intervals\": [", f);
    for (uint32_t i = 0; i < r->nsec; i++) {
        const struct run_sec *s = &r->secs[i];
        fprintf(f, "%s\n  {\"t\": %.0f, \"offered\": %.1f", i ? "," : "", s->t, s->offered);
        for (size_t k = 0; k < REPORT_NSEC_FIELDS; k++)
            fprintf(f, ", \"%s\": %llu", report_sec_fields[k].json, sec_field(s, k));
        fprintf(f, ", \"warmup\": %s}", s->warmup ? "true" : "false");
    }
    fputs("],\n \"search\": ", f);
    if (r->search) {
        const struct search *s = r->search;
        fprintf(f, "{\"saturation_rps\": %.2f, \"stopped_by\": ", search_result(s));
        json_str(f, s->stop_reason ? s->stop_reason : "");
        fprintf(f, ", \"littles_concurrency\": %.2f, \"steps\": [", report_littles_l(s));
        for (uint32_t i = 0; i < s->nsteps; i++) {
            const struct search_step *st = &s->steps[i];
            fprintf(f, "%s{\"rate\": %.2f, \"goodput\": %.2f, \"p50\": %.0f, \"p99\": %.0f, "
                    "\"p99_9\": %.0f, \"mean\": %.0f, \"error_pct\": %.4f, \"pass\": %s, "
                    "\"rerun\": %s, \"failed\": ", i ? ", " : "", st->rate, st->goodput,
                    st->p50_us, st->p99_us, st->p999_us, st->mean_us, st->err_ratio * 100,
                    st->failed ? "false" : "true", st->rerun ? "true" : "false");
            json_str(f, st->failed ? st->failed : "");
            fputc('}', f);
        }
        fputs("]}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\n \"thresholds\": [", f);
    for (uint32_t i = 0; i < r->nth; i++) {
        fprintf(f, "%s{\"expr\": ", i ? ", " : "");
        json_str(f, r->th[i].text);
        fprintf(f, ", \"value\": %.3f, \"pass\": %s}", r->th_value[i],
                r->th_pass[i] ? "true" : "false");
    }
    fputs("]}\n", f);
}

void report_csv(FILE *f, const struct report *r)
{
    fputs("t_s,offered_rps", f);
    for (size_t k = 0; k < REPORT_NSEC_FIELDS; k++)
        fprintf(f, ",%s", report_sec_fields[k].csv);
    fputs(",warmup\n", f);
    for (uint32_t i = 0; i < r->nsec; i++) {
        const struct run_sec *s = &r->secs[i];
        fprintf(f, "%.0f,%.1f", s->t, s->offered);
        for (size_t k = 0; k < REPORT_NSEC_FIELDS; k++)
            fprintf(f, ",%llu", sec_field(s, k));
        fprintf(f, ",%d\n", s->warmup);
    }
}

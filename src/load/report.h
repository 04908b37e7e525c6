/* report.h — what a load run prints: the text report, --json (schema "weir-load/1"), --csv (one
 * row per second) and the data --html draws. Pure formatting of finished results. */
#ifndef WEIR_LOAD_REPORT_H
#define WEIR_LOAD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "load/run.h"
#include "load/search.h"
#include "load/thresh.h"

#define REPORT_SCHEMA "weir-load/1"

struct report {
    const char *url, *mode;          /* mode: closed, open, ramp, steps, search */
    uint32_t threads, connections, depth;
    const struct run_sec *secs;
    uint32_t nsec;
    const struct stats *total;       /* measured totals (the knee step for a search) */
    double measured_s;
    bool open;
    double cpu_pct;
    uint64_t unsent;
    uint32_t conns_peak;             /* connections at the end (open model: -c plus added) */
    uint32_t rt_threads;             /* threads that ran SCHED_FIFO */
    bool invalid;
    const char *why;
    const struct search *search;     /* NULL unless --find-saturation */
    double visitor_rps;              /* requests/s of one admitted visitor (waiting-room sizing) */
    const struct thresh *th;
    const double *th_value;
    const bool *th_pass;
    uint32_t nth;
};

/* Little's law at the knee: saturation rate × mean corrected latency. */
double report_littles_l(const struct search *s);
/* A measured value for a threshold metric. */
double report_metric(const struct report *r, const char *metric);

void report_text(FILE *f, const struct report *r);
void report_json(FILE *f, const struct report *r);
void report_csv(FILE *f, const struct report *r);
/* The weir settings that hold the service just under the saturation rate (YAML, commented):
 * a concurrency limit at Little's L, and a waiting room sized for visitors sending visitor_rps
 * requests/s each. */
void report_settings(FILE *f, const struct search *s, const char *indent, double visitor_rps);

#endif

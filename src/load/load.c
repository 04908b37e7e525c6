/* load.c — `weir load` command line: options, the runs they ask for, the outputs, the exit
 * code. The measuring is in run.c/worker.c/conn.c, the search logic in search.c. */
#include "load/load.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "load/html.h"
#include "load/report.h"
#include "load/reqs.h"
#include "load/run.h"
#include "load/search.h"
#include "load/thresh.h"
#include "load/transport.h"
#include "load/worker.h"

#define LOAD_MAX_THRESH 16

static volatile int load_stop;

static void load_on_signal(int sig)
{
    (void)sig;
    load_stop = 1;
}

static void load_usage(FILE *f)
{
    fputs("usage: weir load URL [options]\n"
          "  -c, --connections N   connections (default 10 closed, 100 open)\n"
          "  --max-connections N   open model: add connections up to N when sends would wait\n"
          "                        for one (default 10000)\n"
          "  --no-realtime         open model: do not ask for SCHED_FIFO for the threads\n"
          "  -d, --duration D      run time (default 10s; D like 500ms, 30s, 2m)\n"
          "  -t, --threads N       threads (default: cores)\n"
          "  --rate R | R0:R1      open model at R req/s, or a ramp from R0 to R1\n"
          "  --steps R1,R2,...     open model steps of --step-duration each\n"
          "  --step-duration D     (default 10s; 4s in a search)   --warmup D (default 1s)\n"
          "  --find-saturation     search the highest rate the service sustains\n"
          "  --start-rate R --max-rate R --slo-p99 D   search bounds and latency objective\n"
          "  --visitor-rps R       one waiting-room visitor's requests/s, for the settings (1)\n"
          "  --confirm N           reruns of a failing search step before it counts (1)\n"
          "  --pipeline N          requests in flight per connection (default 1)\n"
          "  -m, --method M  -H 'Name: value'  --body FILE  --requests FILE (weighted list)\n"
          "  --timeout D           an answer slower than this is a timeout (default 10s)\n"
          "  --ca FILE             https: verify the server against this PEM bundle\n"
          "  -k, --insecure        https: do not verify the server's certificate\n"
          "  --json FILE|-  --csv FILE|-  --html FILE   machine-readable and visual reports\n"
          "  --threshold EXPR      e.g. 'p99<50ms', 'errors<1%', 'rps>1000'; failing: exit 2\n"
          "  -q, --quiet           no per-second lines\n"
          "exit: 0 ok, 1 usage or set-up error, 2 a threshold failed, 3 invalid run (the\n"
          "generator was the limit: CPU > 80%, send lag p99 > 1 ms, connections exhausted)\n",
          f);
}

long long load_parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double mul = 1e6;
    if (!*end || !strcmp(end, "s"))
        mul = 1e6;
    else if (!strcmp(end, "ms"))
        mul = 1e3;
    else if (!strcmp(end, "us"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60e6;
    else if (!strcmp(end, "h"))
        mul = 3600e6;
    else
        return -1;
    return (long long)(v * mul);
}

struct load_opts {
    struct reqs_spec spec;
    long threads, connections, depth, confirm, max_connections;
    long long duration_us, step_us, warmup_us, timeout_us, slo_us;
    double rate0, rate1, start_rate, max_rate, visitor_rps;
    double steps[SCHED_MAX_PHASES];
    unsigned nsteps;
    bool search, quiet, step_us_set, insecure, no_realtime;
    const char *json, *csv, *html, *ca;
    struct thresh th[LOAD_MAX_THRESH];
    unsigned nth;
};

static int bad(const char *opt, const char *why)
{
    fprintf(stderr, "weir load: %s: %s\n", opt, why);
    return -1;
}

static int parse_opts(int argc, char **argv, struct load_opts *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct load_opts){.threads = cores > 0 ? cores : 1, .depth = 1,
                            .duration_us = 10000000, .step_us = 10000000, .warmup_us = 1000000,
                            .timeout_us = 10000000, .start_rate = 50, .visitor_rps = 1,
                            .confirm = 1, .max_connections = 10000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            load_usage(stdout);
            exit(0);
        }
        if (a[0] != '-') {
            if (o->spec.url)
                return bad(a, "only one URL (use --requests for several)");
            o->spec.url = a;
            continue;
        }
        if (!strcmp(a, "--find-saturation")) {
            o->search = true;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!strcmp(a, "-k") || !strcmp(a, "--insecure")) {
            o->insecure = true;
            continue;
        }
        if (!strcmp(a, "--no-realtime")) {
            o->no_realtime = true;
            continue;
        }
        /* wrk style: -c50 -t2 -d10s */
        char shortopt[3] = {0};
        const char *v;
        if (a[1] != '-' && a[1] && a[2]) {
            shortopt[0] = '-', shortopt[1] = a[1];
            v = a + 2;
            a = shortopt;
        } else {
            if (i + 1 >= argc)
                return bad(a, "needs a value");
            v = argv[++i];
        }
        char *end = NULL;
        long long d = 0;
        if (!strcmp(a, "-c") || !strcmp(a, "--connections") || !strcmp(a, "-t") ||
            !strcmp(a, "--threads") || !strcmp(a, "--pipeline")) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > (!strcmp(a, "--pipeline") ? WORKER_MAX_DEPTH : 100000))
                return bad(a, "expected a positive number in range");
            if (a[1] == 'c' || a[2] == 'c')
                o->connections = n;
            else if (a[1] == 't' || a[2] == 't')
                o->threads = n;
            else
                o->depth = n;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--duration") ||
                   !strcmp(a, "--step-duration") || !strcmp(a, "--warmup") ||
                   !strcmp(a, "--timeout") || !strcmp(a, "--slo-p99")) {
            if ((d = load_parse_duration(v)) < 0)
                return bad(a, "expected a duration like 500ms, 30s, 2m");
            if (a[1] == 'd' || !strcmp(a, "--duration"))
                o->duration_us = d;
            else if (!strcmp(a, "--step-duration"))
                o->step_us = d, o->step_us_set = true;
            else if (!strcmp(a, "--warmup"))
                o->warmup_us = d;
            else if (!strcmp(a, "--timeout"))
                o->timeout_us = d;
            else
                o->slo_us = d;
        } else if (!strcmp(a, "--max-connections")) {
            o->max_connections = strtol(v, &end, 10);
            if (*end || o->max_connections < 1 || o->max_connections > 1000000)
                return bad(a, "expected 1..1000000 connections");
        } else if (!strcmp(a, "--confirm")) {
            o->confirm = strtol(v, &end, 10);
            if (*end || o->confirm < 0 || o->confirm > 5)
                return bad(a, "expected 0..5 reruns of a failing step");
        } else if (!strcmp(a, "--rate")) {
            o->rate0 = o->rate1 = strtod(v, &end);
            if (*end == ':')
                o->rate1 = strtod(end + 1, &end);
            if (*end || o->rate0 <= 0 || o->rate1 <= 0)
                return bad(a, "expected R or R0:R1 (requests/s)");
        } else if (!strcmp(a, "--steps")) {
            for (const char *p = v; *p;) {
                if (o->nsteps == SCHED_MAX_PHASES)
                    return bad(a, "too many steps");
                double r = strtod(p, &end);
                if (end == p || r <= 0 || (*end && *end != ','))
                    return bad(a, "expected R1,R2,... (requests/s)");
                o->steps[o->nsteps++] = r;
                p = *end ? end + 1 : end;
            }
        } else if (!strcmp(a, "--start-rate") || !strcmp(a, "--max-rate") ||
                   !strcmp(a, "--visitor-rps")) {
            double r = strtod(v, &end);
            if (*end || r <= 0)
                return bad(a, "expected requests/s");
            *(a[2] == 's' ? &o->start_rate : a[2] == 'm' ? &o->max_rate : &o->visitor_rps) = r;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--method")) {
            o->spec.method = v;
        } else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
            if (o->spec.nheaders == REQS_MAX_HEADERS)
                return bad(a, "too many headers");
            const char *colon = strchr(v, ':');
            if (!colon || colon == v || strpbrk(v, "\r\n"))
                return bad(a, "expected 'Name: value'");
            o->spec.headers[o->spec.nheaders++] = v;
        } else if (!strcmp(a, "--body")) {
            o->spec.body_file = v;
        } else if (!strcmp(a, "--requests")) {
            o->spec.list_file = v;
        } else if (!strcmp(a, "--ca")) {
            o->ca = v;
        } else if (!strcmp(a, "--json")) {
            o->json = v;
        } else if (!strcmp(a, "--csv")) {
            o->csv = v;
        } else if (!strcmp(a, "--html")) {
            o->html = v;
        } else if (!strcmp(a, "--threshold")) {
            char err[256];
            if (o->nth == LOAD_MAX_THRESH)
                return bad(a, "too many thresholds");
            if (thresh_parse(&o->th[o->nth++], v, err, sizeof(err)) == -1)
                return bad(a, err);
        } else {
            load_usage(stderr);
            return bad(a, "unknown option");
        }
    }
    if (!o->spec.url && !o->spec.list_file)
        return bad("weir load", "a URL (or --requests FILE) is required");
    int models = (o->rate0 > 0) + (o->nsteps > 0) + o->search;
    if (models > 1)
        return bad("weir load", "--rate, --steps and --find-saturation exclude each other");
    if (!o->connections)
        o->connections = models ? 100 : 10;
    if (o->threads > o->connections)
        o->threads = o->connections;
    if (o->max_connections < o->connections)
        o->max_connections = o->connections;
    if (o->search && !o->step_us_set)
        o->step_us = 4000000;
    if (o->warmup_us >= o->step_us && (o->nsteps || o->search))
        return bad("--warmup", "must be shorter than --step-duration");
    if (o->duration_us < 1000000 && !o->nsteps && !o->search)
        return bad("--duration", "at least 1s");
    return 0;
}

static FILE *open_out(const char *path)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "weir load: %s: cannot write\n", path);
    return f;
}

static void close_out(FILE *f)
{
    if (f && f != stdout)
        fclose(f);
}

/* One search step's summary from its run. */
static void step_of(const struct run_result *res, double rate, struct search_step *st)
{
    const struct run_phase *p = &res->phases[0];
    const struct stats_counts *c = &p->st.c;
    double secs = p->seconds > 0 ? p->seconds : 1;
    /* goodput: the ok answers to the requests intended in the measured seconds, whenever they
     * came (within the grace time): neither a backlog from the warm-up draining into the
     * measured part nor answers arriving after the step inflate it */
    uint64_t ok = 0;
    for (uint32_t i = 0; i < res->nsec && i < res->nintended && res->ok_by_intended; i++)
        if (!res->secs[i].warmup)
            ok += res->ok_by_intended[i];
    *st = (struct search_step){
        .rate = rate, .goodput = (double)ok / secs,
        .p50_us = (double)hdr_quantile(p->st.corr, 0.5),
        .p99_us = (double)hdr_quantile(p->st.corr, 0.99),
        .p999_us = (double)hdr_quantile(p->st.corr, 0.999), .mean_us = hdr_mean(p->st.corr),
        .err_ratio = c->sent ? (double)(c->errors + c->timeouts + c->s5xx) / (double)c->sent : 0,
        .conn_waits = res->total.c.conn_full + res->unsent};
    for (uint32_t i = 0; i < res->nsec && st->nsec < SEARCH_MAX_SECONDS; i++)
        if (!res->secs[i].warmup && res->secs[i].c.done)
            st->sec_p50_us[st->nsec++] = (double)res->secs[i].p50;
}

int load_main(int argc, char **argv)
{
    struct load_opts o;
    if (parse_opts(argc, argv, &o) == -1)
        return 1;
    struct reqs reqs;
    char err[512];
    if (reqs_build(&reqs, &o.spec, err, sizeof(err)) == -1) {
        fprintf(stderr, "weir load: %s\n", err);
        return 1;
    }
    const struct transport_ops *tp = transport_find(reqs.tls);
    struct transport_opts to = {.host = reqs.host, .ca = o.ca, .insecure = o.insecure};
    void *tp_ctx = tp ? tp->ctx_new(&to, err, sizeof(err)) : NULL;
    if (!tp_ctx) {
        fprintf(stderr, "weir load: %s\n", tp ? err : "no transport for this scheme");
        reqs_free(&reqs);
        return 1;
    }
    /* added connections need descriptors: the soft limit goes up to the hard one */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)o.max_connections + 64 > rl.rlim_cur)
        o.max_connections = rl.rlim_cur > (rlim_t)o.connections + 64
                                ? (long)(rl.rlim_cur - 64) : o.connections;
    signal(SIGINT, load_on_signal);
    signal(SIGTERM, load_on_signal);
    signal(SIGPIPE, SIG_IGN);
    struct run_cfg rc = {.reqs = &reqs, .tp = tp, .tp_ctx = tp_ctx,
                         .threads = (uint32_t)o.threads,
                         .connections = (uint32_t)o.connections, .depth = (uint32_t)o.depth,
                         .max_connections = (uint32_t)o.max_connections,
                         .realtime = !o.no_realtime,
                         .timeout_us = (uint64_t)o.timeout_us,
                         .live = o.quiet ? NULL : stderr, .live_tty = isatty(2)};
    struct report rep = {.url = o.spec.url ? o.spec.url : o.spec.list_file,
                         .threads = rc.threads, .connections = rc.connections,
                         .depth = rc.depth, .th = o.th, .nth = o.nth,
                         .visitor_rps = o.visitor_rps};
    struct run_result res = {0};
    struct search *srch = NULL;
    struct stats knee = {0};
    struct run_sec *all = NULL;
    uint32_t nall = 0;
    char why[256]; /* a search's invalid verdict */
    int code = 1;
    if (!o.search) {
        struct sched s = {0};
        if (o.nsteps) {
            rep.mode = "steps";
            for (unsigned i = 0; i < o.nsteps; i++)
                sched_add_phase(&s, o.steps[i], o.steps[i], (uint64_t)o.step_us,
                                (uint64_t)o.warmup_us);
        } else if (o.rate0 > 0) {
            rep.mode = o.rate0 == o.rate1 ? "open" : "ramp";
            sched_add_phase(&s, o.rate0, o.rate1, (uint64_t)o.duration_us, 0);
        } else {
            rep.mode = "closed";
            sched_closed(&s, (uint64_t)o.duration_us);
        }
        if (run_execute(&rc, &s, &res, &load_stop) == -1)
            goto out;
        rep.secs = res.secs, rep.nsec = res.nsec, rep.total = &res.total;
        rep.measured_s = res.measured_s, rep.open = res.open, rep.cpu_pct = res.cpu_pct;
        rep.unsent = res.unsent, rep.invalid = res.invalid, rep.why = res.why;
        rep.conns_peak = res.conns_peak, rep.rt_threads = res.rt_threads;
    } else {
        rep.mode = "search";
        srch = calloc(1, sizeof(*srch));
        if (!srch || stats_init(&knee) == -1)
            goto out;
        search_init(srch, o.start_rate, o.max_rate, (double)o.slo_us, (uint32_t)o.confirm);
        double t = 0, cpu = 0, cpu_n = 0;
        while (!search_done(srch) && !load_stop) {
            double rate = search_rate(srch);
            struct sched s = {0};
            sched_add_phase(&s, rate, rate, (uint64_t)o.step_us, (uint64_t)o.warmup_us);
            rc.t_offset = t;
            if (!o.quiet)
                fprintf(stderr, "step: %.1f req/s for %.1f s\n", rate, o.step_us / 1e6);
            if (run_execute(&rc, &s, &res, &load_stop) == -1)
                goto out;
            struct search_step st;
            step_of(&res, rate, &st);
            search_feed(srch, &st);
            const struct search_step *rec = &srch->steps[srch->nsteps - 1];
            if (!rec->failed && rate >= search_result(srch)) {
                stats_reset(&knee);
                stats_add(&knee, &res.phases[0].st);
                rep.measured_s = res.phases[0].seconds;
                uint64_t lag99 = hdr_quantile(res.total.lag, 0.99);
                if (res.cpu_pct > 80 || lag99 > 1000) {
                    snprintf(why, sizeof(why), "at %.0f req/s: generator CPU %.0f%%, send lag "
                             "p99 %.2f ms (limits 80%%, 1 ms)", rate, res.cpu_pct, lag99 / 1e3);
                    rep.invalid = true, rep.why = why;
                } else if (rep.invalid && rate >= search_result(srch)) {
                    rep.invalid = false;
                }
            }
            cpu += res.cpu_pct, cpu_n++;
            struct run_sec *a = realloc(all, (nall + res.nsec) * sizeof(*a));
            if (!a)
                goto out;
            all = a;
            memcpy(all + nall, res.secs, res.nsec * sizeof(*a));
            nall += res.nsec;
            t += (double)res.nsec;
            run_result_free(&res);
        }
        rep.secs = all, rep.nsec = nall, rep.total = &knee, rep.open = true;
        rep.cpu_pct = cpu_n ? cpu / cpu_n : 0, rep.search = srch;
    }
    double vals[LOAD_MAX_THRESH];
    bool pass[LOAD_MAX_THRESH];
    bool all_pass = true;
    for (unsigned i = 0; i < o.nth; i++) {
        vals[i] = report_metric(&rep, o.th[i].metric);
        pass[i] = thresh_ok(&o.th[i], vals[i]);
        all_pass &= pass[i];
    }
    rep.th_value = vals, rep.th_pass = pass;
    bool json_stdout = o.json && !strcmp(o.json, "-");
    bool csv_stdout = o.csv && !strcmp(o.csv, "-");
    report_text(json_stdout || csv_stdout ? stderr : stdout, &rep);
    FILE *f;
    if (o.json && (f = open_out(o.json))) {
        report_json(f, &rep);
        close_out(f);
    }
    if (o.csv && (f = open_out(o.csv))) {
        report_csv(f, &rep);
        close_out(f);
    }
    if (o.html && (f = open_out(o.html))) {
        html_write(f, &rep);
        close_out(f);
    }
    code = !all_pass ? 2 : rep.invalid ? 3 : 0;
out:
    run_result_free(&res);
    stats_free(&knee);
    free(srch);
    free(all);
    tp->ctx_free(tp_ctx);
    reqs_free(&reqs);
    return code;
}

/* html.c — the self-contained HTML report; see html.h. */
#include "load/html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HTML_W 760
#define HTML_H 300
#define HTML_L 70 /* plot area margins */
#define HTML_R 20
#define HTML_T 30
#define HTML_B 40

struct html_series {
    const char *name, *color;
    const double *x, *y;
    unsigned n;
    bool dashed;
};

static void html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* A line plot; logx: x is drawn on a log10 scale. knee_x: a marked vertical line (NAN: none). */
static void html_plot(FILE *f, const char *id, const char *title, const char *xlabel,
                      const char *ylabel, const struct html_series *s, unsigned ns, bool logx,
                      double knee_x)
{
    double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
    for (unsigned i = 0; i < ns; i++)
        for (unsigned j = 0; j < s[i].n; j++) {
            double x = logx ? log10(s[i].x[j]) : s[i].x[j];
            x0 = fmin(x0, x), x1 = fmax(x1, x), y1 = fmax(y1, s[i].y[j]);
        }
    if (!(x1 > x0))
        x0 = isfinite(x0) ? x0 - 1 : 0, x1 = x0 + 2;
    if (y1 <= 0)
        y1 = 1;
    y1 *= 1.08;
    double pw = HTML_W - HTML_L - HTML_R, ph = HTML_H - HTML_T - HTML_B;
#define PX(x) (HTML_L + ((logx ? log10(x) : (x)) - x0) / (x1 - x0) * pw)
#define PY(y) (HTML_T + ph - (y) / y1 * ph)
    fprintf(f, "<figure><svg id=\"%s\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n<title>", id,
            HTML_W, HTML_H, HTML_W, HTML_H);
    html_esc(f, title);
    fprintf(f, "</title>\n<text x=\"%d\" y=\"18\" class=\"t\">", HTML_L);
    html_esc(f, title);
    fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"area\"/>\n",
            HTML_L, HTML_T, pw, ph);
    for (int k = 0; k <= 4; k++) { /* y grid */
        double y = y1 * k / 4;
        fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%.3g</text>\n",
                HTML_L, HTML_L + pw, PY(y), PY(y), HTML_L - 6, PY(y) + 4, y);
    }
    int nticks = logx ? (int)floor(x1) - (int)ceil(x0) : 4; /* log: one tick a decade */
    for (int k = 0; k <= nticks; k++) { /* x ticks */
        double xv = logx ? ceil(x0) + k : x0 + (x1 - x0) * k / 4;
        double shown = logx ? pow(10, xv) : xv;
        double px = HTML_L + (xv - x0) / (x1 - x0) * pw;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" class=\"ax\" text-anchor=\"middle\">%.4g</text>\n",
                px, HTML_T + ph + 16, shown);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" class=\"ax\" text-anchor=\"middle\">", HTML_L + pw / 2,
            HTML_H - 4);
    html_esc(f, xlabel);
    fprintf(f, "</text><text x=\"12\" y=\"%.0f\" class=\"ax\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 12 %.0f)\">", HTML_T + ph / 2, HTML_T + ph / 2);
    html_esc(f, ylabel);
    fputs("</text>\n", f);
    for (unsigned i = 0; i < ns; i++) {
        fprintf(f, "<polyline class=\"series\" data-name=\"%s\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"2\"%s points=\"", s[i].name, s[i].color,
                s[i].dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (unsigned j = 0; j < s[i].n; j++)
            fprintf(f, "%s%.1f,%.1f", j ? " " : "", PX(s[i].x[j]), PY(s[i].y[j]));
        fputs("\"/>\n", f);
        fprintf(f, "<text x=\"%.0f\" y=\"%d\" fill=\"%s\" class=\"ax\">", HTML_L + 10 + 150.0 * i,
                HTML_T + 14, s[i].color);
        html_esc(f, s[i].name);
        fputs("</text>\n", f);
    }
    if (isfinite(knee_x)) {
        fprintf(f, "<line class=\"knee\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.0f\" "
                "stroke=\"#c00\" stroke-dasharray=\"3 3\"/><text x=\"%.1f\" y=\"%d\" "
                "class=\"ax\" fill=\"#c00\">knee %.4g</text>\n", PX(knee_x), PX(knee_x), HTML_T,
                HTML_T + ph, PX(knee_x) + 4, HTML_T + 28, knee_x);
    }
#undef PX
#undef PY
    fputs("</svg></figure>\n", f);
}

static void html_spectrum(const struct hdr *h, double *x, double *y, unsigned *n)
{
    /* 1/(1-p) from 2 (p50) to 10^6 (p99.9999), 8 points a decade */
    *n = 0;
    if (h->count == 0)
        return;
    for (double e = log10(2); e <= 6.0001; e += 0.125) {
        double inv = pow(10, e), p = 1 - 1 / inv;
        x[*n] = inv;
        y[(*n)++] = (double)hdr_quantile(h, p) / 1e3;
        if (1 / inv < 1.0 / (double)h->count)
            break;
    }
}

void html_write(FILE *f, const struct report *r)
{
    unsigned n = r->nsec;
    double *buf = calloc(6 * (size_t)(n ? n : 1) + 256, sizeof(double));
    if (!buf)
        return;
    double *t = buf, *done = t + n, *offered = done + n, *p50 = offered + n, *p99 = p50 + n,
           *up99 = p99 + n;
    for (unsigned i = 0; i < n; i++) {
        t[i] = r->secs[i].t;
        done[i] = (double)r->secs[i].c.done;
        offered[i] = r->secs[i].offered;
        p50[i] = (double)r->secs[i].p50 / 1e3;
        p99[i] = (double)r->secs[i].p99 / 1e3;
        up99[i] = (double)r->secs[i].u_p99 / 1e3;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>weir load report</title>\n<style>body{font:14px system-ui,sans-serif;"
          "margin:24px;color:#222}h1{font-size:20px}pre{background:#f6f6f6;padding:10px;"
          "overflow:auto}.t{font-weight:600}.ax{font-size:11px;fill:#444}.area{fill:#fafafa;"
          "stroke:#ccc}.grid{stroke:#e4e4e4}.invalid{color:#b00;font-weight:700}"
          "figure{margin:12px 0}</style></head><body>\n<h1>weir load: ", f);
    html_esc(f, r->url);
    fprintf(f, "</h1>\n<p>%s%s, %u threads, %u connections</p>\n", r->mode,
            r->search ? " (saturation search)" : " model", r->threads,
            r->connections);
    if (r->invalid) {
        fputs("<p class=\"invalid\" id=\"invalid\">Invalid run: the load generator was the "
              "limit: ", f);
        html_esc(f, r->why);
        fputs("</p>\n", f);
    }
    const struct html_series thr[] = {
        {.name = "answers/s", .color = "#1f6feb", .x = t, .y = done, .n = n},
        {.name = "offered/s", .color = "#888", .x = t, .y = offered, .n = r->open ? n : 0,
         .dashed = true}};
    html_plot(f, "throughput", "Throughput over time", "seconds", "requests/s", thr, 2, false,
              NAN);
    const struct html_series lat[] = {
        {.name = "p50", .color = "#2da44e", .x = t, .y = p50, .n = n},
        {.name = "p99", .color = "#cf222e", .x = t, .y = p99, .n = n},
        {.name = "p99 uncorrected", .color = "#999", .x = t, .y = up99, .n = r->open ? n : 0,
         .dashed = true}};
    html_plot(f, "latency", "Latency over time (corrected)", "seconds", "ms", lat, 3, false, NAN);
    double sx[64], sy[64], ux[64], uy[64];
    unsigned sn, un;
    html_spectrum(r->total->corr, sx, sy, &sn);
    html_spectrum(r->total->unc, ux, uy, &un);
    const struct html_series dist[] = {
        {.name = "corrected", .color = "#cf222e", .x = sx, .y = sy, .n = sn},
        {.name = "uncorrected", .color = "#999", .x = ux, .y = uy, .n = r->open ? un : 0,
         .dashed = true}};
    html_plot(f, "distribution", "Latency distribution (percentile spectrum)",
              "1/(1-p): 10 = p90, 100 = p99, 1000 = p99.9", "ms", dist, 2, true, NAN);
    if (r->search && r->search->nsteps) {
        const struct search *s = r->search;
        double rx[SEARCH_MAX_STEPS], r50[SEARCH_MAX_STEPS], r99[SEARCH_MAX_STEPS];
        unsigned m = 0;
        /* sorted by rate for the curve */
        for (uint32_t i = 0; i < s->nsteps; i++) {
            unsigned j = m++;
            while (j > 0 && rx[j - 1] > s->steps[i].rate) {
                rx[j] = rx[j - 1], r50[j] = r50[j - 1], r99[j] = r99[j - 1];
                j--;
            }
            rx[j] = s->steps[i].rate;
            r50[j] = s->steps[i].p50_us / 1e3;
            r99[j] = s->steps[i].p99_us / 1e3;
        }
        const struct html_series cur[] = {
            {.name = "p50", .color = "#2da44e", .x = rx, .y = r50, .n = m},
            {.name = "p99", .color = "#cf222e", .x = rx, .y = r99, .n = m}};
        html_plot(f, "search", "Offered rate vs latency (saturation search)", "requests/s",
                  "ms", cur, 2, false, search_result(s) > 0 ? search_result(s) : NAN);
    }
    fputs("<h2>Report</h2>\n<pre id=\"report\">", f);
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    if (mem) {
        report_text(mem, r);
        fclose(mem);
        html_esc(f, text);
        free(text);
    }
    fputs("</pre>\n</body></html>\n", f);
    free(buf);
}

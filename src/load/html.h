/* html.h — --html FILE: one self-contained page (inline CSS and SVG, no script, no external
 * resource) with the run's plots: throughput and p50/p99 over time, the latency distribution
 * (corrected and uncorrected percentile spectra) and, for a search, rate vs latency with the
 * knee marked. Opens offline in any browser. */
#ifndef WEIR_LOAD_HTML_H
#define WEIR_LOAD_HTML_H

#include <stdio.h>

#include "load/report.h"

void html_write(FILE *f, const struct report *r);

#endif

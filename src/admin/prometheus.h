/* prometheus.h — GET /metrics: the model in Prometheus text exposition format 0.0.4.
 *
 * Every family has # HELP and # TYPE before its samples and its samples together; counters
 * end in _total; times are in seconds (histograms' µs converted), sizes in bytes; label
 * values are escaped (\\, \", \n). docs/operations.md lists every metric. Admin thread only. */
#ifndef WEIR_ADMIN_PROMETHEUS_H
#define WEIR_ADMIN_PROMETHEUS_H

#include "admin/abuf.h"
#include "admin/collect.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the exposition of m (collected with COLLECT_HIST) to out. */
void prometheus_render(const struct model *m, struct abuf *out);

#endif

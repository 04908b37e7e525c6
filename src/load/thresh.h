/* thresh.h — pass/fail thresholds for CI (--threshold 'p99<50ms', 'errors<1%', 'rps>1000').
 *
 * A threshold is METRIC OP VALUE: metrics p50 p90 p99 p99.9 max mean (corrected latency; a
 * duration with us/ms/s), errors (percent of sent: errors + timeouts + 5xx), rps (answers per
 * second); OP is <, <=, > or >=. Pure. */
#ifndef WEIR_LOAD_THRESH_H
#define WEIR_LOAD_THRESH_H

#include <stdbool.h>
#include <stddef.h>

struct thresh {
    char text[64];
    char metric[8];
    char op[3];
    double value; /* µs for latencies, percent for errors, req/s for rps */
};

/* 0, or -1 with a message in err. */
int thresh_parse(struct thresh *t, const char *s, char *err, size_t errlen);
/* Whether the measured value satisfies the threshold. */
bool thresh_ok(const struct thresh *t, double measured);

#endif

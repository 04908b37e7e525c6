/* thresh.c — threshold expressions; see thresh.h. */
#include "load/thresh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const thresh_metrics[] = {"p50", "p90", "p99", "p99.9", "max",
                                             "mean", "errors", "rps"};

int thresh_parse(struct thresh *t, const char *s, char *err, size_t errlen)
{
    *t = (struct thresh){0};
    snprintf(t->text, sizeof(t->text), "%s", s);
    size_t m = strcspn(s, "<>");
    if (!s[m] || m == 0 || m >= sizeof(t->metric))
        goto bad;
    memcpy(t->metric, s, m);
    bool known = false;
    for (size_t i = 0; i < sizeof(thresh_metrics) / sizeof(thresh_metrics[0]); i++)
        known |= strcmp(t->metric, thresh_metrics[i]) == 0;
    if (!known)
        goto bad;
    const char *p = s + m;
    t->op[0] = *p++;
    if (*p == '=')
        t->op[1] = *p++;
    char *end;
    t->value = strtod(p, &end);
    if (end == p)
        goto bad;
    bool latency = t->metric[0] == 'p' || !strcmp(t->metric, "max") || !strcmp(t->metric, "mean");
    if (latency) {
        if (!strcmp(end, "us"))
            ;
        else if (!strcmp(end, "ms"))
            t->value *= 1e3;
        else if (!strcmp(end, "s"))
            t->value *= 1e6;
        else
            goto bad;
    } else if (!strcmp(t->metric, "errors")) {
        if (strcmp(end, "%"))
            goto bad;
    } else if (*end) {
        goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "--threshold '%s': expected METRIC<VALUE, e.g. p99<50ms, errors<1%%, "
             "rps>1000 (metrics: p50 p90 p99 p99.9 max mean errors rps)", s);
    return -1;
}

bool thresh_ok(const struct thresh *t, double v)
{
    if (t->op[0] == '<')
        return t->op[1] ? v <= t->value : v < t->value;
    return t->op[1] ? v >= t->value : v > t->value;
}

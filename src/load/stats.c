/* stats.c — per-worker counters and histograms; see stats.h. */
#include "load/stats.h"

#include <stdlib.h>
#include <string.h>

int stats_init(struct stats *s)
{
    *s = (struct stats){0};
    s->corr = hdr_new();
    s->unc = hdr_new();
    s->lag = hdr_new();
    return s->corr && s->unc && s->lag ? 0 : -1;
}

void stats_free(struct stats *s)
{
    free(s->corr);
    free(s->unc);
    free(s->lag);
    *s = (struct stats){0};
}

void stats_reset(struct stats *s)
{
    s->c = (struct stats_counts){0};
    hdr_reset(s->corr);
    hdr_reset(s->unc);
    hdr_reset(s->lag);
}

void stats_counts_add(struct stats_counts *d, const struct stats_counts *s)
{
    d->sent += s->sent;
    d->done += s->done;
    d->ok += s->ok;
    d->s4xx += s->s4xx;
    d->s5xx += s->s5xx;
    d->errors += s->errors;
    d->timeouts += s->timeouts;
    d->late += s->late;
    d->conn_waits += s->conn_waits;
    d->conn_full += s->conn_full;
    d->conns_added += s->conns_added;
    d->bytes_in += s->bytes_in;
}

void stats_add(struct stats *dst, const struct stats *src)
{
    stats_counts_add(&dst->c, &src->c);
    hdr_add(dst->corr, src->corr);
    hdr_add(dst->unc, src->unc);
    hdr_add(dst->lag, src->lag);
}

/* sched.c — arrival schedules; see sched.h. */
#include "load/sched.h"

#include <math.h>
#include <string.h>

void sched_closed(struct sched *s, uint64_t duration_us)
{
    memset(s, 0, sizeof(*s));
    s->nphases = 1;
    s->total_us = duration_us;
    s->phases[0] = (struct sched_phase){.duration_us = duration_us};
}

static double phase_count(const struct sched_phase *p, double t_s)
{
    double d = (double)p->duration_us / 1e6;
    return p->r0 * t_s + (d > 0 ? (p->r1 - p->r0) * t_s * t_s / (2 * d) : 0);
}

int sched_add_phase(struct sched *s, double r0, double r1, uint64_t duration_us,
                    uint64_t warmup_us)
{
    if (s->nphases >= SCHED_MAX_PHASES || r0 < 0 || r1 < 0 || duration_us == 0)
        return -1;
    s->open = true;
    double before = 0;
    if (s->nphases) {
        const struct sched_phase *l = &s->phases[s->nphases - 1];
        before = l->before + phase_count(l, (double)l->duration_us / 1e6);
    }
    s->phases[s->nphases++] = (struct sched_phase){
        .r0 = r0, .r1 = r1, .start_us = s->total_us, .duration_us = duration_us,
        .warmup_us = warmup_us < duration_us ? warmup_us : 0, .before = before};
    s->total_us += duration_us;
    return 0;
}

uint64_t sched_time_of(const struct sched *s, uint64_t n)
{
    if (!s->open)
        return 0;
    double target = (double)n;
    for (uint32_t i = 0; i < s->nphases; i++) {
        const struct sched_phase *p = &s->phases[i];
        double d = (double)p->duration_us / 1e6;
        double m = target - p->before; /* requests into this phase */
        if (m >= phase_count(p, d))
            continue;
        /* solve r0 t + a t^2 = m for t in [0, d], a = (r1 - r0) / 2d */
        double a = (p->r1 - p->r0) / (2 * d), t;
        if (fabs(a) < 1e-12)
            t = m / p->r0;
        else
            t = (-p->r0 + sqrt(p->r0 * p->r0 + 4 * a * m)) / (2 * a);
        if (!(t >= 0))
            t = 0;
        uint64_t us = p->start_us + (uint64_t)llround(t * 1e6);
        return us < p->start_us + p->duration_us ? us : p->start_us + p->duration_us - 1;
    }
    return SCHED_NEVER;
}

int sched_phase_at(const struct sched *s, uint64_t t_us)
{
    for (uint32_t i = 0; i < s->nphases; i++)
        if (t_us < s->phases[i].start_us + s->phases[i].duration_us)
            return (int)i;
    return -1;
}

double sched_count_at(const struct sched *s, uint64_t t_us)
{
    if (!s->open || s->nphases == 0)
        return 0;
    int i = sched_phase_at(s, t_us);
    const struct sched_phase *p = &s->phases[i < 0 ? s->nphases - 1 : (uint32_t)i];
    uint64_t in = i < 0 ? p->duration_us : t_us - p->start_us;
    return p->before + phase_count(p, (double)in / 1e6);
}

double sched_rate_at(const struct sched *s, uint64_t t_us)
{
    int i = sched_phase_at(s, t_us);
    if (!s->open || i < 0)
        return 0;
    const struct sched_phase *p = &s->phases[i];
    return p->r0 + (p->r1 - p->r0) * (double)(t_us - p->start_us) / (double)p->duration_us;
}

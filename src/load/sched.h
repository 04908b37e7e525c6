/* sched.h — arrival schedules: when the n-th request of a run is meant to be sent.
 *
 * A schedule is a list of phases, each `duration_us` long with a rate going linearly from r0 to
 * r1 (requests/s): a constant rate (r0 == r1), a ramp (--rate 100:5000) or steps (--steps, one
 * phase per step). The intended send time of request n is where the integral of the rate
 * reaches n, so a run sends exactly the offered number of requests whatever the rate shape, and
 * a generator that falls behind still knows when each request *should* have left: latency is
 * measured from that time (coordinated omission corrected). A closed schedule has one phase
 * with no rate: each connection sends its next request when the previous answer arrives.
 *
 * Pure: no I/O, no clock; any thread may read a schedule once built. */
#ifndef WEIR_LOAD_SCHED_H
#define WEIR_LOAD_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#define SCHED_MAX_PHASES 64
#define SCHED_NEVER UINT64_MAX

struct sched_phase {
    double r0, r1;          /* requests/s at the phase's start and end */
    uint64_t start_us;      /* from the run's start */
    uint64_t duration_us;
    uint64_t warmup_us;     /* the first part of the phase left out of its statistics */
    double before;          /* requests intended before the phase starts */
};

struct sched {
    bool open;              /* false: closed model (no intended times) */
    uint32_t nphases;
    uint64_t total_us;
    struct sched_phase phases[SCHED_MAX_PHASES];
};

void sched_closed(struct sched *s, uint64_t duration_us);
/* Appends a phase (open model); -1 when full or the rates are negative. */
int sched_add_phase(struct sched *s, double r0, double r1, uint64_t duration_us,
                    uint64_t warmup_us);

/* Intended send time (µs from the run's start) of request n (0-based), or SCHED_NEVER when n
 * falls after the schedule's end. O(phases). */
uint64_t sched_time_of(const struct sched *s, uint64_t n);

/* Requests intended in [0, t_us). */
double sched_count_at(const struct sched *s, uint64_t t_us);
/* The offered rate at t_us (0 past the end). */
double sched_rate_at(const struct sched *s, uint64_t t_us);
/* Index of the phase holding t_us, or -1 past the end. */
int sched_phase_at(const struct sched *s, uint64_t t_us);

#endif

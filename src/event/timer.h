/* timer.h — a hashed timer wheel with 1 ms ticks, one per worker loop.
 *
 * Arming, re-arming and disarming are O(1). Re-arming to a later deadline is lazy: the timer
 * stays in its slot and is moved when that slot comes due, so the common "push the idle
 * deadline forward on every read" costs one store. Deadlines further than one lap (4.096 s) sit
 * in their slot and are skipped until their lap comes. A bitmap of non-empty slots makes
 * "time to the next timer" and running the wheel proportional to the number of busy slots.
 *
 * Callbacks may arm and disarm any timer, themselves and the others of the slot being run
 * included: a slot that comes due moves to the wheel's due list and its timers are taken off
 * it one at a time, and a linked timer unlinks itself from whichever list holds it (pprev).
 * A timer is disarmed when its callback runs; a disarmed timer never fires. Not re-entrant
 * (no timer_wheel_run from a callback) and not thread-safe: a wheel and its timers belong to
 * one worker thread. */
#ifndef WEIR_EVENT_TIMER_H
#define WEIR_EVENT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_SLOTS 4096u

struct timer;
typedef void (*timer_cb)(struct timer *t);

struct timer {
    struct timer *next;
    struct timer **pprev; /* the previous timer's next, or the list head; NULL when unlinked */
    uint64_t expires;     /* deadline in ms (loop clock) */
    uint64_t slot_tick;   /* tick of its slot: the deadline, or the next tick if already past */
    timer_cb cb;
    bool armed;
};

struct timer_wheel {
    uint64_t tick;      /* every tick <= this has been processed */
    uint32_t count;     /* armed timers */
    struct timer *due;  /* the slot being run: timers not yet fired or moved */
    struct timer *slots[TIMER_SLOTS];
    uint64_t bitmap[TIMER_SLOTS / 64];
};

void timer_wheel_init(struct timer_wheel *tw, uint64_t now_ms);

static inline void timer_init(struct timer *t, timer_cb cb)
{
    *t = (struct timer){.cb = cb};
}

/* Arms (or re-arms) t to fire at or after `expires` (absolute ms). */
void timer_arm(struct timer_wheel *tw, struct timer *t, uint64_t expires);
void timer_disarm_armed(struct timer_wheel *tw, struct timer *t);
/* Inline test first: most disarms on the request path find the timer not armed. */
static inline void timer_disarm(struct timer_wheel *tw, struct timer *t)
{
    if (t->armed)
        timer_disarm_armed(tw, t);
}

/* Fires every timer whose deadline is <= now, slot by slot in deadline order. A timer armed
 * from a callback for a deadline <= now fires in this run if its tick is still ahead, else
 * on the next one. */
void timer_wheel_run(struct timer_wheel *tw, uint64_t now_ms);

/* Milliseconds until the next slot that holds a timer (a lower bound of the next deadline),
 * or -1 when no timer is armed. */
int timer_wheel_timeout(const struct timer_wheel *tw, uint64_t now_ms);

#endif

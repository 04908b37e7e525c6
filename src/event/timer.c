/* timer.c — see timer.h for the design and its invariants:
 * - an armed timer is linked in exactly one list, a slot or tw->due, and *t->pprev == t;
 * - a timer in a slot has slot_tick > tw->tick and slot index == slot_tick % TIMER_SLOTS;
 *   one in tw->due has slot_tick >= tw->tick and the index of the slot being run;
 * - bitmap bit i is set iff slots[i] is non-empty. */
#include "event/timer.h"

#include <string.h>

#define SLOT_MASK (TIMER_SLOTS - 1)

void timer_wheel_init(struct timer_wheel *tw, uint64_t now_ms)
{
    memset(tw, 0, sizeof(*tw));
    tw->tick = now_ms;
}

static void link_head(struct timer **head, struct timer *t)
{
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = head;
    *head = t;
}

static void link_at(struct timer_wheel *tw, struct timer *t, uint64_t tick)
{
    uint32_t i = (uint32_t)(tick & SLOT_MASK);
    t->slot_tick = tick;
    link_head(&tw->slots[i], t);
    tw->bitmap[i / 64] |= 1ull << (i % 64);
}

/* Works in a slot and in tw->due alike: the slot index is the same for both. */
static void unlink_timer(struct timer_wheel *tw, struct timer *t)
{
    uint32_t i = (uint32_t)(t->slot_tick & SLOT_MASK);
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
    if (!tw->slots[i])
        tw->bitmap[i / 64] &= ~(1ull << (i % 64));
}

/* A deadline in the past or now still goes one tick ahead: it fires on the next run. */
static uint64_t tick_for(const struct timer_wheel *tw, uint64_t expires)
{
    return expires > tw->tick ? expires : tw->tick + 1;
}

void timer_arm(struct timer_wheel *tw, struct timer *t, uint64_t expires)
{
    if (t->armed) {
        t->expires = expires;
        if (t->slot_tick <= tick_for(tw, expires))
            return; /* lazy: moved forward when its slot comes due */
        unlink_timer(tw, t);
    } else {
        tw->count++;
        t->armed = true;
        t->expires = expires;
    }
    link_at(tw, t, tick_for(tw, expires));
}

void timer_disarm_armed(struct timer_wheel *tw, struct timer *t)
{
    unlink_timer(tw, t);
    t->armed = false;
    tw->count--;
}

/* Index of the first non-empty slot at or after `from` going round once, or -1. */
static int next_busy_slot(const struct timer_wheel *tw, uint32_t from)
{
    for (uint32_t n = 0; n <= TIMER_SLOTS / 64; n++) {
        uint32_t word = ((from / 64) + n) % (TIMER_SLOTS / 64);
        uint64_t bits = tw->bitmap[word];
        if (n == 0)
            bits &= ~0ull << (from % 64);
        else if (n == TIMER_SLOTS / 64)
            bits &= (from % 64) ? ~(~0ull << (from % 64)) : 0;
        if (bits)
            return (int)(word * 64 + (uint32_t)__builtin_ctzll(bits));
    }
    return -1;
}

void timer_wheel_run(struct timer_wheel *tw, uint64_t now_ms)
{
    while (tw->tick < now_ms && tw->count) {
        uint32_t from = (uint32_t)((tw->tick + 1) & SLOT_MASK);
        int slot = next_busy_slot(tw, from);
        if (slot < 0)
            break;
        uint64_t dist = ((uint32_t)slot - from) & SLOT_MASK;
        uint64_t tick = tw->tick + 1 + dist;
        if (tick > now_ms)
            break;
        tw->tick = tick;

        /* The slot becomes the due list, taken from its head one timer at a time: a callback
         * may unlink or re-arm any timer still in it, or arm one into this slot's next lap. */
        tw->due = tw->slots[slot];
        tw->due->pprev = &tw->due;
        tw->slots[slot] = NULL;
        tw->bitmap[(uint32_t)slot / 64] &= ~(1ull << ((uint32_t)slot % 64));
        struct timer *t;
        while ((t = tw->due)) {
            unlink_timer(tw, t);
            if (t->expires > tick) {
                /* A later lap, or lazily pushed back (then expires >= slot_tick): move it. */
                link_at(tw, t, t->expires);
                continue;
            }
            t->armed = false;
            tw->count--;
            t->cb(t);
        }
    }
    if (tw->tick < now_ms)
        tw->tick = now_ms;
}

int timer_wheel_timeout(const struct timer_wheel *tw, uint64_t now_ms)
{
    if (!tw->count)
        return -1;
    uint32_t from = (uint32_t)((tw->tick + 1) & SLOT_MASK);
    int slot = next_busy_slot(tw, from);
    if (slot < 0)
        return -1;
    uint64_t tick = tw->tick + 1 + (((uint32_t)slot - from) & SLOT_MASK);
    return tick <= now_ms ? 0 : (int)(tick - now_ms);
}

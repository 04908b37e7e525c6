/* timer.c — see timer.h for the design and its invariants:
 * - a linked timer's slot_tick is > tw->tick and slot index == slot_tick % TIMER_SLOTS;
 * - bitmap bit i is set iff slots[i] is non-empty. */
#include "event/timer.h"

#include <string.h>

#define SLOT_MASK (TIMER_SLOTS - 1)

void timer_wheel_init(struct timer_wheel *tw, uint64_t now_ms)
{
    memset(tw, 0, sizeof(*tw));
    tw->tick = now_ms;
}

static void link_at(struct timer_wheel *tw, struct timer *t, uint64_t tick)
{
    uint32_t i = (uint32_t)(tick & SLOT_MASK);
    t->slot_tick = tick;
    t->prev = NULL;
    t->next = tw->slots[i];
    if (t->next)
        t->next->prev = t;
    tw->slots[i] = t;
    tw->bitmap[i / 64] |= 1ull << (i % 64);
}

static void unlink_timer(struct timer_wheel *tw, struct timer *t)
{
    uint32_t i = (uint32_t)(t->slot_tick & SLOT_MASK);
    if (t->prev)
        t->prev->next = t->next;
    else
        tw->slots[i] = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (!tw->slots[i])
        tw->bitmap[i / 64] &= ~(1ull << (i % 64));
    t->next = t->prev = NULL;
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

void timer_disarm(struct timer_wheel *tw, struct timer *t)
{
    if (!t->armed)
        return;
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

        /* Detach the slot, then fire, re-link or keep each timer: callbacks may touch it. */
        struct timer *list = tw->slots[slot];
        tw->slots[slot] = NULL;
        tw->bitmap[(uint32_t)slot / 64] &= ~(1ull << ((uint32_t)slot % 64));
        while (list) {
            struct timer *t = list;
            list = t->next;
            if (list)
                list->prev = NULL;
            t->next = t->prev = NULL;
            if (t->slot_tick > tick || t->expires > tick) {
                /* A later lap, or lazily pushed back: link it where it now belongs. */
                link_at(tw, t, t->slot_tick > tick ? t->slot_tick : t->expires);
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

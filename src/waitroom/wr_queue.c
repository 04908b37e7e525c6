/* wr_queue.c — see wr_queue.h. Single-threaded by contract: the caller serialises calls. */
#include "waitroom/wr_queue.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define WAITFLAG 0x80000000u /* rec.slot: waiting (low bits: index in live[], random mode) */
#define SWEEP_STEP 8         /* tickets looked at per call for abandonment */

/* One queue position. seen: deciseconds since the epoch + 1 of the last poll, 0 = resolved
 * (claimed, abandoned, expired). slot: WAITFLAG|live index, or the reserved session's slot. */
struct wr_rec {
    uint32_t seen;
    uint32_t slot;
};

enum sess_state { S_FREE = 0, S_RESERVED, S_ACTIVE };

struct wr_sess {
    uint64_t sid;      /* unique id in the cookie */
    int64_t last_ms;   /* reserved: grant time; active: last touch */
    uint64_t pos;      /* reserved: its queue position */
    uint32_t prev, next;
    uint32_t state;
};

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (rejection: no modulo bias). */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    uint64_t limit = -n % n;
    for (;;) {
        uint64_t x = rng_next(s);
        if (x >= limit)
            return x % n;
    }
}

void wr_room_init(struct wr_room *r, uint64_t seed, int64_t now_ms)
{
    *r = (struct wr_room){
        .epoch_ms = now_ms, .last_ms = now_ms, .rng = seed, .free_head = NONE,
        .res_head = NONE, .res_tail = NONE, .act_head = NONE, .act_tail = NONE, .next_sid = 1};
}

void wr_room_fini(struct wr_room *r)
{
    free(r->rec);
    free(r->live);
    free(r->perm);
    free(r->sess);
    free(r->win);
    memset(r, 0, sizeof(*r));
}

size_t wr_room_bytes(const struct wr_room *r)
{
    return r->cap * sizeof(*r->rec) + r->livecap * sizeof(*r->live) +
           (r->shuffled ? (r->pq_end - r->pq_first) * sizeof(*r->perm) : 0) +
           r->sesscap * sizeof(*r->sess) + r->wcap * sizeof(*r->win);
}

enum wr_phase wr_phase_at(const struct wr_params *p, int64_t now)
{
    if (!p->event)
        return WR_OPEN;
    if (now >= p->end_ms)
        return WR_OFF;
    if (now < p->start_ms && now >= p->prequeue_ms)
        return WR_PREQUEUE;
    return WR_OPEN;
}

static uint32_t to_ds(const struct wr_room *r, int64_t now)
{
    return (uint32_t)((now - r->epoch_ms) / 100) + 1;
}

static struct wr_rec *rec_at(struct wr_room *r, uint64_t pos)
{
    return &r->rec[pos & (r->cap - 1)];
}

static bool rec_stale(const struct wr_room *r, const struct wr_rec *e, int64_t now,
                      const struct wr_params *p)
{
    return (uint64_t)(to_ds(r, now) - e->seen) * 100 > p->abandon_ms;
}

/* ---- sessions ---- */

static void list_unlink(struct wr_room *r, uint32_t i, uint32_t *head, uint32_t *tail)
{
    struct wr_sess *s = &r->sess[i];
    if (s->prev != NONE)
        r->sess[s->prev].next = s->next;
    else
        *head = s->next;
    if (s->next != NONE)
        r->sess[s->next].prev = s->prev;
    else
        *tail = s->prev;
}

static void list_push(struct wr_room *r, uint32_t i, uint32_t *head, uint32_t *tail)
{
    struct wr_sess *s = &r->sess[i];
    s->prev = *tail;
    s->next = NONE;
    if (*tail != NONE)
        r->sess[*tail].next = i;
    else
        *head = i;
    *tail = i;
}

static uint32_t sess_alloc(struct wr_room *r)
{
    if (r->free_head != NONE) {
        uint32_t i = r->free_head;
        r->free_head = r->sess[i].next;
        return i;
    }
    if (r->nsess == r->sesscap) {
        uint32_t ncap = r->sesscap ? r->sesscap * 2 : 64;
        struct wr_sess *n = realloc(r->sess, ncap * sizeof(*n));
        if (!n)
            return NONE;
        r->sess = n;
        r->sesscap = ncap;
    }
    return r->nsess++;
}

static void sess_free(struct wr_room *r, uint32_t i)
{
    r->sess[i].state = S_FREE;
    r->sess[i].sid = 0;
    r->sess[i].next = r->free_head;
    r->free_head = i;
}

static void sess_end(struct wr_room *r, uint32_t i)
{
    struct wr_sess *s = &r->sess[i];
    if (s->state == S_ACTIVE) {
        list_unlink(r, i, &r->act_head, &r->act_tail);
        r->nactive--;
    } else if (s->state == S_RESERVED) {
        list_unlink(r, i, &r->res_head, &r->res_tail);
        r->nreserved--;
        rec_at(r, s->pos)->seen = 0; /* its ticket is resolved */
    }
    sess_free(r, i);
}

/* ---- the 60 s window of claims ---- */

static uint64_t window_count(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    while (r->whead < r->wtail && r->win[r->whead & (r->wcap - 1)] <= now - p->window_ms)
        r->whead++;
    return r->wtail - r->whead;
}

static int window_push(struct wr_room *r, int64_t now)
{
    if (r->wtail - r->whead == r->wcap) {
        uint64_t ncap = r->wcap ? r->wcap * 2 : 64;
        int64_t *n = malloc(ncap * sizeof(*n));
        if (!n)
            return -1;
        for (uint64_t i = r->whead; i < r->wtail; i++)
            n[i - r->whead] = r->win[i & (r->wcap - 1)];
        free(r->win);
        r->win = n;
        r->wtail -= r->whead;
        r->whead = 0;
        r->wcap = ncap;
    }
    r->win[r->wtail++ & (r->wcap - 1)] = now;
    return 0;
}

/* ---- the queue ---- */

static int ring_grow(struct wr_room *r)
{
    uint64_t ncap = r->cap ? r->cap * 2 : 1024;
    struct wr_rec *n = malloc(ncap * sizeof(*n));
    if (!n)
        return -1;
    for (uint64_t p = r->head; p < r->tail; p++)
        n[p & (ncap - 1)] = *rec_at(r, p);
    free(r->rec);
    r->rec = n;
    r->cap = ncap;
    return 0;
}

static int live_add(struct wr_room *r, uint64_t pos)
{
    if (r->nlive == r->livecap) {
        uint64_t ncap = r->livecap ? r->livecap * 2 : 1024;
        uint64_t *n = realloc(r->live, ncap * sizeof(*n));
        if (!n)
            return -1;
        r->live = n;
        r->livecap = ncap;
    }
    rec_at(r, pos)->slot = WAITFLAG | (uint32_t)r->nlive;
    r->live[r->nlive++] = pos;
    return 0;
}

static void live_remove(struct wr_room *r, uint64_t idx)
{
    uint64_t last = r->live[--r->nlive];
    if (idx != r->nlive) {
        r->live[idx] = last;
        rec_at(r, last)->slot = WAITFLAG | (uint32_t)idx;
    }
}

/* A waiter's ticket is dropped (not polled in time). */
static void drop_waiter(struct wr_room *r, uint64_t pos, const struct wr_params *p)
{
    struct wr_rec *e = rec_at(r, pos);
    if (p->mode == WR_RANDOM)
        live_remove(r, e->slot & ~WAITFLAG);
    e->seen = 0;
    r->nwaiting--;
    r->abandoned++;
}

/* Admissions a window allows: admit_per_minute scaled to the window, at least 1. */
static uint64_t window_quota(const struct wr_params *p)
{
    uint64_t q = (uint64_t)p->admit_per_minute * p->window_ms / 60000;
    return q ? q : 1;
}

static uint64_t per_minute(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    return window_count(r, p, now) * 60000 / p->window_ms;
}

static bool gates_open(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    if (r->paused || wr_phase_at(p, now) != WR_OPEN)
        return false;
    if (r->nactive + r->nreserved >= p->max_active)
        return false;
    return window_count(r, p, now) + r->nreserved < window_quota(p);
}

/* Reserves a session for the waiter at pos. -1 when out of memory. */
static int grant(struct wr_room *r, uint64_t pos, int64_t now)
{
    uint32_t i = sess_alloc(r);
    if (i == NONE)
        return -1;
    r->sess[i] = (struct wr_sess){
        .sid = r->next_sid++, .last_ms = now, .pos = pos, .state = S_RESERVED};
    list_push(r, i, &r->res_head, &r->res_tail);
    r->nreserved++;
    rec_at(r, pos)->slot = i;
    r->nwaiting--;
    return 0;
}

static void grant_all(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    while (r->nwaiting && gates_open(r, p, now)) {
        uint64_t pos;
        if (p->mode == WR_RANDOM) {
            uint64_t idx = rng_below(&r->rng, r->nlive);
            pos = r->live[idx];
            if (rec_stale(r, rec_at(r, pos), now, p)) {
                drop_waiter(r, pos, p);
                continue;
            }
            if (grant(r, pos, now) != 0)
                return;
            live_remove(r, idx);
        } else {
            pos = r->serving;
            struct wr_rec *e = rec_at(r, pos);
            if (!e->seen || !(e->slot & WAITFLAG)) {
                r->serving++;
                continue;
            }
            if (rec_stale(r, e, now, p)) {
                drop_waiter(r, pos, p);
                r->serving++;
                continue;
            }
            if (grant(r, pos, now) != 0)
                return;
            r->serving++;
        }
    }
}

/* Looks at a few waiting tickets for abandonment, so the waiting count stays true. */
static void sweep(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    for (int n = 0; n < SWEEP_STEP && r->nwaiting; n++) {
        if (p->mode == WR_RANDOM) {
            if (r->sweep >= r->nlive)
                r->sweep = 0;
            uint64_t pos = r->live[r->sweep];
            if (rec_stale(r, rec_at(r, pos), now, p))
                drop_waiter(r, pos, p); /* the last moved into this index: look at it next */
            else
                r->sweep++;
        } else {
            if (r->sweep < r->serving || r->sweep >= r->tail)
                r->sweep = r->serving;
            struct wr_rec *e = rec_at(r, r->sweep);
            if (e->seen && (e->slot & WAITFLAG) && rec_stale(r, e, now, p))
                drop_waiter(r, r->sweep, p);
            r->sweep++;
        }
    }
}

/* Event start: the tickets of the pre-queue get a uniformly random order. */
static void shuffle_prequeue(struct wr_room *r, const struct wr_params *p)
{
    r->shuffled = true;
    r->pq_end = r->tail;
    uint64_t n = r->pq_end - r->pq_first;
    if (p->mode == WR_RANDOM || n < 2) {
        r->pq_end = r->pq_first; /* nothing to permute */
        return;
    }
    uint32_t *perm = malloc(n * sizeof(*perm));
    struct wr_rec *tmp = malloc(n * sizeof(*tmp));
    if (!perm || !tmp) {
        free(perm);
        free(tmp);
        r->pq_end = r->pq_first; /* out of memory: arrival order stands */
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = rng_below(&r->rng, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint64_t i = 0; i < n; i++)
        tmp[i] = *rec_at(r, r->pq_first + i);
    for (uint64_t i = 0; i < n; i++)
        *rec_at(r, r->pq_first + perm[i]) = tmp[i];
    free(tmp);
    r->perm = perm;
}

static uint64_t ticket_pos(const struct wr_room *r, uint64_t ticket)
{
    if (r->shuffled && ticket >= r->pq_first && ticket < r->pq_end)
        return r->pq_first + r->perm[ticket - r->pq_first];
    return ticket;
}

/* Time passes: expiries, the event's phases, grants, a little sweeping. */
static int64_t advance(struct wr_room *r, const struct wr_params *p, int64_t now)
{
    if (now < r->last_ms)
        now = r->last_ms; /* workers' clocks are read a little apart: never go back */
    r->last_ms = now;
    while (r->act_head != NONE &&
           r->sess[r->act_head].last_ms + (int64_t)p->session_ms <= now) {
        sess_end(r, r->act_head);
        r->expired++;
    }
    while (r->res_head != NONE &&
           r->sess[r->res_head].last_ms + (int64_t)p->abandon_ms <= now) {
        sess_end(r, r->res_head);
        r->abandoned++;
    }
    if (!r->nwaiting && p->mode != WR_RANDOM)
        r->serving = r->tail; /* nobody waits: what is left behind the counter is resolved */
    while (r->head < r->tail && r->head < r->serving && !rec_at(r, r->head)->seen)
        r->head++;
    if (p->mode == WR_RANDOM)
        while (r->head < r->tail && !rec_at(r, r->head)->seen)
            r->head++;
    if (r->head == r->tail && r->cap > 4096) { /* the line drained: give the ring back */
        free(r->rec);
        r->rec = NULL;
        r->cap = 0;
    }
    if (!r->nlive && r->livecap > 4096) {
        free(r->live);
        r->live = NULL;
        r->livecap = 0;
    }
    enum wr_phase ph = wr_phase_at(p, now);
    if (ph == WR_PREQUEUE && !r->pq_seen) {
        r->pq_seen = true;
        r->pq_first = r->tail;
    }
    if (ph != WR_PREQUEUE && r->pq_seen && !r->shuffled)
        shuffle_prequeue(r, p);
    sweep(r, p, now);
    grant_all(r, p, now);
    return now;
}

static void admit_new(struct wr_room *r, int64_t now, struct wr_result *out)
{
    uint32_t i = sess_alloc(r);
    if (i == NONE || window_push(r, now) != 0) {
        if (i != NONE)
            sess_free(r, i);
        out->v = WR_NOMEM;
        return;
    }
    r->sess[i] = (struct wr_sess){.sid = r->next_sid++, .last_ms = now, .state = S_ACTIVE};
    list_push(r, i, &r->act_head, &r->act_tail);
    r->nactive++;
    r->admitted++;
    *out = (struct wr_result){.v = WR_ADMITTED, .fresh = true, .id = r->sess[i].sid, .slot = i};
}

static void arrive(struct wr_room *r, const struct wr_params *p, int64_t now,
                   struct wr_result *out)
{
    *out = (struct wr_result){.new_visitor = true};
    if (wr_phase_at(p, now) == WR_OFF || p->mode == WR_PASSTHROUGH) {
        out->v = WR_PASS;
        return;
    }
    if (!r->nwaiting && gates_open(r, p, now)) {
        admit_new(r, now, out);
        out->new_visitor = true;
        return;
    }
    if (p->mode == WR_REJECT || r->tail - r->head >= WR_QUEUE_MAX) {
        r->rejected++;
        out->v = WR_REJECTED;
        return;
    }
    if (r->tail - r->head == r->cap && ring_grow(r) != 0) {
        out->v = WR_NOMEM;
        return;
    }
    uint64_t pos = r->tail;
    *rec_at(r, pos) = (struct wr_rec){.seen = to_ds(r, now), .slot = WAITFLAG};
    if (p->mode == WR_RANDOM && live_add(r, pos) != 0) {
        rec_at(r, pos)->seen = 0;
        out->v = WR_NOMEM;
        return;
    }
    r->tail++;
    r->nwaiting++;
    r->issued++;
    out->v = WR_WAITING;
    out->fresh = true;
    out->id = pos; /* the ticket is the arrival number (a position until a shuffle) */
    out->ahead = p->mode == WR_RANDOM ? r->nwaiting - 1 : pos - r->serving;
}

static void figures(struct wr_room *r, const struct wr_params *p, int64_t now,
                    struct wr_result *out)
{
    out->active = r->nactive;
    out->waiting = r->nwaiting;
    out->admitted_last_minute = per_minute(r, p, now);
}

void wr_arrive(struct wr_room *r, const struct wr_params *p, int64_t now, struct wr_result *out)
{
    now = advance(r, p, now);
    arrive(r, p, now, out);
    figures(r, p, now, out);
}

static void poll_ticket(struct wr_room *r, const struct wr_params *p, uint64_t ticket, int64_t now,
                        struct wr_result *out)
{
    uint64_t pos = ticket_pos(r, ticket);
    struct wr_rec *e = pos >= r->head && pos < r->tail ? rec_at(r, pos) : NULL;
    if (!e || !e->seen || wr_phase_at(p, now) == WR_OFF || p->mode == WR_PASSTHROUGH) {
        arrive(r, p, now, out);
        return;
    }
    if (e->slot & WAITFLAG) {
        if (rec_stale(r, e, now, p)) { /* not yet swept: dropped now, a new ticket follows */
            drop_waiter(r, pos, p);
            arrive(r, p, now, out);
            return;
        }
        e->seen = to_ds(r, now);
        *out = (struct wr_result){.v = WR_WAITING, .id = ticket};
        if (p->mode == WR_RANDOM)
            out->ahead = r->nwaiting - 1;
        else
            out->ahead = pos > r->serving ? pos - r->serving : 0;
        return;
    }
    /* Granted: claim the reservation. */
    uint32_t i = e->slot;
    struct wr_sess *s = &r->sess[i];
    if (window_push(r, now) != 0) {
        out->v = WR_NOMEM;
        return;
    }
    list_unlink(r, i, &r->res_head, &r->res_tail);
    r->nreserved--;
    s->state = S_ACTIVE;
    s->last_ms = now;
    list_push(r, i, &r->act_head, &r->act_tail);
    r->nactive++;
    r->admitted++;
    e->seen = 0;
    *out = (struct wr_result){.v = WR_ADMITTED, .fresh = true, .id = s->sid, .slot = i};
}

void wr_poll(struct wr_room *r, const struct wr_params *p, uint64_t ticket, int64_t now,
             struct wr_result *out)
{
    now = advance(r, p, now);
    poll_ticket(r, p, ticket, now, out);
    figures(r, p, now, out);
}

static struct wr_sess *find_active(struct wr_room *r, uint64_t sid, uint32_t slot)
{
    if (slot >= r->nsess)
        return NULL;
    struct wr_sess *s = &r->sess[slot];
    return s->state == S_ACTIVE && s->sid == sid ? s : NULL;
}

void wr_touch(struct wr_room *r, const struct wr_params *p, uint64_t sid, uint32_t slot,
              int64_t now, struct wr_result *out)
{
    now = advance(r, p, now);
    struct wr_sess *s = find_active(r, sid, slot);
    if (!s) {
        arrive(r, p, now, out);
    } else {
        s->last_ms = now;
        list_unlink(r, slot, &r->act_head, &r->act_tail);
        list_push(r, slot, &r->act_head, &r->act_tail);
        *out = (struct wr_result){.v = WR_ADMITTED, .id = sid, .slot = slot};
    }
    figures(r, p, now, out);
}

bool wr_revoke(struct wr_room *r, const struct wr_params *p, uint64_t sid, uint32_t slot,
               int64_t now)
{
    now = advance(r, p, now);
    if (!find_active(r, sid, slot))
        return false;
    sess_end(r, slot);
    r->revoked++;
    grant_all(r, p, now); /* the freed slot goes to the next waiter at once */
    return true;
}

void wr_pause(struct wr_room *r, bool paused)
{
    r->paused = paused;
}

void wr_stats(struct wr_room *r, const struct wr_params *p, int64_t now, struct wr_stats *out)
{
    now = advance(r, p, now);
    *out = (struct wr_stats){
        .waiting = r->nwaiting, .active = r->nactive, .reserved = r->nreserved,
        .admitted_last_minute = per_minute(r, p, now), .issued = r->issued,
        .admitted = r->admitted, .abandoned = r->abandoned, .expired = r->expired,
        .revoked = r->revoked, .rejected = r->rejected, .paused = r->paused,
        .phase = wr_phase_at(p, now)};
}

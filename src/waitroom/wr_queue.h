/* wr_queue.h — the waiting room's state machine: tickets, the queue, admitted sessions and the
 * two gates. Pure: no I/O, no locks, no clock (every call is given `now`, unix milliseconds),
 * no randomness of its own (a seeded generator in the room). The store (wr_store.h) puts a lock
 * around it; a Redis backend would run the same steps in a Lua script.
 *
 * Model (docs/waiting-room.md):
 * - A visitor is either waiting (holds a ticket: a queue position) or admitted (holds a
 *   session: a slot and a unique id). Both live in the visitor's signed cookie.
 * - Gates. A grant needs: reserved + active < max_active, and
 *   (claims in the last window) + reserved < admit_per_minute x window / 60 s (the
 *   window is 60 s unless configured shorter), and the room not paused nor in its
 *   pre-queue. A grant turns the head waiter into a *reserved* session; the waiter's next poll
 *   *claims* it (the admission, timed into the 60 s window). Since a reservation already counts
 *   against the rate, claims in any window never exceed that.
 * - A new visitor is admitted at once only when nobody waits and the gates allow.
 * - fifo: grants go in ticket order (the serving counter); random: to a uniformly drawn waiter.
 *   Tickets not polled for abandon_ms are dropped (the serving counter skips them); a
 *   reservation not claimed within abandon_ms is released. Sessions end session_ms after their
 *   last touch, or at once on revoke.
 * - Event: in [prequeue, start) nobody is granted; at start the tickets issued during the
 *   pre-queue are permuted uniformly (Fisher-Yates); from end the room is off.
 * Costs: arrive, poll, touch and revoke are O(1) amortised (grants skip abandoned tickets once
 * each; an incremental sweep looks at a few tickets per call). Memory: 8 bytes per queue
 * position between the oldest unresolved ticket and the newest, 8 more per waiter in random
 * mode, 4 per pre-queued ticket after an event's shuffle, 40 per session slot. */
#ifndef WEIR_WAITROOM_WR_QUEUE_H
#define WEIR_WAITROOM_WR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WR_QUEUE_MAX (1u << 22)  /* waiting positions per room; beyond: rejected */

enum wr_mode { WR_FIFO = 0, WR_RANDOM, WR_PASSTHROUGH, WR_REJECT };

enum wr_phase { WR_OPEN = 0, WR_PREQUEUE, WR_OFF };

struct wr_params {
    uint32_t max_active;
    uint32_t admit_per_minute;  /* the current figure (auto: the controller's) */
    uint32_t window_ms;         /* the rolling window the rate is counted over (60 s; shorter
                                   windows allow admit_per_minute x window / 60 s per window) */
    uint64_t session_ms;
    uint64_t abandon_ms;
    enum wr_mode mode;
    bool event;
    int64_t prequeue_ms;        /* INT64_MIN: the pre-queue runs until start */
    int64_t start_ms, end_ms;
};

enum wr_verdict {
    WR_ADMITTED = 0,   /* id/slot: the session (new when `fresh`) */
    WR_WAITING,        /* id: the ticket; ahead: positions in front of it */
    WR_REJECTED,       /* over the gates in reject mode, or the queue is full */
    WR_PASS,           /* the room is off (after an event's end): no cookie needed */
    WR_NOMEM,
};

struct wr_result {
    enum wr_verdict v;
    bool fresh;        /* a new ticket or session was issued (the cookie changes) */
    bool new_visitor;  /* the call was answered as a new arrival (gone ticket or session) */
    uint64_t id;
    uint32_t slot;
    uint64_t ahead;
    /* the room's figures after the call, for the answer */
    uint64_t active, waiting, admitted_last_minute;
};

struct wr_stats {
    uint64_t waiting, active, reserved;
    uint64_t admitted_last_minute;  /* claims in the window, scaled to a minute */
    uint64_t issued, admitted, abandoned, expired, revoked, rejected;
    bool paused;
    enum wr_phase phase;
};

struct wr_rec;
struct wr_sess;

struct wr_room {
    int64_t epoch_ms, last_ms;
    uint64_t rng;
    bool paused;
    /* Queue positions [head, tail): records in a ring of cap (a power of two). */
    struct wr_rec *rec;
    uint64_t cap, head, serving, tail, sweep;
    uint64_t nwaiting;
    /* random mode: positions of the waiters not yet granted */
    uint64_t *live;
    uint64_t nlive, livecap;
    /* event: positions [pq_first, pq_end) were shuffled; perm maps ticket -> position */
    bool pq_seen, shuffled;
    uint64_t pq_first, pq_end;
    uint32_t *perm;
    /* sessions: slots, a free list, the reserved list (grant order) and the active list (LRU) */
    struct wr_sess *sess;
    uint32_t nsess, sesscap, free_head;
    uint32_t res_head, res_tail, act_head, act_tail;
    uint64_t nreserved, nactive, next_sid;
    /* claim times of the last 60 s (a ring) */
    int64_t *win;
    uint64_t wcap, whead, wtail;
    /* counters */
    uint64_t issued, admitted, abandoned, expired, revoked, rejected;
};

void wr_room_init(struct wr_room *r, uint64_t seed, int64_t now_ms);
void wr_room_fini(struct wr_room *r);

enum wr_phase wr_phase_at(const struct wr_params *p, int64_t now_ms);

/* A visitor without a valid cookie. */
void wr_arrive(struct wr_room *r, const struct wr_params *p, int64_t now, struct wr_result *out);
/* A waiter's poll with its ticket: still waiting, or admitted (claims its grant). A ticket the
 * room no longer knows (abandoned, already claimed, from before a restart) is a new arrival. */
void wr_poll(struct wr_room *r, const struct wr_params *p, uint64_t ticket, int64_t now,
             struct wr_result *out);
/* An admitted visitor's request: keeps the session; an ended session is a new arrival. */
void wr_touch(struct wr_room *r, const struct wr_params *p, uint64_t sid, uint32_t slot,
              int64_t now, struct wr_result *out);
/* Ends a session at once (origin's revoke). True when it was live. */
bool wr_revoke(struct wr_room *r, const struct wr_params *p, uint64_t sid, uint32_t slot,
               int64_t now);
void wr_pause(struct wr_room *r, bool paused);
/* Advances time (expiries, grants) and reads the figures. */
void wr_stats(struct wr_room *r, const struct wr_params *p, int64_t now, struct wr_stats *out);
/* Bytes the room holds on the heap. */
size_t wr_room_bytes(const struct wr_room *r);

#endif

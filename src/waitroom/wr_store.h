/* wr_store.h — the `waitroom store`: where a room's queue and sessions live, behind one ops
 * table so that a Redis backend (issue 13) can replace the in-memory one without touching the
 * module. Every operation is one call = one round trip: it takes the room, the parameters of
 * the moment (limits, durations, mode, event, the current admission rate) and `now` (unix ms),
 * runs one step of the state machine (wr_queue.h) and answers. A Redis backend runs the same
 * step as one Lua script on the room's keys.
 *
 * The memory backend (wr_store_memory.c) keeps each room in this process, shared by all
 * workers: one mutex per room, held for exactly one state-machine call (O(1) amortised).
 * Nothing else on the request path takes it: cookie checks, early polls and admitted
 * requests within a touch interval are answered without the store.
 *
 * Asynchronous answers (as state/store.h). The request path goes through wr_store_call: a
 * backend with `call_async` (one that talks to a server: wr_store_redis) answers later through
 * call->done on the caller's worker; a synchronous one (memory) answers before wr_store_call
 * returns, so its callers behave as if the call were a plain function. A caller whose exchange
 * ends while a call is pending cancels it (wr_store_cancel): done never runs after.
 *
 * Rooms are also listed in a process registry (wr_handle.h) for the admin side. */
#ifndef WEIR_WAITROOM_WR_STORE_H
#define WEIR_WAITROOM_WR_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "waitroom/wr_queue.h"

/* The slot of a Redis session (no memory room has that many). */
#define WR_REDIS_SLOT UINT32_MAX

/* ADOPT: the session (id, slot) of a local room (state.on_store_error: local, while Redis was
 * away) asks the shared room for a session of its own: admitted while the active set has room,
 * else it arrives (a memory room: a touch). */
enum wr_op { WR_OP_ARRIVE = 0, WR_OP_POLL, WR_OP_TOUCH, WR_OP_REVOKE, WR_OP_ADOPT };

/* One operation in flight: the caller fills the inputs and done, and owns the struct until done
 * ran or wr_store_cancel returned. */
struct wr_call {
    enum wr_op op;
    struct wr_params p;
    uint64_t id;                          /* poll: the ticket; touch / revoke: the session */
    uint32_t slot;
    int64_t now;
    void (*done)(struct wr_call *call);   /* on the caller's thread, with the answer below */
    struct wr_result res;                 /* revoke: v = WR_ADMITTED when the session was live */
    bool failed;                          /* the store did not answer (on_store_error decides) */
    bool pending;                         /* begun, not answered yet */
    void *backend;                        /* the backend's own, while pending */
};

struct wr_store_ops {
    const char *name;
    /* A new room; *nonce: a random number naming this incarnation of it (cookies from another
     * incarnation are foreign). NULL when out of memory. */
    void *(*open)(const char *room, uint32_t *nonce);
    void (*close)(void *room);
    void (*arrive)(void *room, const struct wr_params *p, int64_t now, struct wr_result *out);
    void (*poll)(void *room, const struct wr_params *p, uint64_t ticket, int64_t now,
                 struct wr_result *out);
    void (*touch)(void *room, const struct wr_params *p, uint64_t sid, uint32_t slot,
                  int64_t now, struct wr_result *out);
    bool (*revoke)(void *room, const struct wr_params *p, uint64_t sid, uint32_t slot,
                   int64_t now);
    void (*pause)(void *room, bool paused);
    void (*stats)(void *room, const struct wr_params *p, int64_t now, struct wr_stats *out);
    /* Optional, for backends that answer later (then arrive / poll / touch / revoke may be
     * NULL): start `call` (call->done runs on the caller's worker), and stop waiting for one. */
    void (*call_async)(void *room, struct wr_call *call);
    void (*cancel)(void *room, struct wr_call *call);
};

/* Starts call (see above); call->done runs before this returns when the backend answers at
 * once, else later. */
void wr_store_call(const struct wr_store_ops *ops, void *room, struct wr_call *call);
/* A pending call's answer is no longer wanted (its caller is going away). */
void wr_store_cancel(const struct wr_store_ops *ops, void *room, struct wr_call *call);

extern const struct wr_store_ops wr_store_memory;
extern const struct wr_store_ops wr_store_redis; /* wr_store_redis.c: shared by instances */

/* The Redis room's figures, asked on the calling thread's connection: done(arg, st) runs later
 * with st = NULL when Redis did not answer. False when nothing was sent (done never runs). */
bool wr_store_redis_stats(void *room, const struct wr_params *p,
                          void (*done)(void *arg, const struct wr_stats *st), void *arg);

#endif

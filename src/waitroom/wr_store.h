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
 * Rooms are also listed in a process registry (wr_registry.h) for the admin side. */
#ifndef WEIR_WAITROOM_WR_STORE_H
#define WEIR_WAITROOM_WR_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "waitroom/wr_queue.h"

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
};

extern const struct wr_store_ops wr_store_memory;

#endif

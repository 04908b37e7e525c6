/* wr_handle.h — the rooms of this process, by name: each one's store room, the latest
 * settings (for the admin side), this process's own figures (atomics), and the `auto`
 * admission controller (wr_auto.h). Routes that name the same room share it; a reload keeps
 * it (the new generation takes a reference before the old one drops its own).
 *
 * Locking: a registry mutex for get/put/foreach/find (generation builds and the admin thread,
 * never per request); h->mu guards h->params (written at get, read by the admin side);
 * everything else is atomic. */
#ifndef WEIR_WAITROOM_WR_HANDLE_H
#define WEIR_WAITROOM_WR_HANDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "waitroom/wr_auto.h"
#include "waitroom/wr_config.h"
#include "waitroom/wr_store.h"

struct wr_handle {
    char name[WR_NAME_MAX + 1];
    uint32_t refs;                    /* registry mutex */
    const struct wr_store_ops *ops;   /* memory: this process's room (and the fallback) */
    void *room;
    uint32_t nonce;
    void *shared_room;                /* wr_store_redis's, used when state.backend is redis */
    uint32_t shared_nonce;            /* the same in every instance: cookies work anywhere */
    pthread_mutex_t mu;
    struct wr_params params;          /* mu: the latest generation's settings */
    uint32_t refresh_ms;              /* mu */
    bool apm_auto;                    /* mu */
    /* this process's figures */
    atomic_uint_fast64_t cookies_rejected, bypassed, passed, queue_replies, origin_revokes;
    /* the store's answer figures, for answers that skip the store */
    atomic_uint_fast64_t seen_active, seen_rate, seen_waiting;
    atomic_int phase;                 /* the last phase seen (enum wr_phase), for the log */
    struct wr_stats shared_stats;     /* mu: the Redis room's, as last read (wr_handle_sync) */
    bool have_shared_stats;           /* mu */
    struct wr_auto ctl;
};

/* The room `c->name`, made on first use with the memory store (and its Redis handle, which
 * holds no connection); a reference is taken. */
struct wr_handle *wr_handle_get(const struct wr_conf *c, const struct wr_params *p);
void wr_handle_put(struct wr_handle *h);
/* The room called name with a reference taken, or NULL. */
struct wr_handle *wr_handle_find(const char *name);
/* fn for every room, under the registry mutex (admin thread; keep it short). */
void wr_handle_foreach(void (*fn)(struct wr_handle *h, void *arg), void *arg);
/* The parameters of the moment: the settings with the controller's rate when auto. */
void wr_handle_params(struct wr_handle *h, struct wr_params *out);
int64_t wr_now_ms(void);

/* What the admin side shows of a room. */
struct wr_figures {
    struct wr_stats st;
    uint32_t max_active, admit_limit;  /* admit_limit: per minute now (auto: the controller's) */
    bool apm_auto;
    uint64_t cookies_rejected, bypassed, passed, queue_replies, origin_revokes;
    int64_t eta_last_s;                /* for the last in line; -1 while no rate was measured */
};
void wr_handle_figures(struct wr_handle *h, struct wr_figures *out);
/* Logs the room's event phase when it changed (once, whichever worker sees it first). */
void wr_handle_phase(struct wr_handle *h, const struct wr_params *p, int64_t now);
/* Worker 0, every STATE_SYNC_MS with state backend redis (state_events_every): reads each
 * room's figures from Redis for the admin side. */
void wr_handle_sync(void);
/* Pauses or resumes the room (admin); logged. */
void wr_handle_pause(struct wr_handle *h, bool paused);

#endif

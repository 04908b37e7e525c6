/* waitq.h — exchanges waiting for a shared resource (a concurrency slot, an idempotency record
 * to complete), on any worker, woken when it frees up: the replacement for polling.
 *
 * One queue per resource, shared by the workers: each worker has its own list (touched only by
 * that worker) and an atomic count others read. Waking a waiter on another worker posts a call
 * to that worker (pipeline_worker.post), which resumes its oldest waiter there; the queue is
 * refcounted so a posted call never outlives it. A woken exchange stays in the queue (keeping
 * its place) until its module removes it — it may find the resource taken again.
 *
 * Lost wake-ups are avoided by ordering, not locks: a waiter is counted before its module tries
 * the resource once more, and a releaser frees the resource before it reads the counts, so one
 * of the two always sees the other (sequentially consistent atomics). */
#ifndef WEIR_PIPELINE_WAITQ_H
#define WEIR_PIPELINE_WAITQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/dlist.h"

struct exchange;
struct pipeline_worker;
struct waitq;

/* What a module keeps in its exchange context to wait. */
struct waitq_entry {
    struct dlist link;
    struct exchange *x;
    struct waitq *q;           /* non-NULL while queued */
    uint32_t worker;
    /* What a wake does: NULL resumes x's module (pipeline_resume); a host waiting for
     * something other than a module (a connection slot) sets its own. */
    void (*wake)(struct waitq_entry *e);
};

/* A queue for `nworkers` workers; NULL when out of memory. Refcount 1. */
struct waitq *waitq_new(uint32_t nworkers);
void waitq_ref(struct waitq *q);
void waitq_unref(struct waitq *q);

/* Queues x (its worker's list, at the back). The entry must stay put until removed. */
void waitq_add(struct waitq *q, struct waitq_entry *e, struct exchange *x);
/* Queues an entry with its own e->wake for worker `worker` (called on that worker). */
void waitq_add_on(struct waitq *q, struct waitq_entry *e, uint32_t worker);
/* Unqueues (no-op when not queued). On the exchange's worker. */
void waitq_remove(struct waitq_entry *e);
/* Waiters on all workers. */
uint32_t waitq_count(const struct waitq *q);

/* The resource has room for one more: resumes the oldest waiter of the calling worker, or else
 * posts a wake to another worker that has waiters (round robin). */
void waitq_wake_one(struct waitq *q, struct pipeline_worker *self);
/* Resumes every waiter, on every worker (a record completed: each re-checks). */
void waitq_wake_all(struct waitq *q, struct pipeline_worker *self);

#endif

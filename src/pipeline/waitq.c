/* waitq.c — see waitq.h. */
#include "pipeline/waitq.h"

#include <stdlib.h>

#include "pipeline/exchange.h"
#include "pipeline/runner.h"

struct waitq_worker {
    struct dlist waiters;      /* this worker's, oldest first; touched by this worker only */
    atomic_uint count;
    struct waitq *q;
    uint32_t id;
    bool all;                  /* the posted wake is for every waiter */
};

struct waitq {
    atomic_uint refs;
    atomic_uint total;
    atomic_uint rr;            /* round-robin start for cross-worker wakes */
    uint32_t nworkers;
    struct waitq_worker w[];
};

struct waitq *waitq_new(uint32_t nworkers)
{
    if (!nworkers)
        nworkers = 1;
    struct waitq *q = calloc(1, sizeof(*q) + nworkers * sizeof(q->w[0]));
    if (!q)
        return NULL;
    atomic_init(&q->refs, 1);
    q->nworkers = nworkers;
    for (uint32_t i = 0; i < nworkers; i++) {
        dlist_init(&q->w[i].waiters);
        q->w[i].q = q;
        q->w[i].id = i;
    }
    return q;
}

void waitq_ref(struct waitq *q)
{
    atomic_fetch_add(&q->refs, 1);
}

void waitq_unref(struct waitq *q)
{
    if (q && atomic_fetch_sub(&q->refs, 1) == 1)
        free(q);
}

void waitq_add(struct waitq *q, struct waitq_entry *e, struct exchange *x)
{
    e->x = x;
    e->wake = NULL;
    waitq_add_on(q, e, x->worker->id);
}

void waitq_add_on(struct waitq *q, struct waitq_entry *e, uint32_t worker)
{
    uint32_t id = worker < q->nworkers ? worker : 0;
    e->q = q;
    e->worker = id;
    dlist_push_back(&q->w[id].waiters, &e->link);
    atomic_fetch_add(&q->w[id].count, 1);
    atomic_fetch_add(&q->total, 1);
}

void waitq_remove(struct waitq_entry *e)
{
    if (!e->q)
        return;
    dlist_remove(&e->link);
    atomic_fetch_sub(&e->q->w[e->worker].count, 1);
    atomic_fetch_sub(&e->q->total, 1);
    e->q = NULL;
}

uint32_t waitq_count(const struct waitq *q)
{
    return atomic_load(&q->total);
}

static void wake_entry(struct waitq_entry *e)
{
    if (e->wake)
        e->wake(e);
    else
        pipeline_resume(e->x);
}

/* Resumes the oldest local waiter (or all of them); runs on that worker. */
static void wake_local(struct waitq_worker *ww, bool all)
{
    if (dlist_empty(&ww->waiters))
        return;
    if (!all) {
        wake_entry(container_of(ww->waiters.next, struct waitq_entry, link));
        return;
    }
    /* Each resumed exchange may leave the list (or end): walk a snapshot of the count, always
     * taking the head, moving the still-waiting ones to the back. */
    uint32_t n = atomic_load(&ww->count);
    for (uint32_t i = 0; i < n && !dlist_empty(&ww->waiters); i++) {
        struct dlist *first = ww->waiters.next;
        struct waitq_entry *e = container_of(first, struct waitq_entry, link);
        dlist_remove(first);
        dlist_push_back(&ww->waiters, first);
        wake_entry(e);
    }
}

struct waitq_post {
    struct waitq_worker *ww;
    bool all;
};

static void on_posted(void *arg)
{
    struct waitq_post *p = arg;
    struct waitq *q = p->ww->q;
    wake_local(p->ww, p->all);
    free(p);
    waitq_unref(q);
}

static void post_wake(struct waitq *q, struct pipeline_worker *self, uint32_t to, bool all)
{
    struct waitq_post *p = malloc(sizeof(*p));
    if (!p)
        return; /* the waiter's deadline still ends its wait */
    *p = (struct waitq_post){.ww = &q->w[to], .all = all};
    waitq_ref(q);
    if (!self->post || self->post(self, to, on_posted, p) != 0) {
        free(p);
        waitq_unref(q);
    }
}

void waitq_wake_one(struct waitq *q, struct pipeline_worker *self)
{
    if (atomic_load(&q->total) == 0)
        return;
    uint32_t me = self->id < q->nworkers ? self->id : 0;
    if (atomic_load(&q->w[me].count)) {
        wake_local(&q->w[me], false);
        return;
    }
    uint32_t start = atomic_fetch_add(&q->rr, 1);
    for (uint32_t k = 0; k < q->nworkers; k++) {
        uint32_t to = (start + k) % q->nworkers;
        if (to != me && atomic_load(&q->w[to].count)) {
            post_wake(q, self, to, false);
            return;
        }
    }
}

void waitq_wake_all(struct waitq *q, struct pipeline_worker *self)
{
    if (atomic_load(&q->total) == 0)
        return;
    uint32_t me = self->id < q->nworkers ? self->id : 0;
    for (uint32_t to = 0; to < q->nworkers; to++) {
        if (!atomic_load(&q->w[to].count))
            continue;
        if (to == me)
            wake_local(&q->w[me], true);
        else
            post_wake(q, self, to, true);
    }
}

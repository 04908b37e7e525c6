/* upstream.c — see upstream.h. */
#include "proxy/upstream.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "event/sock.h"
#include "proxy/dlist.h"
#include "proxy/forward.h"
#include "proxy/worker.h"

/* admin/collect.c names these reasons in the same order, and shards keep 8 slots. */
_Static_assert(POOL_CLOSE_REASONS == 7, "update admin_pool_reason in admin/collect.c");

void pool_init(struct pool *p, struct worker *w, struct wconf *wc, const struct cfg_upstream *g,
               const struct cfg_server *s, struct server_state *st)
{
    *p = (struct pool){.w = w, .wc = wc, .group = g, .server = s, .st = st,
                       .m = w->id < metrics_workers() ? &st->m[w->id] : &st->m[0]};
    dlist_init(&p->idle);
    dlist_init(&p->waiters);
}

/* ---- connection slots (max_conns across workers) ------------------------------------ */

static bool slot_reserve(struct pool *p)
{
    uint32_t max = p->server->max_conns;
    if (!max) {
        atomic_fetch_add_explicit(&p->st->conns, 1, memory_order_relaxed);
        return true;
    }
    unsigned cur = atomic_load(&p->st->conns);
    while (cur < max)
        if (atomic_compare_exchange_weak(&p->st->conns, &cur, cur + 1))
            return true;
    return false;
}

static void wake_waiter(struct pool *p)
{
    if (dlist_empty(&p->waiters)) {
        /* None here: a pool of another worker may wait for this slot (posted there). */
        waitq_wake_one(p->st->slots, &p->w->pw);
        return;
    }
    struct client *c = container_of(p->waiters.next, struct h1x, wait_link)->c;
    pool_unwait(p, c);
    forward_slot_ready(c);
}

/* ---- closing ----------------------------------------------------------------------- */

static void upconn_free(void *arg)
{
    free(arg);
}

static void upconn_close(struct upconn *u, enum pool_close_reason why)
{
    struct worker *w = u->w;
    struct pool *p = u->pool;
    if (u->closed)
        return;
    u->closed = true;
    timer_disarm(&w->loop.timers, &u->timer);
    if (u->owner) {
        p->nbusy--;
    } else if (u->connecting) {
        p->nconnecting_warm--;
    } else {
        dlist_remove(&u->link);
        p->nidle--;
    }
    p->closed[why]++;
    mc_add(&p->m->pool_closed[why], 1);
    mc_add(&w->metrics.upstream_conns, (uint64_t)-1);
    close(u->io.fd);
    u->io.fd = -1;
    /* Sequentially consistent, like the waiters' count: a pool that starts waiting counts
     * itself before it tries for a slot once more, so it sees this or is woken by it. */
    atomic_fetch_sub(&p->st->conns, 1);
    worker_buf_put(w, u->in.data);
    u->in.data = NULL;
    /* Events for u may still be queued in this batch: free after it. */
    if (ev_defer(&w->loop, upconn_free, u) == -1)
        upconn_free(u); /* no later event can name it: fd is closed and io.fd is -1 */
    wake_waiter(p);     /* a slot is free */
}

void pool_close_idle(struct pool *p)
{
    while (!dlist_empty(&p->idle))
        upconn_close(container_of(p->idle.next, struct upconn, link), POOL_CLOSE_RETIRED);
}

void pool_fini(struct pool *p)
{
    pool_close_idle(p);
    waitq_remove(&p->slot_wait);
}

/* ---- events ------------------------------------------------------------------------ */

static void make_idle(struct upconn *u)
{
    struct pool *p = u->pool;
    dlist_push_front(&p->idle, &u->link);
    p->nidle++;
    upconn_arm(u, p->group->pool.idle_timeout_ms);
    wake_waiter(p);
}

static void on_upconn_event(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct upconn *u = (struct upconn *)io;
    if (!u->owner) {
        if (u->connecting) { /* a warm-up connect finished */
            int err = sock_connect_result(u->io.fd);
            if (err) {
                health_report(u->pool->st, u->pool->group, true, u->w->loop.now_ms);
                upconn_close(u, POOL_CLOSE_ERROR);
                return;
            }
            u->connecting = false;
            u->pool->nconnecting_warm--;
            make_idle(u);
            return;
        }
        /* Idle: the server closed it or sent bytes nobody asked for. */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            upconn_close(u, POOL_CLOSE_PEER);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->rdhup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        u->writable = true;
    forward_upstream_event(u->owner);
}

static void on_upconn_timer(struct timer *t)
{
    struct upconn *u = container_of(t, struct upconn, timer);
    if (u->owner)
        forward_upstream_timeout(u->owner);
    else
        upconn_close(u, u->connecting ? POOL_CLOSE_ERROR : POOL_CLOSE_IDLE_TIMEOUT);
}

void upconn_arm(struct upconn *u, uint32_t ms)
{
    timer_arm(&u->w->loop.timers, &u->timer, u->w->loop.now_ms + ms);
}

/* ---- acquiring --------------------------------------------------------------------- */

static bool expired(const struct pool *p, const struct upconn *u)
{
    uint32_t life = p->group->pool.max_lifetime_ms;
    return life && p->w->loop.now_ms - u->created_ms >= life;
}

/* A new connection (connect in flight) with a reserved slot; NULL with *err set. */
static struct upconn *upconn_open(struct pool *p, int *err)
{
    struct worker *w = p->w;
    if (!slot_reserve(p)) {
        *err = EAGAIN;
        return NULL;
    }
    struct upconn *u = calloc(1, sizeof(*u));
    int fd = u ? sock_connect((const struct sockaddr *)&p->server->addr.sa, p->server->addr.salen)
               : -1;
    if (fd == -1 || ev_io_add(&w->loop, &u->io, fd, on_upconn_event, true) == -1) {
        *err = u ? errno : ENOMEM;
        if (fd != -1)
            close(fd);
        free(u);
        atomic_fetch_sub_explicit(&p->st->conns, 1, memory_order_relaxed);
        return NULL;
    }
    u->w = w;
    u->pool = p;
    u->connecting = true;
    u->created_ms = w->loop.now_ms;
    dlist_init(&u->link);
    timer_init(&u->timer, on_upconn_timer);
    p->created++;
    mc_add(&p->m->pool_created, 1);
    mc_add(&w->metrics.upstream_conns, 1);
    return u;
}

struct upconn *pool_acquire(struct pool *p, struct client *owner, bool fresh, int *err)
{
    struct worker *w = p->w;
    struct upconn *u = NULL;
    while (!fresh && !dlist_empty(&p->idle)) {
        struct upconn *cand = container_of(p->idle.next, struct upconn, link);
        if (expired(p, cand)) {
            upconn_close(cand, POOL_CLOSE_MAX_LIFETIME);
            continue;
        }
        dlist_remove(&cand->link);
        p->nidle--;
        p->reused++;
        mc_add(&p->m->pool_reused, 1);
        timer_disarm(&w->loop.timers, &cand->timer);
        cand->reused = true;
        u = cand;
        break;
    }
    if (!u) {
        u = upconn_open(p, err);
        if (!u)
            return NULL;
    }
    char *buf = worker_buf_get(w);
    if (!buf) {
        u->owner = owner; /* counted busy so that the close below balances */
        p->nbusy++;
        upconn_close(u, POOL_CLOSE_ERROR);
        *err = ENOMEM;
        return NULL;
    }
    u->owner = owner;
    u->in = (struct buf){.data = buf, .cap = WORKER_BUF_SIZE};
    u->eof = u->rdhup = false;
    p->nbusy++;
    return u;
}

void upconn_release(struct upconn *u, bool reusable)
{
    struct pool *p = u->pool;
    const struct cfg_pool *cp = &p->group->pool;
    u->nrequests++;
    enum pool_close_reason why = POOL_CLOSE_REASONS;
    if (!reusable || u->in.len)
        why = POOL_CLOSE_ERROR;
    else if (u->eof || u->rdhup)
        why = POOL_CLOSE_PEER;
    else if (p->wc->retired || p->w->draining)
        why = POOL_CLOSE_RETIRED;
    else if (cp->max_requests && u->nrequests >= cp->max_requests)
        why = POOL_CLOSE_MAX_REQUESTS;
    else if (expired(p, u))
        why = POOL_CLOSE_MAX_LIFETIME;
    else if (p->nidle >= cp->max_idle ||
             (dlist_empty(&p->waiters) && atomic_load_explicit(&p->st->wanted,
                                                                memory_order_relaxed)))
        why = POOL_CLOSE_POOL_FULL; /* another worker waits for a slot: give it back */
    if (why != POOL_CLOSE_REASONS) {
        upconn_close(u, why);
        return;
    }
    p->nbusy--;
    u->owner = NULL;
    u->reused = false;
    u->readable = false;
    worker_buf_put(p->w, u->in.data);
    u->in.data = NULL;
    make_idle(u);
}

/* ---- waiting and warming ------------------------------------------------------------ */

/* Another worker freed a slot and posted the wake here. */
static void slot_freed_elsewhere(struct waitq_entry *e)
{
    wake_waiter(container_of(e, struct pool, slot_wait));
}

bool pool_slot_free(const struct pool *p)
{
    uint32_t max = p->server->max_conns;
    return !max || atomic_load(&p->st->conns) < max;
}

void pool_wait(struct pool *p, struct client *c)
{
    dlist_push_back(&p->waiters, &c->x->wait_link); /* served oldest first */
    c->x->waiting = true;
    if (p->nwaiters++ == 0) {
        atomic_fetch_add(&p->st->wanted, 1);
        p->slot_wait.wake = slot_freed_elsewhere;
        waitq_add_on(p->st->slots, &p->slot_wait, p->w->id);
    }
}

void pool_unwait(struct pool *p, struct client *c)
{
    if (!c->x->waiting)
        return;
    dlist_remove(&c->x->wait_link);
    c->x->waiting = false;
    if (--p->nwaiters == 0) {
        atomic_fetch_sub(&p->st->wanted, 1);
        waitq_remove(&p->slot_wait);
    }
}

void pool_publish(struct pool *p)
{
    mc_set(&p->m->pool_idle, p->nidle);
    mc_set(&p->m->pool_busy, p->nbusy);
    mc_set(&p->m->pool_waiters, p->nwaiters);
}

void pool_yield(struct pool *p)
{
    if (p->nidle && dlist_empty(&p->waiters) &&
        atomic_load_explicit(&p->st->wanted, memory_order_relaxed))
        upconn_close(container_of(p->idle.prev, struct upconn, link), POOL_CLOSE_POOL_FULL);
}

void pool_warm(struct pool *p)
{
    const struct cfg_pool *cp = &p->group->pool;
    if (p->wc->retired || p->w->draining || !lb_usable(&p->st->lb))
        return;
    while (p->nidle + p->nconnecting_warm < cp->min_idle) {
        int err;
        struct upconn *u = upconn_open(p, &err);
        if (!u)
            return;
        p->nconnecting_warm++;
        upconn_arm(u, p->group->connect_timeout_ms);
    }
}

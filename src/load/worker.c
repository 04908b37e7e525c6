/* worker.c — one load thread: schedule, connections, recording; see worker.h. */
#include "load/worker.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/dlist.h" /* container_of */

#define WORKER_TICK_MS 50
#define WORKER_RETRY_US 100000 /* reconnect pause after a failed connection */
#define WORKER_LATE_US 1000    /* a send this much after its intended time is late */
#define WORKER_OPENING_MAX 16  /* connections being opened at once (open model's growth) */

/* One more connection slot (not opened); NULL when out of memory. */
static struct conn *conn_slot_new(struct worker *w)
{
    if (w->nconns == w->conns_cap) {
        uint32_t cap = w->conns_cap ? w->conns_cap * 2 : 16;
        struct conn **cs = realloc(w->conns, cap * sizeof(*cs));
        if (!cs)
            return NULL;
        w->conns = cs;
        struct conn **av = realloc(w->avail, cap * sizeof(*av));
        if (!av)
            return NULL;
        w->avail = av;
        w->conns_cap = cap;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->io.fd = -1;
    c->w = w;
    w->conns[w->nconns++] = c;
    return c;
}

int worker_init(struct worker *w, uint32_t id, uint32_t nconns, const struct worker_cfg *cfg)
{
    *w = (struct worker){.id = id, .cfg = cfg, .tfd = -1,
                         .rng = 0x9e3779b97f4a7c15ull * (id + 1)};
    pthread_mutex_init(&w->mu, NULL);
    w->nsec_slots = (uint32_t)(cfg->sched->total_us / 1000000u) + 1;
    w->ok_by_sec = calloc(w->nsec_slots, sizeof(*w->ok_by_sec));
    w->bl_cap = 1024;
    w->backlog = malloc(w->bl_cap * sizeof(*w->backlog));
    if (stats_init(&w->share) == -1 || stats_init(&w->spare) == -1 || !w->backlog ||
        !w->ok_by_sec)
        return -1;
    for (uint32_t i = 0; i < nconns; i++)
        if (!conn_slot_new(w))
            return -1;
    return 0;
}

void worker_free(struct worker *w)
{
    for (uint32_t i = 0; w->conns && i < w->nconns; i++) {
        free(w->conns[i]->in);
        free(w->conns[i]->out);
        free(w->conns[i]);
    }
    free(w->conns);
    free(w->avail);
    free(w->backlog);
    free(w->ok_by_sec);
    stats_free(&w->share);
    stats_free(&w->spare);
    pthread_mutex_destroy(&w->mu);
}

void worker_take(struct worker *w, struct stats *dst)
{
    /* swap under the lock, merge outside it: the worker never waits for a merge */
    pthread_mutex_lock(&w->mu);
    struct stats s = w->share;
    w->share = w->spare;
    w->spare = s;
    pthread_mutex_unlock(&w->mu);
    stats_add(dst, &w->spare);
    stats_reset(&w->spare);
}

static void avail_push(struct worker *w, struct conn *c)
{
    if (!c->in_avail && !c->dead && c->qn < w->cfg->depth) {
        c->in_avail = true;
        w->avail[w->navail++] = c;
    }
}

/* A connection with a free slot, or NULL. Full or dead ones found on top are dropped. */
static struct conn *avail_top(struct worker *w)
{
    while (w->navail) {
        struct conn *c = w->avail[w->navail - 1];
        if (!c->dead && c->qn < w->cfg->depth)
            return c;
        c->in_avail = false;
        w->navail--;
    }
    return NULL;
}

static bool sending_allowed(struct worker *w, uint64_t now_us)
{
    return !w->sending_over && now_us < w->cfg->start_us + w->cfg->sched->total_us;
}

static void send_due(struct worker *w);
static void worker_grow(struct worker *w);
static void worker_start_conn(struct worker *w, struct conn *c);

/* Open model: sends the request intended at t on c, counting its send lag. */
static void send_intended(struct worker *w, struct conn *c, uint64_t t)
{
    uint64_t lag = ev_clock_us() - t;
    pthread_mutex_lock(&w->mu);
    w->share.c.sent++;
    hdr_record(w->share.lag, lag);
    if (lag > WORKER_LATE_US)
        w->share.c.late++;
    pthread_mutex_unlock(&w->mu);
    conn_send(c, t);
}

/* Sends on c; the backlog first (open model), else the next request (closed model). */
void worker_conn_free_slot(struct worker *w, struct conn *c)
{
    uint64_t now = ev_clock_us();
    const struct sched *s = w->cfg->sched;
    while (!c->dead && c->qn < w->cfg->depth) {
        if (s->open) {
            if (w->bl_n == 0 || w->sending_over)
                break;
            uint64_t t = w->backlog[w->bl_head];
            w->bl_head = (w->bl_head + 1) % w->bl_cap;
            w->bl_n--;
            send_intended(w, c, t);
        } else {
            if (!sending_allowed(w, now))
                break;
            pthread_mutex_lock(&w->mu);
            w->share.c.sent++;
            pthread_mutex_unlock(&w->mu);
            conn_send(c, now);
        }
    }
    avail_push(w, c);
    /* a send that fell due while this batch of answers was being read goes now, not after
     * the batch (a busy loop would otherwise add its batch time to the send lag) */
    if (s->open && !w->sending_over && w->next_due_us != SCHED_NEVER &&
        ev_clock_us() >= w->next_due_us)
        send_due(w);
}

/* A connection stops counting as being opened. */
static void opening_done(struct worker *w, struct conn *c)
{
    if (c->opening) {
        c->opening = false;
        w->nopening--;
    }
}

void worker_conn_sent(struct worker *w, struct conn *c)
{
    if (c->opening && c->added) { /* carried a request from the backlog at once */
        uint64_t cost = ev_clock_us() - c->opened_us;
        w->open_cost_us = w->open_cost_us ? (7 * w->open_cost_us + cost) / 8 : cost;
        c->added = false;
    }
    opening_done(w, c);
}

void worker_conn_connected(struct worker *w, struct conn *c)
{
    if (w->cfg->sched->open)
        worker_conn_free_slot(w, c); /* the backlog may be waiting for it */
}

void worker_conn_lost(struct worker *w, struct conn *c)
{
    opening_done(w, c);
    c->retry_at_us = ev_clock_us() + WORKER_RETRY_US;
}

static void reconnect_now(void *arg)
{
    struct conn *c = arg;
    if (c->dead && c->io.fd == -1 && !c->w->sending_over)
        worker_start_conn(c->w, c);
}

void worker_conn_ended(struct worker *w, struct conn *c)
{
    opening_done(w, c);
    /* after the current batch of events (the loop must not see this ev_io re-added while it
     * is dispatching it); the tick retries if that fails */
    c->retry_at_us = ev_clock_us();
    ev_defer(&w->loop, reconnect_now, c);
}

void worker_record(struct worker *w, const struct conn_req *r, uint64_t now_us, int status,
                   uint64_t bytes)
{
    pthread_mutex_lock(&w->mu);
    struct stats_counts *c = &w->share.c;
    c->done++;
    c->bytes_in += bytes;
    if (status >= 500)
        c->s5xx++;
    else if (status >= 400)
        c->s4xx++;
    else
        c->ok++;
    if (status < 400 && r->intended_us >= w->cfg->start_us) {
        uint64_t sec = (r->intended_us - w->cfg->start_us) / 1000000u;
        if (sec < w->nsec_slots)
            w->ok_by_sec[sec]++;
    }
    hdr_record(w->share.corr, now_us - r->intended_us);
    hdr_record(w->share.unc, now_us - r->sent_us);
    pthread_mutex_unlock(&w->mu);
}

void worker_record_fail(struct worker *w, uint32_t n, bool timeout)
{
    pthread_mutex_lock(&w->mu);
    if (timeout)
        w->share.c.timeouts += n;
    else
        w->share.c.errors += n;
    pthread_mutex_unlock(&w->mu);
}

static void backlog_push(struct worker *w, uint64_t t)
{
    if (w->bl_n == w->bl_cap) {
        uint32_t cap = w->bl_cap * 2;
        uint64_t *b = malloc(cap * sizeof(*b));
        if (!b) {
            worker_record_fail(w, 1, false);
            return;
        }
        for (uint32_t i = 0; i < w->bl_n; i++)
            b[i] = w->backlog[(w->bl_head + i) % w->bl_cap];
        free(w->backlog);
        w->backlog = b;
        w->bl_cap = cap;
        w->bl_head = 0;
    }
    w->backlog[(w->bl_head + w->bl_n) % w->bl_cap] = t;
    w->bl_n++;
}

static void arm_tfd(struct worker *w, uint64_t abs_us)
{
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(abs_us / 1000000u),
                                          .tv_nsec = (long)(abs_us % 1000000u) * 1000}};
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void next_due(struct worker *w)
{
    uint64_t t = sched_time_of(w->cfg->sched, w->next_n);
    w->next_due_us = t == SCHED_NEVER ? SCHED_NEVER : w->cfg->start_us + t;
}

/* Open model: sends every request whose intended time has come, then arms the timerfd for
 * the next one. */
static void send_due(struct worker *w)
{
    uint64_t now = ev_clock_us();
    while (w->next_due_us != SCHED_NEVER && w->next_due_us <= now && !w->sending_over) {
        uint64_t t = w->next_due_us;
        w->next_n += w->cfg->nthreads;
        next_due(w);
        struct conn *c = w->bl_n ? NULL : avail_top(w);
        if (!c) {
            pthread_mutex_lock(&w->mu);
            w->share.c.conn_waits++;
            pthread_mutex_unlock(&w->mu);
            backlog_push(w, t);
            worker_grow(w);
            continue;
        }
        send_intended(w, c, t);
        now = ev_clock_us();
    }
    if (w->next_due_us != SCHED_NEVER)
        arm_tfd(w, w->next_due_us);
}

static void on_tfd(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct worker *w = container_of(io, struct worker, tfd_io);
    uint64_t exp;
    while (read(w->tfd, &exp, sizeof(exp)) > 0) {
    }
    send_due(w);
}

/* Open model: the backlog holds more requests than connections are being opened; one more
 * connection if the cap allows (the backlog drains onto it once it connects). A connection
 * counts as being opened until its first bytes went out — past the connect and, for TLS, the
 * handshake — only when the oldest waiting request has waited longer than opening one takes,
 * and at most WORKER_OPENING_MAX are being opened at once, so the growth is paced
 * by how long one takes to open: cheap ones (TCP nearby) come by the thousand per second,
 * while a burst of waiting requests does not start a connect and a handshake each, all
 * adding to the load that made them wait and overflowing the server's accept queue (SYNs
 * dropped: 1 s retries). Measured before this limit: 10 -> 2257 connections in 3 s at 5000
 * req/s over TLS, the answers falling to 900/s with p50 1.6 s. */
static void worker_grow(struct worker *w)
{
    if (w->bl_n <= w->nopening || w->nopening >= WORKER_OPENING_MAX)
        return;
    /* only when it helps: the oldest waiting request has waited longer than opening a
     * connection takes (measured), else an existing one frees first. Handshakes that slow
     * down under load thus slow the growth down too. */
    if (ev_clock_us() - w->backlog[w->bl_head] < w->open_cost_us)
        return;
    if (w->nconns >= w->cfg->max_conns) {
        pthread_mutex_lock(&w->mu);
        w->share.c.conn_full++;
        pthread_mutex_unlock(&w->mu);
        return;
    }
    struct conn *c = conn_slot_new(w);
    if (!c)
        return;
    worker_start_conn(w, c);
    c->added = true;
    c->opened_us = ev_clock_us();
    if (c->dead) { /* no socket (out of descriptors?): not kept as a slot to retry */
        w->nconns--;
        free(c->in);
        free(c);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->share.c.conns_added++;
    pthread_mutex_unlock(&w->mu);
}

static void worker_start_conn(struct worker *w, struct conn *c)
{
    if (conn_open(w, c) == -1) {
        c->dead = true;
        c->retry_at_us = ev_clock_us() + WORKER_RETRY_US;
        return;
    }
    if (w->cfg->sched->open) {
        c->opening = true;
        w->nopening++;
        avail_push(w, c);
    } else {
        worker_conn_free_slot(w, c);
    }
}

static bool all_idle(const struct worker *w)
{
    for (uint32_t i = 0; i < w->nconns; i++)
        if (!w->conns[i]->dead && w->conns[i]->qn)
            return false;
    return true;
}

static void on_tick(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, tick);
    uint64_t now = ev_clock_us();
    uint64_t end = w->cfg->start_us + w->cfg->sched->total_us;
    if (atomic_load(&w->stop) && !w->sending_over && now < end)
        w->stopped_at_us = now; /* interrupted: in-flight answers still get the grace time */
    if (atomic_load(&w->stop) || now >= end)
        w->sending_over = true;
    if (w->stopped_at_us)
        end = w->stopped_at_us;
    for (uint32_t i = 0; i < w->nconns; i++) {
        struct conn *c = w->conns[i];
        conn_check_timeout(c, now);
        if (c->dead && c->io.fd == -1 && !w->sending_over && now >= c->retry_at_us)
            worker_start_conn(w, c);
    }
    if (w->sending_over && (all_idle(w) || now >= end + w->cfg->grace_us)) {
        ev_loop_stop(&w->loop);
        return;
    }
    timer_arm(&w->loop.timers, &w->tick, w->loop.now_ms + WORKER_TICK_MS);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake for sends within µs, not 50 µs */
    /* Send lag on a busy machine is run-queue wait: the timerfd fires on time, but a woken
     * SCHED_OTHER thread waits behind the other runnable threads of its core (measured: p99
     * 2.4 ms at load 5, 77 µs with SCHED_FIFO). The threads block in epoll between sends, and
     * the kernel's RT throttling keeps 5 % of each core for the rest. */
    if (w->cfg->realtime) {
        struct sched_param sp = {.sched_priority = 1};
        w->rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    }
    if (ev_loop_init(&w->loop) == -1)
        return NULL;
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->tfd == -1 || ev_io_add(&w->loop, &w->tfd_io, w->tfd, on_tfd, false) == -1)
        goto out;
    timer_init(&w->tick, on_tick);
    timer_arm(&w->loop.timers, &w->tick, w->loop.now_ms + WORKER_TICK_MS);
    /* connect ahead of t = 0 so the first sends find open connections */
    for (uint32_t i = 0; i < w->nconns; i++)
        if (w->cfg->sched->open)
            worker_start_conn(w, w->conns[i]);
    if (w->cfg->sched->open) {
        w->next_n = w->id;
        next_due(w);
        if (w->next_due_us != SCHED_NEVER)
            arm_tfd(w, w->next_due_us);
    } else {
        while (ev_clock_us() < w->cfg->start_us)
            usleep(200);
        for (uint32_t i = 0; i < w->nconns; i++)
            worker_start_conn(w, w->conns[i]);
    }
    ev_loop_run(&w->loop);
    uint32_t unsent = w->bl_n;
    uint32_t unfinished = 0;
    for (uint32_t i = 0; i < w->nconns; i++) {
        unfinished += w->conns[i]->dead ? 0 : w->conns[i]->qn;
        conn_close(w->conns[i]);
    }
    pthread_mutex_lock(&w->mu);
    w->share.c.timeouts += unfinished; /* no answer by the end of the grace time */
    pthread_mutex_unlock(&w->mu);
    w->bl_n = unsent; /* left for the report (worker->bl_n) */
out:
    if (w->tfd != -1)
        close(w->tfd);
    w->tfd = -1;
    ev_loop_destroy(&w->loop);
    return NULL;
}

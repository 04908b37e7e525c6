/* worker.c — the worker thread: its loop, listeners, commands from the main thread (its config
 * generations are wconf.c), and its memory: free lists of buffers and client structs, and
 * giving memory back to the system when the load is gone. See worker.h for the threading contract. */
#include "proxy/worker.h"

#include <errno.h>
#include <linux/filter.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "event/sock.h"
#include "proxy/client.h"
#include "proxy/fetch.h"
#include "proxy/dlist.h"
#include "state/state_events.h"
#include "proxy/upstream.h"
#include "proxy/wconf.h"
#include "resilience/health.h"

#define FREE_BUFS_MAX 256
#define FREE_CLIENTS_MAX 1024
#define FREE_XS_MAX 256
#define HANDOVER_MS 100 /* draining: listeners stay open this long after steering away */
/* Blocks a list keeps however long it goes unused. None: a block that waited a whole period
 * is worth less than the pages it pins (after a lull, the first requests call malloc). */
#define FREE_KEEP 0
/* How often the free lists decay and the worker considers giving memory back. */
#define MEM_PERIOD_MS 1000
/* Freed bytes worth a malloc_trim (about a hundred connections' buffers and structs). */
#define TRIM_MIN_FREED (4u << 20)

/* ---- memory -------------------------------------------------------------------------- */

char *worker_buf_get(struct worker *w)
{
    char *buf = freelist_get(&w->free_bufs);
    return buf ? buf : malloc(WORKER_BUF_SIZE);
}

void worker_buf_put(struct worker *w, char *buf)
{
    if (buf && !freelist_put(&w->free_bufs, buf)) {
        free(buf);
        w->mem_freed += WORKER_BUF_SIZE;
    }
}

struct h1x *worker_x_get(struct worker *w)
{
    struct h1x *x = freelist_get(&w->free_xs);
    if (!x)
        x = malloc(sizeof(*x));
    if (x && ++w->nexchanges > w->mem_peak_exchanges)
        w->mem_peak_exchanges = w->nexchanges;
    return x;
}

void worker_x_put(struct worker *w, struct h1x *x)
{
    if (x)
        w->nexchanges--;
    if (x && !freelist_put(&w->free_xs, x)) {
        free(x);
        w->mem_freed += sizeof(*x);
    }
}

struct client *worker_client_get(struct worker *w)
{
    struct client *c = freelist_get(&w->free_clients);
    return c ? c : malloc(sizeof(*c));
}

void worker_client_put(struct worker *w, struct client *c)
{
    if (c && !freelist_put(&w->free_clients, c)) {
        free(c);
        w->mem_freed += sizeof(*c);
    }
}

/* Once a period: the free lists drop what they did not need, and when the worker has freed
 * enough and its exchanges in progress fell to half their peak since it last did (idle
 * keep-alive connections hold none: thousands of them are a quiet worker), it hands malloc's free
 * memory back to the system. glibc keeps freed memory in the arenas (one per thread) for
 * reuse; malloc_trim(0) releases every free page of every arena (MADV_DONTNEED). It locks
 * each arena in turn and walks its free chunks, so it never runs on the request path and at
 * most once a period; under steady load (exchanges near their peak) it does not run at all. */
static void mem_tick(struct worker *w)
{
    uint32_t bufs = freelist_decay(&w->free_bufs, FREE_KEEP);
    uint32_t clients = freelist_decay(&w->free_clients, FREE_KEEP);
    uint32_t xs = freelist_decay(&w->free_xs, FREE_KEEP);
    w->mem_freed += (uint64_t)bufs * WORKER_BUF_SIZE + (uint64_t)clients * sizeof(struct client) +
                    (uint64_t)xs * sizeof(struct h1x);
    if (w->mem_freed < TRIM_MIN_FREED || w->nexchanges > w->mem_peak_exchanges / 2)
        return;
#ifdef __GLIBC__
    uint64_t t0 = ev_clock_us();
    malloc_trim(0);
    log_debug("worker %u: %u exchanges (peak %u), %llu KiB freed: malloc_trim took %llu us",
              w->id, w->nexchanges, w->mem_peak_exchanges,
              (unsigned long long)(w->mem_freed >> 10),
              (unsigned long long)(ev_clock_us() - t0));
#endif
    w->mem_freed = 0;
    w->mem_peak_exchanges = w->nexchanges;
}

/* ---- ids ----------------------------------------------------------------------------- */

uint64_t worker_rand(struct worker *w)
{
    /* xorshift128+: fast, per-worker, seeded from getrandom(); not for secrets. */
    uint64_t s1 = w->rng[0];
    const uint64_t s0 = w->rng[1];
    w->rng[0] = s0;
    s1 ^= s1 << 23;
    w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return w->rng[1] + s0;
}

/* The eight nibbles of v as lowercase hex, least significant first (byte i = nibble i), eight
 * bytes at a time instead of a table lookup per digit: every request that brings no
 * X-Request-Id gets one. */
static void hex8(char *out, uint32_t v)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t x = v;
    x = (x | x << 16) & 0x0000ffff0000ffffull;
    x = (x | x << 8) & 0x00ff00ff00ff00ffull;
    x = (x | x << 4) & 0x0f0f0f0f0f0f0f0full; /* byte i = nibble i */
    uint64_t letter = ((x + ones * 6) >> 4) & ones; /* 1 where the nibble is 10..15 */
    x += ones * '0' + letter * ('a' - '0' - 10);
    memcpy(out, &x, 8); /* byte i to out[i] (little-endian; a random id minds no order) */
}

void worker_request_id(struct worker *w, char out[33])
{
    uint64_t a = worker_rand(w), b = worker_rand(w);
    hex8(out, (uint32_t)a);
    hex8(out + 8, (uint32_t)(a >> 32));
    hex8(out + 16, (uint32_t)b);
    hex8(out + 24, (uint32_t)(b >> 32));
    out[32] = '\0';
}

/* ---- listeners ----------------------------------------------------------------------- */

/* How long accepting pauses when the process is out of descriptors (or memory): the queued
 * connections wait in the kernel's listen queue instead of failing one accept4 each. */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_PAUSE_TEXT "not accepting for 100 ms"

_Static_assert(SOCK_LOCAL_KINDS <= METRICS_LOCAL_KINDS, "metrics.h: METRICS_LOCAL_KINDS");

void worker_local_error(struct worker *w, enum metrics_local_op op, int err)
{
    static const char *const what[MLO_COUNT] = {
        [MLO_ACCEPT] = "accept",
        [MLO_CONNECT] = "upstream connect",
    };
    static const char *const then[MLO_COUNT] = {
        [MLO_ACCEPT] = ACCEPT_PAUSE_TEXT,
        [MLO_CONNECT] = "answering 503; the server is not blamed",
    };
    int kind = sock_local_error(err);
    if (kind >= 0)
        mc_add(&w->metrics.local_errors[op][kind], 1);
    log_msg_limited(&w->local_log[op], w->loop.now_ms, LOG_WARN, "worker %u: %s: %s; %s", w->id,
                    what[op], strerror(err), then[op]);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t events);

/* Registers the listeners, then accepts what queued up meanwhile: the edge that announced
 * those connections was consumed. */
static void listeners_register(struct worker *w)
{
    for (uint32_t a = 0; a < w->nlisteners; a++) {
        struct worker_listener *l = &w->listeners[a];
        if (ev_io_add(&w->loop, &l->io, l->fd, on_accept, false) == -1) {
            log_error("worker %u: epoll_ctl listener: %s", w->id, strerror(errno));
            l->io.fd = -1;
        }
    }
    for (uint32_t a = 0; a < w->nlisteners && !w->accept_paused; a++)
        if (w->listeners[a].io.fd != -1)
            on_accept(&w->loop, &w->listeners[a].io, EPOLLIN);
}

/* Stops accepting for ACCEPT_PAUSE_MS (nginx and HAProxy do the same): with no descriptor
 * left, every arriving connection would wake the loop for an accept4 that fails. */
static void accept_pause(struct worker *w)
{
    w->accept_paused = true;
    for (uint32_t a = 0; a < w->nlisteners; a++)
        ev_io_del(&w->loop, &w->listeners[a].io);
    timer_arm(&w->loop.timers, &w->accept_timer, w->loop.now_ms + ACCEPT_PAUSE_MS);
}

static void on_accept_timer(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, accept_timer);
    w->accept_paused = false;
    if (!w->draining)
        listeners_register(w);
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct worker_listener *l = (struct worker_listener *)io;
    struct worker *w = l->w;
    while (!w->accept_paused) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (sock_local_error(errno) >= 0) {
                worker_local_error(w, MLO_ACCEPT, errno);
                accept_pause(w);
                return;
            }
            log_msg_limited(&w->accept_log, w->loop.now_ms, LOG_WARN, "worker %u: accept: %s",
                            w->id, strerror(errno));
            return;
        }
        client_accept(w, fd, &peer, l->idx);
    }
}

/* Unregisters the current listeners and frees their array after the event batch (an accept
 * event for them may still be queued). */
static void listeners_drop(struct worker *w)
{
    for (uint32_t i = 0; i < w->nlisteners; i++) {
        ev_io_del(&w->loop, &w->listeners[i].io);
        w->listeners[i].io.fd = -1;
    }
    if (w->listeners && (w->loop.stop || ev_defer(&w->loop, free, w->listeners) == -1))
        free(w->listeners);
    w->listeners = NULL;
    w->nlisteners = 0;
}

/* Registers this worker's fd of every address in ls; keeps registrations that still apply.
 * While accepting is paused, the pause's end registers them. */
static void listeners_apply(struct worker *w, const struct listener_set *ls)
{
    struct worker_listener *nl = calloc(ls->naddrs ? ls->naddrs : 1, sizeof(*nl));
    if (!nl) {
        log_error("worker %u: out of memory applying listeners", w->id);
        return;
    }
    for (uint32_t a = 0; a < ls->naddrs; a++) {
        nl[a] = (struct worker_listener){.w = w, .fd = ls->fds[a * ls->nworkers + w->id],
                                         .idx = (uint16_t)a};
        nl[a].io.fd = -1;
    }
    /* Drop every registration; the ones still wanted are registered again below. */
    listeners_drop(w);
    w->listeners = nl;
    w->nlisteners = ls->naddrs;
    if (!w->accept_paused)
        listeners_register(w);
}

/* ---- stopping ------------------------------------------------------------------------ */

static void maybe_finish_drain(struct worker *w)
{
    if (w->draining && !w->handover && w->nclients == 0)
        ev_loop_stop(&w->loop);
}

void worker_client_gone(struct worker *w)
{
    w->nclients--;
    maybe_finish_drain(w);
}

static void abort_all_clients(struct worker *w)
{
    while (!dlist_empty(&w->clients))
        client_abort(container_of(w->clients.next, struct client, link));
}

static void on_drain_deadline(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, drain_timer);
    if (w->nclients)
        log_warn("worker %u: shutdown deadline reached, closing %u connections", w->id,
                 w->nclients);
    abort_all_clients(w);
    ev_loop_stop(&w->loop);
}

/* Binary upgrade (docs/deploy.md): a new weir bound the same ports after this one, so each
 * port's SO_REUSEPORT group holds this process's nworkers sockets at indexes 0..n-1, then the
 * new one's. Closing a listener resets the connections queued to it, and one completing its
 * handshake between our last accept and the close would be lost. So first steer the group's
 * new connections to index n: a socket of the new process, and still one of its sockets while
 * ours close (closing the socket at slot i moves the group's last socket into slot i, so slot n
 * keeps a new socket until the group has shrunk to the new ones, and then an index past the
 * end makes the kernel pick by hash among them). Without a new process index n is past the end
 * from the start and nothing changes. Then keep accepting for HANDOVER_MS while connections
 * already queued here complete, and close. */
static void steer_away(struct worker *w)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_RET | BPF_K, w->nworkers),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    for (uint32_t i = 0; i < w->nlisteners; i++)
        if (setsockopt(w->listeners[i].fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                       sizeof(prog)) == -1) /* best effort: the close below is then as before */
            log_warn("worker %u: SO_ATTACH_REUSEPORT_CBPF: %s", w->id, strerror(errno));
}

/* Connections the kernel completed but nobody accepted would be reset when the listening
 * socket closes at exit: take them in (they are drained like the others), then stop listening,
 * so that later connects are refused at once instead of queued to be reset. */
static void close_listeners(struct worker *w)
{
    for (uint32_t i = 0; i < w->nlisteners; i++) {
        on_accept(&w->loop, &w->listeners[i].io, EPOLLIN);
        shutdown(w->listeners[i].fd, SHUT_RDWR);
    }
    listeners_drop(w);
}

static void on_handover_end(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, handover_timer);
    w->handover = false;
    close_listeners(w);
    maybe_finish_drain(w);
}

/* handover: another process listens on our ports (the main thread looked: server.c). Alone,
 * keeping the listeners open would only let clients queue connections that the close then
 * resets: close at once (connects are then refused). */
static void start_drain(struct worker *w, bool handover)
{
    if (w->draining)
        return;
    w->draining = true;
    w->handover = handover && w->nlisteners;
    if (w->handover) {
        steer_away(w);
        timer_arm(&w->loop.timers, &w->handover_timer, ev_now_update(&w->loop) + HANDOVER_MS);
    } else {
        close_listeners(w);
    }
    /* client_drain may close (and unlink) the client: walk with a saved next pointer. */
    for (struct dlist *n = w->clients.next, *next; n != &w->clients; n = next) {
        next = n->next;
        client_drain(container_of(n, struct client, link));
    }
    timer_arm(&w->loop.timers, &w->drain_timer, w->loop.now_ms + w->wc->cfg->timeouts.shutdown_ms);
    maybe_finish_drain(w);
}

/* ---- calls from other workers --------------------------------------------------------- */

/* pipeline_worker.post: queues fn(arg) for worker `to` and wakes it. Any thread. */
static int post_call(struct pipeline_worker *self, uint32_t to, void (*fn)(void *arg), void *arg)
{
    struct worker *w = self->host;
    if (to >= w->nworkers)
        return -1;
    struct worker *t = &w->peers[to];
    pthread_mutex_lock(&t->mbox_lock);
    if (t->nmbox == t->mbox_cap) {
        uint32_t cap = t->mbox_cap ? t->mbox_cap * 2 : 64;
        struct worker_call *m = realloc(t->mbox, cap * sizeof(*m));
        if (!m) {
            pthread_mutex_unlock(&t->mbox_lock);
            return -1;
        }
        t->mbox = m;
        t->mbox_cap = cap;
    }
    t->mbox[t->nmbox++] = (struct worker_call){.fn = fn, .arg = arg};
    pthread_mutex_unlock(&t->mbox_lock);
    uint64_t one = 1;
    ssize_t n = write(t->cmd_fd, &one, sizeof(one));
    (void)n; /* a full eventfd counter still wakes the worker */
    return 0;
}

/* Runs the calls posted to w (swapping the queue out under the lock: a call may post more). */
static void run_calls(struct worker *w)
{
    for (;;) {
        pthread_mutex_lock(&w->mbox_lock);
        uint32_t n = w->nmbox;
        struct worker_call *calls = w->mbox;
        w->mbox = NULL;
        w->nmbox = w->mbox_cap = 0;
        pthread_mutex_unlock(&w->mbox_lock);
        if (!n) {
            free(calls);
            return;
        }
        for (uint32_t i = 0; i < n; i++)
            calls[i].fn(calls[i].arg);
        free(calls);
    }
}

/* ---- commands from the main thread ---------------------------------------------------- */

static void apply_reload(struct worker *w)
{
    struct config *cfg = atomic_exchange(&w->next_cfg, NULL);
    if (!cfg)
        return;
    struct wconf *wc = wconf_new(w, cfg);
    if (!wc) {
        log_error("worker %u: out of memory applying configuration %llu; keeping the old one",
                  w->id, (unsigned long long)cfg->generation);
    } else {
        wconf_retire(w, w->wc);
        w->wc = wc;
        wc->users++; /* the worker's own reference to its current generation */
        wconf_start_probes(w, wc);
        if (!w->draining)
            listeners_apply(w, w->pending_ls);
        /* HTTP/2 connections say GOAWAY: their streams finish, the clients reconnect to the
         * new listeners' settings (HTTP/1.1 connections change between requests anyway). */
        for (struct dlist *n = w->clients.next, *next; n != &w->clients; n = next) {
            next = n->next;
            struct client *c = container_of(n, struct client, link);
            if (c->h2)
                client_drain(c);
        }
    }
    atomic_store(&w->applied_generation, cfg->generation);
    config_unref(cfg); /* the reference worker_reload took for the hand-over */
}

static void on_command(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct worker *w = container_of(io, struct worker, cmd_io);
    uint64_t v;
    while (read(w->cmd_fd, &v, sizeof(v)) > 0) {
    }
    run_calls(w);
    unsigned cmds = atomic_exchange(&w->cmds, 0);
    if (cmds & WCMD_FAST) {
        abort_all_clients(w);
        ev_loop_stop(&w->loop);
        return;
    }
    if (cmds & WCMD_RELOAD)
        apply_reload(w);
    if (cmds & WCMD_GRACEFUL)
        start_drain(w, cmds & WCMD_HANDOVER);
}

/* Every 100 ms: passive cool-offs and slow start for the servers this worker checks, warm
 * connections for every pool of the current generation; every MEM_PERIOD_MS, memory. */
static void on_health_timer(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, health_timer);
    struct wconf *wc = w->wc;
    uint64_t now = w->loop.now_ms;
    /* How late this timer fired is the loop's lag: what load shedding watches. */
    w->pw.loop_lag_ms = w->health_due_ms && now > w->health_due_ms ? (uint32_t)(now - w->health_due_ms)
                                                                  : 0;
    mc_set(&w->metrics.loop_lag_ms, w->pw.loop_lag_ms);
    mc_set(&w->metrics.active_clients, w->nclients);
    for (uint32_t g = 0; wc && g < wc->cfg->nupstreams; g++) {
        struct wgroup *grp = &wc->groups[g];
        for (uint32_t s = 0; s < grp->cfg->nservers; s++) {
            if (health_checker_of(grp->states[s], w->nworkers) == w->id)
                health_tick(grp->states[s], grp->cfg, now);
            if (grp->cfg->pool.min_idle)
                pool_warm(&grp->pools[s]);
            pool_yield(&grp->pools[s]);
            pool_publish(&grp->pools[s]);
        }
    }
    if (w->nexchanges > w->mem_peak_exchanges)
        w->mem_peak_exchanges = w->nexchanges;
    if (now >= w->mem_due_ms) {
        mem_tick(w);
        w->mem_due_ms = now + MEM_PERIOD_MS;
    }
    w->health_due_ms = now + 100;
    timer_arm(&w->loop.timers, t, w->health_due_ms);
}

static void on_flush_timer(struct timer *t)
{
    struct worker *w = container_of(t, struct worker, flush_timer);
    accesslog_flush(&w->alog);
    timer_arm(&w->loop.timers, t, w->loop.now_ms + 1000);
}

/* ---- thread --------------------------------------------------------------------------- */

/* state_post.post for worker 0's subscriber: fn(arg) on this worker, from any thread. */
static int post_self(void *ctx, void (*fn)(void *arg), void *arg)
{
    struct worker *w = ctx;
    return post_call(&w->pw, w->id, fn, arg);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    listeners_apply(w, w->pending_ls);
    wconf_start_probes(w, w->wc);
    timer_arm(&w->loop.timers, &w->flush_timer, w->loop.now_ms + 1000);
    timer_arm(&w->loop.timers, &w->health_timer, w->loop.now_ms + 100);
    /* This worker's Redis connection (state: backend redis); worker 0 also hears the other
     * instances' events. Made with the first config: a reload does not move it. */
    const struct state_post self = {.post = post_self, .ctx = w};
    state_thread_start(&w->loop, w->wc->cfg, w->wc->cfg->state.pool_size,
                       w->id == 0 ? &self : NULL);
    ev_loop_run(&w->loop);

    abort_all_clients(w);
    fetch_abort_all(w);
    state_thread_stop();
    listeners_drop(w);
    accesslog_flush(&w->alog);
    accesslog_shard_free(&w->alog);
    atomic_store(&w->exited, true);
    return NULL;
}

int worker_start(struct worker *w, uint32_t id, struct server *srv, struct config *cfg,
                 const struct listener_set *ls)
{
    *w = (struct worker){.id = id, .srv = srv, .cmd_fd = -1};
    dlist_init(&w->clients);
    dlist_init(&w->fetches);
    timer_init(&w->drain_timer, on_drain_deadline);
    timer_init(&w->handover_timer, on_handover_end);
    timer_init(&w->flush_timer, on_flush_timer);
    timer_init(&w->health_timer, on_health_timer);
    timer_init(&w->accept_timer, on_accept_timer);
    w->nworkers = cfg->workers;
    w->peers = w - id; /* w is srv->workers[id] */
    pthread_mutex_init(&w->mbox_lock, NULL);
    w->pw = (struct pipeline_worker){.loop = &w->loop, .id = id, .nworkers = cfg->workers,
                                     .post = post_call, .host = w, .metrics = &w->metrics,
                                     .fetch = fetch_start,
                                     .fetch_reply = fetch_reply_start};
    if (getrandom(w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || (w->rng[0] | w->rng[1]) == 0) {
        w->rng[0] = 0x9e3779b97f4a7c15ull ^ (uint64_t)id;
        w->rng[1] = 0xbf58476d1ce4e5b9ull;
    }
    if (freelist_init(&w->free_bufs, FREE_BUFS_MAX) == -1 ||
        freelist_init(&w->free_clients, FREE_CLIENTS_MAX) == -1 ||
        freelist_init(&w->free_xs, FREE_XS_MAX) == -1 || ev_loop_init(&w->loop) == -1)
        goto fail;
    w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->cmd_fd == -1 || ev_io_add(&w->loop, &w->cmd_io, w->cmd_fd, on_command, false) == -1)
        goto fail;
    w->wc = wconf_new(w, cfg);
    if (!w->wc)
        goto fail;
    w->wc->users++;
    w->pending_ls = ls;
    atomic_store(&w->applied_generation, cfg->generation);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        goto fail;
    return 0;
fail:
    log_error("worker %u: cannot start: %s", id, strerror(errno));
    return -1;
}

void worker_reload(struct worker *w, struct config *cfg, const struct listener_set *ls)
{
    config_ref(cfg);
    w->pending_ls = ls;
    struct config *old = atomic_exchange(&w->next_cfg, cfg);
    if (old)
        config_unref(old);
    worker_post(w, WCMD_RELOAD);
}

void worker_post(struct worker *w, unsigned cmd)
{
    atomic_fetch_or(&w->cmds, cmd);
    uint64_t one = 1;
    ssize_t n = write(w->cmd_fd, &one, sizeof(one));
    (void)n; /* a full eventfd counter still wakes the worker */
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
    struct config *pending = atomic_exchange(&w->next_cfg, NULL);
    if (pending)
        config_unref(pending);
    if (w->wc) {
        wconf_retire(w, w->wc);
        w->wc = NULL;
    }
    while (w->retired) {
        struct wconf *wc = w->retired;
        w->retired = wc->next_retired;
        wconf_free(wc);
    }
    /* Deferred frees put clients and buffers back on the free lists: run them first. Calls
     * posted after the loop stopped find no waiter left (every client ended): run them so
     * what they hold is released. */
    ev_loop_destroy(&w->loop);
    run_calls(w); /* the mutex stays: another worker still running may look at this one */
    freelist_destroy(&w->free_bufs);
    freelist_destroy(&w->free_clients);
    freelist_destroy(&w->free_xs);
    if (w->cmd_fd != -1)
        close(w->cmd_fd);
}

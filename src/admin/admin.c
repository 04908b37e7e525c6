/* admin.c — the admin thread: listener, HTTP/1.1 connections, Server-Sent Events.
 *
 * One thread, one struct ev_loop, edge-triggered like the workers. Each connection reads
 * request heads with h1_parse_request, answers one request at a time (the next pipelined one
 * once the previous response is written), and is closed after 10 s without a first request
 * or 60 s idle. Bodies are never read: a request announcing one is answered and the
 * connection closed. What each request gets (auth, methods, endpoints) is admin_routes.c's.
 *
 * SSE subscribers get the status document once per second (rendered once per tick, copied to
 * each). A subscriber whose unsent backlog would exceed ADMIN_SSE_BACKLOG is dropped, so a
 * slow reader costs bounded memory and never blocks the thread. Everything here runs on the
 * admin thread except admin_start/admin_stop (main thread), which hand over through
 * pthread_create/join and an eventfd. */
#include "admin/admin.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/abuf.h"
#include "admin/admin_conn.h"
#include "admin/admin_routes.h"
#include "admin/collect.h"
#include "admin/security_admin.h"
#include "admin/status_json.h"
#include "cache/cache_warm.h"
#include "core/config.h"
#include "core/log.h"
#include "event/loop.h"
#include "http/h1.h"
#include "state/state_events.h"

#define ADMIN_MAX_CONNS 512
#define ADMIN_SSE_BACKLOG ((size_t)1 << 20)  /* unsent bytes before a subscriber is dropped */
#define ADMIN_FIRST_MS 10000               /* connect -> first request head */
#define ADMIN_IDLE_MS 60000                /* between requests, or without write progress */
#define ADMIN_LINGER_MS 2000               /* draining a client's input after the last answer */
#define ADMIN_TICK_MS 1000
#define ADMIN_REBIND_MS 100u
#define ADMIN_PING_TICKS 15

uint64_t admin_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- connections ------------------------------------------------------------------------ */

static void conn_free(void *arg)
{
    struct aconn *c = arg;
    abuf_free(&c->out);
    free(c);
}

static void conn_close(struct aconn *c)
{
    struct admin *a = c->a;
    if (c->closed)
        return;
    c->closed = true;
    sec_kv_op_cancel(c->op);
    c->op = NULL;
    timer_disarm(&a->loop.timers, &c->timer);
    close(c->io.fd);
    c->io.fd = -1; /* later events of this batch are skipped */
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    if (c->sse)
        a->nsse--;
    /* Callers up the stack may still look at c (c->closed): free it after the batch. Out of
     * memory here leaks one connection rather than risk a use after free. */
    (void)ev_defer(&a->loop, conn_free, c);
}

static void conn_timeout(struct timer *t)
{
    conn_close((void *)((char *)t - offsetof(struct aconn, timer)));
}

static void conn_arm(struct aconn *c, uint32_t ms)
{
    timer_arm(&c->a->loop.timers, &c->timer, c->a->loop.now_ms + ms);
}

/* Writes what is pending. 0, or -1 when the connection failed. */
static int conn_write(struct aconn *c)
{
    bool progress = false;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            progress = true;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    if (c->out_off == c->out.len) {
        c->out.len = c->out_off = 0;
        if (c->out.cap > (1u << 20)) /* do not keep a big /metrics buffer per idle conn */
            abuf_free(&c->out);
    } else if (c->out_off > (64u << 10) && c->out_off > c->out.len / 2) {
        abuf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    if (progress && !c->sse)
        conn_arm(c, ADMIN_IDLE_MS);
    return 0;
}

static size_t conn_pending(const struct aconn *c)
{
    return c->out.len - c->out_off;
}

/* ---- responses -------------------------------------------------------------------------- */

void admin_respond(struct aconn *c, const struct reqinfo *ri, int status, const char *ctype,
                   const char *extra, const char *body, size_t len)
{
    struct abuf *o = &c->out;
    abuf_printf(o,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%s"
                "Connection: %s\r\n\r\n",
                status, h1_status_text(status), ctype, len, extra ? extra : "",
                ri->keep ? "keep-alive" : "close");
    if (!ri->head)
        abuf_add(o, body, len);
    if (o->failed) {
        /* Out of memory or over ADMIN_OUT_MAX: nothing sensible can follow on this one. */
        c->out.len = c->out_off;
        c->out.failed = false;
        c->close_after_write = true;
        static const char e[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n";
        abuf_add(o, e, sizeof(e) - 1);
        return;
    }
    if (!ri->keep)
        c->close_after_write = true;
}

void admin_respond_text(struct aconn *c, const struct reqinfo *ri, int status, const char *extra,
                        const char *text)
{
    admin_respond(c, ri, status, "text/plain; charset=utf-8", extra, text, strlen(text));
}

static void respond_error(struct aconn *c, int status)
{
    char msg[96];
    struct reqinfo ri = {.head = false, .keep = false};
    snprintf(msg, sizeof(msg), "%d %s\n", status, h1_status_text(status));
    admin_respond_text(c, &ri, status, NULL, msg);
}

/* ---- Server-Sent Events ---------------------------------------------------------------- */

struct abuf *admin_scratch(struct admin *a)
{
    a->body.len = 0;
    a->body.failed = false;
    a->body.max = ADMIN_OUT_MAX;
    return &a->body;
}

bool admin_render_status(struct admin *a, unsigned flags)
{
    struct model m;
    struct abuf *b = admin_scratch(a);
    bool ok = collector_collect(a->col, &m, flags, ev_now_update(&a->loop), admin_wall_ms()) == 0;
    if (ok)
        status_json_render(&m, b);
    model_free(&m);
    return ok && !a->body.failed;
}

static void sse_event(struct aconn *c, const struct abuf *doc)
{
    abuf_str(&c->out, "event: status\ndata: ");
    abuf_add(&c->out, doc->data, doc->len);
    abuf_add(&c->out, "\n\n", 2);
}

void admin_sse_start(struct aconn *c, const struct reqinfo *ri)
{
    struct admin *a = c->a;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                               "X-Content-Type-Options: nosniff\r\n\r\n";
    abuf_add(&c->out, head, sizeof(head) - 1);
    if (ri->head) {
        c->close_after_write = !ri->keep; /* headers only; HEAD has no body to delimit */
        return;
    }
    /* From here the response runs until the connection closes: no more requests on it. */
    c->sse = true;
    a->nsse++;
    c->inlen = 0;
    timer_disarm(&a->loop.timers, &c->timer);
    abuf_str(&c->out, "retry: 2000\n: ping\n\n");
    if (admin_render_status(a, 0))
        sse_event(c, &a->body);
    if (c->out.failed)
        conn_close(c);
}

/* Answers the next complete request in c->in. 1: answered (or failed), 0: needs more bytes. */
static int process_one(struct aconn *c)
{
    static const struct h1_limits lim = {.max_request_line = 8192,
                                         .max_header_bytes = ADMIN_IN_MAX,
                                         .max_headers = 64,
                                         .max_body = 0};
    if (c->inlen == 0)
        return 0;
    struct h1_request req;
    int r = h1_parse_request(c->in, c->inlen, &lim, &req);
    if (r == H1_AGAIN) {
        if (c->inlen < sizeof(c->in))
            return 0;
        r = -431;
    }
    if (r < 0) {
        respond_error(c, -r);
        c->inlen = 0;
        return 1;
    }
    admin_routes_handle(c, &req);
    if (c->sse) {
        c->inlen = 0;
    } else {
        memmove(c->in, c->in + r, c->inlen - (size_t)r);
        c->inlen -= (size_t)r;
    }
    if (!c->close_after_write && !c->sse)
        conn_arm(c, ADMIN_IDLE_MS);
    return 1;
}

/* Reads what is there. Returns bytes read (0: nothing now), -1 on error; sets peer_eof. */
static ssize_t conn_fill(struct aconn *c)
{
    ssize_t total = 0;
    char sink[4096];
    for (;;) {
        /* An SSE subscriber has nothing more to say, a lingering connection nothing we
         * answer: read only to notice them leaving. */
        bool discard = c->sse || c->lingering;
        char *dst = discard ? sink : c->in + c->inlen;
        size_t room = discard ? sizeof(sink) : sizeof(c->in) - c->inlen;
        if (room == 0)
            return total;
        ssize_t n = recv(c->io.fd, dst, room, MSG_DONTWAIT);
        if (n > 0) {
            if (!discard)
                c->inlen += (size_t)n;
            total += n;
            continue;
        }
        if (n == 0) {
            c->peer_eof = true;
            return total;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return total;
        return -1;
    }
}

/* Drives a connection as far as it can go without blocking. */
void admin_conn_run(struct aconn *c)
{
    /* Every turn writes, answers (consuming input) or reads: it ends at EAGAIN or a close. */
    while (!c->closed) {
        if (conn_pending(c)) {
            if (conn_write(c) == -1) {
                conn_close(c);
                return;
            }
            if (conn_pending(c))
                return; /* EPOLLOUT brings us back */
        }
        if (c->close_after_write && !c->lingering) {
            /* Half-close and drain what the client still sends, so that it reads the
             * response rather than a reset caused by unread input. */
            shutdown(c->io.fd, SHUT_WR);
            c->lingering = true;
            c->inlen = 0;
            conn_arm(c, ADMIN_LINGER_MS);
        }
        if (!c->sse && !c->lingering && !c->op && process_one(c))
            continue;
        ssize_t n = conn_fill(c);
        if (n == -1 || (c->peer_eof && !c->op && (c->sse || c->lingering || n == 0))) {
            conn_close(c);
            return;
        }
        if (n == 0)
            return;
    }
}

static void conn_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    struct aconn *c = (void *)io;
    if (events & EPOLLERR) {
        conn_close(c);
        return;
    }
    admin_conn_run(c);
}

static void accept_all(struct admin *a)
{
    for (;;) {
        int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE & co: the next tick tries again */
        }
        if (a->nconns >= ADMIN_MAX_CONNS) {
            close(fd);
            continue;
        }
        struct aconn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->a = a;
        c->out.max = ADMIN_OUT_MAX;
        timer_init(&c->timer, conn_timeout);
        if (ev_io_add(&a->loop, &c->io, fd, conn_cb, true) == -1) {
            close(fd);
            free(c);
            continue;
        }
        c->next = a->conns;
        if (a->conns)
            a->conns->prev = c;
        a->conns = c;
        a->nconns++;
        conn_arm(c, ADMIN_FIRST_MS);
        /* Edge-triggered: bytes that came with the connection raise no new event later. */
        admin_conn_run(c);
    }
}

static void listen_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    accept_all((void *)((char *)io - offsetof(struct admin, lio)));
}

/* ---- the tick --------------------------------------------------------------------------- */

static void broadcast(struct admin *a)
{
    bool ping = a->ticks % ADMIN_PING_TICKS == 0;
    if (!admin_render_status(a, COLLECT_TICK))
        return;
    for (struct aconn *c = a->conns, *next; c; c = next) {
        next = c->next;
        if (!c->sse)
            continue;
        size_t add = a->body.len + 32 + (ping ? 8 : 0);
        if (conn_pending(c) + add > ADMIN_SSE_BACKLOG) {
            conn_close(c); /* too slow a reader: drop it rather than buffer without end */
            continue;
        }
        if (ping)
            abuf_str(&c->out, ": ping\n\n");
        sse_event(c, &a->body);
        if (c->out.failed)
            conn_close(c);
        else
            admin_conn_run(c);
    }
}

static void tick_cb(struct timer *t)
{
    struct admin *a = (void *)((char *)t - offsetof(struct admin, tick));
    uint64_t now = ev_now_update(&a->loop);
    a->ticks++;
    if (a->nsse) {
        broadcast(a);
    } else {
        struct model m;
        collector_collect(a->col, &m, COLLECT_TICK, now, admin_wall_ms());
        model_free(&m);
    }
    if (a->body.cap > (4u << 20))
        abuf_free(&a->body);
    accept_all(a); /* after EMFILE, nothing else would bring us back to the queue */
    /* Keep the one-second cadence without drift; skip seconds lost to a stall. */
    a->next_tick_ms += ADMIN_TICK_MS;
    now = ev_now_update(&a->loop);
    if (a->next_tick_ms <= now)
        a->next_tick_ms = now + ADMIN_TICK_MS;
    timer_arm(&a->loop.timers, &a->tick, a->next_tick_ms);
}

static void wake_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)events;
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) > 0)
        ;
    ev_loop_stop(loop);
}

static void *admin_main(void *arg)
{
    struct admin *a = arg;
    if (a->state_cfg)
        state_thread_start(&a->loop, a->state_cfg, 1, NULL);
    ev_loop_run(&a->loop);
    while (a->conns) /* before the Redis connection goes: no answer comes to a closed one */
        conn_close(a->conns);
    state_thread_stop();
    return NULL;
}

/* ---- start / stop ----------------------------------------------------------------------- */

/* Not sock_listen: SO_REUSEPORT would let a second weir on the same host bind the same admin
 * port and receive half of its scrapes. */
static int admin_listen(const struct cfg_addr *addr)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
        goto fail;
    if (addr->sa.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) == -1 || listen(fd, 128) == -1)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static void admin_free(struct admin *a)
{
    while (a->conns)
        conn_close(a->conns);
    if (a->loop_ready)
        ev_loop_destroy(&a->loop); /* runs the deferred frees */
    if (a->lfd >= 0)
        close(a->lfd);
    if (a->wake_fd >= 0)
        close(a->wake_fd);
    collector_free(a->col);
    abuf_free(&a->body);
    free(a->token);
    free(a->listen_text);
    if (a->state_cfg)
        config_unref(a->state_cfg);
    free(a);
}

struct admin *admin_start(const struct cfg_admin *cfg, struct admin_view *view,
                          uint32_t busy_wait_ms, char *err, size_t errlen)
{
    struct admin *a = calloc(1, sizeof(*a));
    if (!a) {
        snprintf(err, errlen, "admin: out of memory");
        return NULL;
    }
    a->lfd = a->wake_fd = -1;
    a->view = view;
    if ((a->state_cfg = view->state_cfg))
        config_ref(a->state_cfg);
    a->listen_text = strdup(cfg->listen.text ? cfg->listen.text : "?");
    if (cfg->token) {
        a->token = strdup(cfg->token);
        a->token_len = a->token ? strlen(a->token) : 0;
    }
    a->col = collector_new(view);
    if (!a->listen_text || (cfg->token && !a->token) || !a->col) {
        snprintf(err, errlen, "admin: out of memory");
        goto fail;
    }
    if (ev_loop_init(&a->loop) == -1) {
        snprintf(err, errlen, "admin: cannot create its event loop: %s", strerror(errno));
        goto fail;
    }
    a->loop_ready = true;
    a->lfd = admin_listen(&cfg->listen);
    /* A new weir started for a binary upgrade finds the port still held by the old one, which
     * is draining (the admin listener is not SO_REUSEPORT: two processes would split the
     * scrapes): wait for it, up to busy_wait_ms, while the workers already serve traffic. */
    if (a->lfd == -1 && errno == EADDRINUSE && busy_wait_ms) {
        log_warn("admin: %s is in use (an older weir still draining?); waiting up to %u ms",
                 cfg->listen.text, busy_wait_ms);
        for (uint32_t waited = 0; a->lfd == -1 && errno == EADDRINUSE && waited < busy_wait_ms;
             waited += ADMIN_REBIND_MS) {
            nanosleep(&(struct timespec){.tv_nsec = ADMIN_REBIND_MS * 1000000L}, NULL);
            a->lfd = admin_listen(&cfg->listen);
        }
    }
    if (a->lfd == -1) {
        snprintf(err, errlen, "cannot listen on %s for the admin listener: %s", cfg->listen.text,
                 strerror(errno));
        goto fail;
    }
    a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->wake_fd == -1 || ev_io_add(&a->loop, &a->lio, a->lfd, listen_cb, false) == -1 ||
        ev_io_add(&a->loop, &a->wake_io, a->wake_fd, wake_cb, false) == -1) {
        snprintf(err, errlen, "admin: %s", strerror(errno));
        goto fail;
    }
    timer_init(&a->tick, tick_cb);
    a->next_tick_ms = a->loop.now_ms + ADMIN_TICK_MS;
    timer_arm(&a->loop.timers, &a->tick, a->next_tick_ms);
    int rc = pthread_create(&a->thread, NULL, admin_main, a);
    if (rc != 0) {
        snprintf(err, errlen, "admin: cannot start its thread: %s", strerror(rc));
        goto fail;
    }
    a->thread_started = true;
    log_info("admin listening on %s%s", cfg->listen.text, cfg->token ? " (token required)" : "");
    return a;
fail:
    admin_free(a);
    return NULL;
}

void admin_stop(struct admin *a)
{
    cache_warm_shutdown(); /* its threads may still be fetching */
    if (!a)
        return;
    if (a->thread_started) {
        uint64_t one = 1;
        ssize_t n;
        do
            n = write(a->wake_fd, &one, sizeof(one));
        while (n == -1 && errno == EINTR);
        pthread_join(a->thread, NULL);
    }
    admin_free(a);
}

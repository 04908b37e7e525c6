/* probe.c — see probe.h. */
#include "resilience/probe.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "event/sock.h"
#include "http/h1.h"
#include "tls/tls_io.h"

enum { PROBE_IDLE, PROBE_CONNECTING, PROBE_SENDING, PROBE_READING, PROBE_STOPPED };

static void probe_close(struct health_probe *p)
{
    tls_conn_free(p->tls);
    p->tls = NULL;
    if (p->io.fd != -1) {
        close(p->io.fd);
        p->io.fd = -1;
    }
}

static void schedule(struct health_probe *p, uint32_t delay_ms)
{
    p->phase = PROBE_IDLE;
    timer_arm(&p->loop->timers, &p->timer, p->loop->now_ms + delay_ms);
}

static void finish(struct health_probe *p, bool ok, const char *why)
{
    probe_close(p);
    health_check_result(p->st, p->group, ok, why, p->loop->now_ms);
    schedule(p, p->group->active.interval_ms);
}

/* This process is out of descriptors (or memory, or local ports): no verdict on the server,
 * the check runs again after an interval. */
static void skip(struct health_probe *p, int err)
{
    log_msg_limited(&p->local_log, p->loop->now_ms, LOG_WARN,
                    "health check of %s skipped, not counted against the server: %s",
                    p->st->key, strerror(err));
    schedule(p, p->group->active.interval_ms);
}

static void on_probe_io(struct ev_loop *loop, struct ev_io *io, uint32_t events);

static void begin(struct health_probe *p)
{
    const struct cfg_health_active *a = &p->group->active;
    const char *host = a->host ? a->host : p->server->addr.text;
    int n = snprintf(p->req, sizeof(p->req),
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weir-health-check\r\n"
                     "Connection: close\r\n\r\n",
                     a->method, a->path, host);
    if (n < 0 || (size_t)n >= sizeof(p->req)) {
        finish(p, false, "check request too long");
        return;
    }
    p->req_len = (uint32_t)n;
    p->sent = p->len = 0;
    int fd = sock_connect((const struct sockaddr *)&p->server->addr.sa, p->server->addr.salen);
    if (fd != -1 && p->tc &&
        !(p->tls = tls_client_conn(p->tc, fd, p->server->addr.text, &p->tls_session))) {
        close(fd);
        fd = -1;
        errno = ENOMEM;
    }
    if (fd == -1 || ev_io_add(p->loop, &p->io, fd, on_probe_io, true) == -1) {
        int err = errno;
        tls_conn_free(p->tls);
        p->tls = NULL;
        if (fd != -1)
            close(fd);
        p->io.fd = -1; /* ev_io_add stored it */
        if (sock_local_error(err) >= 0) {
            skip(p, err);
            return;
        }
        finish(p, false, strerror(err));
        return;
    }
    p->phase = PROBE_CONNECTING;
    timer_arm(&p->loop->timers, &p->timer, p->loop->now_ms + a->timeout_ms);
}

static void on_probe_timer(struct timer *t)
{
    struct health_probe *p = (struct health_probe *)(void *)((char *)t - offsetof(struct health_probe, timer));
    if (p->phase == PROBE_STOPPED)
        return;
    if (p->phase == PROBE_IDLE)
        begin(p);
    else
        finish(p, false, "timed out");
}

static void advance(struct health_probe *p)
{
    if (p->phase == PROBE_CONNECTING) {
        int err = sock_connect_result(p->io.fd);
        if (err) {
            finish(p, false, strerror(err));
            return;
        }
        if (p->tls) {
            int hs = tls_conn_handshake(p->tls);
            if (hs == 0)
                return;
            if (hs < 0) {
                char why[200];
                snprintf(why, sizeof(why), "TLS handshake failed: %s", p->tls->why);
                finish(p, false, why);
                return;
            }
        }
        p->phase = PROBE_SENDING;
    }
    if (p->phase == PROBE_SENDING) {
        while (p->sent < p->req_len) {
            ssize_t w = tls_io_send(p->io.fd, p->tls, p->req + p->sent, p->req_len - p->sent, 0);
            if (w == -1) {
                if (errno == EAGAIN || errno == EINTR)
                    return;
                finish(p, false, strerror(errno));
                return;
            }
            p->sent += (uint32_t)w;
        }
        p->phase = PROBE_READING;
    }
    for (;;) {
        if (p->len == sizeof(p->buf)) {
            finish(p, false, "response head too large");
            return;
        }
        ssize_t r = tls_io_recv(p->io.fd, p->tls, p->buf + p->len, sizeof(p->buf) - p->len);
        if (r > 0) {
            p->len += (uint32_t)r;
            static const struct h1_limits lim = {.max_request_line = 4096,
                                                 .max_header_bytes = sizeof(((struct health_probe *)0)->buf),
                                                 .max_headers = H1_MAX_HEADERS};
            static _Thread_local struct h1_response resp;
            int n = h1_parse_response(p->buf, p->len, &lim, false, &resp);
            if (n == H1_AGAIN)
                continue;
            if (n < 0) {
                finish(p, false, "malformed response");
                return;
            }
            if (resp.status < 200)
                continue; /* interim; the final head follows in the buffer */
            const struct cfg_health_active *a = &p->group->active;
            char why[48];
            snprintf(why, sizeof(why), "status %u", resp.status);
            finish(p, resp.status >= a->status_min && resp.status <= a->status_max, why);
            return;
        }
        if (r == 0) {
            finish(p, false, "connection closed before a response");
            return;
        }
        if (errno == EAGAIN || errno == EINTR)
            return;
        finish(p, false, strerror(errno));
        return;
    }
}

static void on_probe_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    struct health_probe *p = (struct health_probe *)io;
    if (p->phase == PROBE_CONNECTING || p->phase == PROBE_SENDING || p->phase == PROBE_READING)
        advance(p);
}

void probe_start(struct health_probe *p, struct ev_loop *loop, struct server_state *st,
                 const struct cfg_upstream *g, const struct cfg_server *srv,
                 const struct tls_client *tc, uint32_t first_delay_ms)
{
    memset(p, 0, sizeof(*p));
    p->tc = tc;
    p->io.fd = -1;
    p->loop = loop;
    p->st = st;
    p->group = g;
    p->server = srv;
    timer_init(&p->timer, on_probe_timer);
    schedule(p, first_delay_ms);
}

void probe_stop(struct health_probe *p)
{
    timer_disarm(&p->loop->timers, &p->timer);
    probe_close(p);
    if (p->tls_session)
        tls_client_session_free(p->tls_session);
    p->tls_session = NULL;
    p->phase = PROBE_STOPPED;
}

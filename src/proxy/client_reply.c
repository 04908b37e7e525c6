/* client_reply.c — writing a reply to the client: a structured response (weir's, a module's,
 * or a replay) through the response hooks and the HTTP/1.1 writer, its body from memory or a
 * file (sendfile, window by window so a module can bring cold pages in first), through the
 * modules' transforms when they turned one on; and the connection's output buffer. The proxied
 * response path is downstream.c's. See client.h. */
#include "proxy/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pipeline/runner.h"
#include "proxy/client_tls.h"
#include "proxy/h1_writer.h"
#include "proxy/transform.h"
#include "proxy/worker.h"
#include "tls/tls_io.h"

/* At most this much of a reply's body per write call and per turn of the loop (nginx's
 * sendfile_max_chunk is 2m). */
#define REPLY_CHUNK_MAX (2u << 20)

/* ---- output -------------------------------------------------------------------------- */

/* flags: MSG_MORE when a file body follows (sendfile), so the head does not go out in a
 * segment of its own but leads the body's first one. */
static int flush_out(struct client *c, int flags)
{
    while (c->out.len) {
        if (!c->writable)
            return 1;
        ssize_t n = tls_io_send(c->io.fd, c->tls, buf_head(&c->out), c->out.len, flags);
        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                c->writable = false;
                continue;
            }
            return -1;
        }
        c->x->log.bytes_out += (uint64_t)n;
        if ((uint32_t)n < c->out.len)
            c->writable = false;
        buf_consume(&c->out, (uint32_t)n);
    }
    return 0;
}

int client_flush_out(struct client *c)
{
    return flush_out(c, 0);
}

/* Before the next piece of a FILE body: each new window is first offered to the module that
 * made the reply, which holds it back while its pages are read from disk off the worker.
 * false: wait for client_reply_continue (the send timeout still applies). */
static bool file_window_ready(struct client *c)
{
    struct h1x *x = c->x;
    if ((uint64_t)x->reply_off < x->window_end)
        return true;
    size_t len = x->reply_left < REPLY_CHUNK_MAX ? x->reply_left : REPLY_CHUNK_MAX;
    x->window_end = (uint64_t)x->reply_off + len;
    if (pipeline_file_window(&x->base, (uint64_t)x->reply_off, len) <= 0)
        return true;
    x->reply_warming = true;
    timer_arm(&c->w->loop.timers, &c->timer,
              c->w->loop.now_ms + c->wc->cfg->timeouts.client_send_ms);
    return false;
}

/* A transformed reply: its body (memory, or the file read in pieces) through the modules'
 * transforms into c->out, written as it fills. Returns 0 when complete, 1 when the socket is
 * full, 2 when the module holds the file's next window back, -1 on an error. */
static int reply_transform(struct client *c)
{
    struct h1x *x = c->x;
    for (;;) {
        if (!x->tx_done) {
            if (x->reply_fd >= 0 && !x->tx_pending && x->reply_left) {
                /* The next piece of the file, from the page cache. */
                if (!file_window_ready(c))
                    return 2;
                if (!x->tx_scratch && !(x->tx_scratch = arena_alloc(&x->base.arena, 16384)))
                    return -1;
                size_t want = x->reply_left < 16384 ? x->reply_left : 16384;
                ssize_t n = pread(x->reply_fd, x->tx_scratch, want, x->reply_off);
                if (n <= 0)
                    return -1;
                x->reply_off += n;
                x->reply_left -= (size_t)n;
                x->reply_body = x->tx_scratch;
                x->tx_pending = (size_t)n;
            } else if (x->reply_fd < 0 && !x->tx_pending) {
                x->tx_pending = x->reply_left;
                x->reply_left = 0;
            }
            const char *p = x->reply_body;
            size_t len = x->tx_pending;
            if (transform_feed(c, &p, &len, x->reply_left == 0) < 0)
                return -1;
            x->reply_body = p;
            x->tx_pending = len;
        }
        int r = client_flush_out(c);
        if (r != 0)
            return r;
        if (x->tx_done)
            return 0;
    }
}

/* Writes what is left of a reply: the head (c->out), then its body from memory or a file. */
void client_reply_progress(struct client *c)
{
    struct h1x *x = c->x;
    if (x->reply_warming)
        return; /* client_reply_continue goes on */
    int r = x->transforming ? reply_transform(c)
                            : flush_out(c, x->reply_fd >= 0 && x->reply_left ? MSG_MORE : 0);
    if (r == 2)
        return;
    size_t sent = 0;
    while (r == 0 && x->reply_left) {
        if (!c->writable) {
            r = 1;
            break;
        }
        if (x->reply_fd >= 0 && !file_window_ready(c))
            return;
        if (sent >= REPLY_CHUNK_MAX) {
            /* A fast client could keep this loop (and a cold file's page faults) going for
             * a whole large file: let the other connections have the worker, and go on at
             * the next tick of the timer wheel. */
            c->reply_yield = true;
            timer_arm(&c->w->loop.timers, &c->timer, c->w->loop.now_ms);
            return;
        }
        size_t want = x->reply_left < REPLY_CHUNK_MAX ? x->reply_left : REPLY_CHUNK_MAX;
        ssize_t n = x->reply_fd >= 0
                        ? tls_io_sendfile(c->io.fd, c->tls, x->reply_fd, &x->reply_off, want)
                        : tls_io_send(c->io.fd, c->tls, x->reply_body, want, 0);
        if (n == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                c->writable = false;
                continue;
            }
            r = -1;
            break;
        }
        if (n == 0) { /* the file shrank under us: the length we promised cannot be kept */
            r = -1;
            break;
        }
        x->log.bytes_out += (uint64_t)n;
        sent += (size_t)n;
        if ((size_t)n < want)
            c->writable = false;
        if (x->reply_fd < 0)
            x->reply_body += n;
        x->reply_left -= (size_t)n;
    }
    if (r < 0) {
        client_close_now(c);
        return;
    }
    if (r > 0) {
        const struct config *cfg = c->wc->cfg;
        c->reply_yield = false;
        timer_arm(&c->w->loop.timers, &c->timer, c->w->loop.now_ms + cfg->timeouts.client_send_ms);
        return;
    }
    c->reply_yield = false;
    x->base.response_complete = true;
    client_exchange_done(c);
}

void client_reply_continue(struct client *c)
{
    if (c->state != CS_REPLY || !c->x || !c->x->reply_warming)
        return;
    c->x->reply_warming = false;
    client_reply_progress(c);
}

void client_send_reply(struct client *c)
{
    struct worker *w = c->w;
    struct h1x *x = c->x;
    struct response *r = &x->base.reply;
    if (client_ensure_buf(w, &c->out, WORKER_BUF_SIZE) == -1) {
        client_close_now(c);
        return;
    }
    /* A request whose body was not read leaves the stream unsynchronised: close after. */
    if (c->state == CS_HEAD || x->req_left ||
        (x->req.framing == H1_FRAME_CHUNKED && !x->req_chunk.done) ||
        (c->state != CS_HEAD && !x->req_done && !(x->body && !x->buffering)))
        c->closing = true;
    bool head = x->req.method_id == H1_M_HEAD;
    r->no_body = head;
    x->base.upstream_head = false;
    pipeline_response_head(&x->base, r);
    if (__builtin_expect(client_is_tls(c), 0) && client_tls_fields(c, r) != 0) {
        client_close_now(c);
        return;
    }
    if (x->base.ntransforms && !head && r->body_kind != RESPONSE_BODY_NONE)
        transform_begin(c, r);
    struct h1_write_opts o = {
        .chunked = r->chunked && x->req.minor == 1,
        .connection = c->closing || !c->keepalive ? "close"
                      : x->req.minor == 0         ? "keep-alive"
                                                  : NULL,
    };
    if (h1_write_head(&c->out, r, &o) == -1) {
        client_close_now(c);
        return;
    }
    if (x->transforming) {
        /* The body is the transforms' input, fed by reply_transform. */
        x->reply_body = r->body_kind == RESPONSE_BODY_MEMORY ? r->body : NULL;
        x->reply_left = r->body_kind == RESPONSE_BODY_MEMORY ? r->body_len : r->file_len;
        x->reply_fd = r->body_kind == RESPONSE_BODY_FILE ? r->file_fd : -1;
        x->reply_off = r->file_off;
    } else if (!head && r->body_kind == RESPONSE_BODY_MEMORY) {
        const char *body = r->body;
        size_t len = r->body_len;
        pipeline_observe(&x->base, body, len);
        if (o.chunked) {
            /* One chunk, the last one and the trailers, framed in the arena (replays are
             * rare). */
            size_t tl = r->trailers.len;
            char *framed = arena_alloc(&x->base.arena, len + tl + 32);
            if (!framed) {
                client_close_now(c);
                return;
            }
            size_t n = len ? (size_t)snprintf(framed, 24, "%zx\r\n", len) : 0;
            memcpy(framed + n, body, len);
            n += len;
            if (len) {
                memcpy(framed + n, "\r\n", 2);
                n += 2;
            }
            memcpy(framed + n, "0\r\n", 3);
            n += 3;
            if (tl)
                memcpy(framed + n, r->trailers.ptr, tl);
            n += tl;
            memcpy(framed + n, "\r\n", 2);
            body = framed;
            len = n + 2;
        }
        if (len && buf_append(&c->out, body, len) == -1) {
            x->reply_body = body; /* larger than the buffer: written from where it is */
            x->reply_left = len;
        }
    } else if (!head && r->body_kind == RESPONSE_BODY_FILE && r->file_len) {
        x->reply_fd = r->file_fd;
        x->reply_off = r->file_off;
        x->reply_left = r->file_len;
    }
    timer_disarm(&w->loop.timers, &c->timer);
    x->log.status = r->status;
    c->state = CS_REPLY;
    client_reply_progress(c);
}

void client_reply(struct client *c, int status, const char *detail, bool close)
{
    client_reply_ex(c, status, detail, close, NULL);
}

void client_reply_ex(struct client *c, int status, const char *detail, bool close,
                     const char *extra)
{
    struct h1x *x = c->x;
    if (!x->request_id[0])
        worker_request_id(c->w, x->request_id);
    if (pipeline_error_response(&x->base, (uint16_t)status, detail, x->request_id) != 0) {
        client_close_now(c);
        return;
    }
    /* extra: "Name: value\r\n" lines; each replaces a field of that name. */
    for (const char *p = extra; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', eol ? (size_t)(eol - p) : strlen(p));
        if (!eol || !colon)
            break;
        struct str v = str_trim_ows(str_from(colon + 1, (size_t)(eol - colon - 1)));
        struct str val = arena_str(&x->base.arena, v);
        struct str name = arena_str(&x->base.arena, str_from(p, (size_t)(colon - p)));
        if (!val.ptr || !name.ptr ||
            response_set(&x->base.reply, &x->base.arena, name, val) != 0) {
            client_close_now(c);
            return;
        }
        p = eol + 2;
    }
    if (close)
        c->closing = true;
    client_send_reply(c);
}


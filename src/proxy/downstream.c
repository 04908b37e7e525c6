/* downstream.c — the response direction of forward.c's pump: bytes read from the upstream,
 * the response head parsed, made a structure (headers.c), passed through the modules'
 * response hooks and written (h1_writer.c); the body down — zero-copy (writev from the
 * upstream's read buffer) while the client keeps up, into the read-ahead buffer when it does
 * not (buffering.h), or through the modules' transforms (transform.h). Observers see the body
 * as the client gets it, de-chunked. Framing is validated as bytes pass. Worker thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "balance/sticky.h"
#include "http/h1.h"
#include "pipeline/arena.h"
#include "pipeline/runner.h"
#include "proxy/buffering.h"
#include "proxy/client.h"
#include "proxy/client_tls.h"
#include "proxy/exchange.h"
#include "proxy/h1_writer.h"
#include "proxy/headers.h"
#include "proxy/transform.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"
#include "tls/tls_io.h"

/* Limits for response heads from upstreams (they are trusted more, but bounded). */
static const struct h1_limits upstream_limits = {
    .max_request_line = 8192,
    .max_header_bytes = WORKER_BUF_SIZE - 1024,
    .max_headers = H1_MAX_HEADERS,
    .max_body = 0,
};

/* ---- response direction ------------------------------------------------------------- */

int downstream_read(struct client *c)
{
    struct upconn *u = c->x->up;
    if (!u || !u->readable || u->eof)
        return STEP_IDLE;
    if (buf_room(&u->in) == 0 && c->x->resp_ready == 0 && c->x->resp_skip == 0)
        buf_compact(&u->in);
    uint32_t room = buf_room(&u->in);
    if (!room)
        return STEP_IDLE;
    ssize_t n = tls_io_recv(u->io.fd, u->tls, buf_tail(&u->in), room);
    if (n > 0) {
        u->in.len += (uint32_t)n;
        c->x->got_response_bytes = true;
        if ((uint32_t)n < room && !u->rdhup)
            u->readable = false;
        return STEP_PROGRESS;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        u->eof = true;
        return STEP_PROGRESS;
    }
    u->readable = false;
    return STEP_IDLE;
}

/* Writes a head from the upstream (interim, 101 or final) to the client: the structured
 * view, the response hooks of the modules for the final one, then the HTTP/1.1 writer. */
static int write_head(struct client *c, const char *conn, bool chunked, bool final)
{
    struct h1x *x = c->x;
    struct response *r = &x->view;
    if (headers_response_view(c, r) == -1)
        return -1;
    if (final) {
        if (x->set_sticky) {
            const struct cfg_upstream *g = group_of(c);
            char token[LB_STICKY_TOKEN_LEN + 1];
            lb_sticky_token(x->grp->servers[x->server]->id, token);
            int rc = g->sticky_ttl_s
                         ? response_addf(r, &x->base.arena, STR_LIT("Set-Cookie"),
                                         "%s=%s; Path=/; HttpOnly; Max-Age=%u", g->sticky_cookie,
                                         token, g->sticky_ttl_s)
                         : response_addf(r, &x->base.arena, STR_LIT("Set-Cookie"),
                                         "%s=%s; Path=/; HttpOnly", g->sticky_cookie, token);
            if (rc != 0)
                return -1;
        }
        x->base.upstream_head = true;
        r->chunked = chunked;
        pipeline_response_head(&x->base, r);
        if (__builtin_expect(client_is_tls(c), 0) && client_tls_fields(c, r) != 0)
            return -1;
        if (x->base.ntransforms && !r->no_body) {
            /* A module transforms the body: payload in (de-chunked), its framing out. */
            if (x->resp_framing == H1_FRAME_CHUNKED)
                x->resp_decode = true;
            chunked = transform_begin(c, r);
            if (c->closing)
                conn = "close";
        }
    }
    struct h1_write_opts o = {.chunked = chunked, .connection = conn};
    return h1_write_head(&c->out, r, &o);
}

/* Parses heads in up->in until the final one; queues each for the client. */
int downstream_parse_head(struct client *c)
{
    struct upconn *u = c->x->up;
    for (;;) {
        if (!u->in.len) {
            if (u->eof) {
                attempt_failed(c, FAIL_SERVER, 502,
                                "the upstream closed the connection without responding");
                return STEP_DONE;
            }
            return STEP_IDLE;
        }
        int r = h1_parse_response(buf_head(&u->in), u->in.len, &upstream_limits,
                                  c->x->req.method_id == H1_M_HEAD, &c->x->resp);
        if (r == H1_AGAIN) {
            if (u->eof) {
                attempt_failed(c, FAIL_SERVER, 502,
                                "the upstream closed the connection mid-response");
                return STEP_DONE;
            }
            return STEP_IDLE;
        }
        if (r < 0) {
            c->x->retried = true; /* a malformed response is not a stale connection */
            attempt_failed(c, FAIL_SERVER, 502, "the upstream sent a malformed response");
            return STEP_DONE;
        }
        uint16_t status = c->x->resp.status;
        if (status == 101) {
            if (!(c->x->req.flags & H1F_UPGRADE_WEBSOCKET) || !c->x->req_done ||
                write_head(c, "upgrade", false, false) == -1) {
                c->x->retried = true;
                attempt_failed(c, FAIL_SERVER, 502, "unexpected protocol switch from the upstream");
                return STEP_DONE;
            }
            buf_consume(&u->in, (uint32_t)r);
            c->x->log.status = 101;
            tunnel_start(c);
            return STEP_DONE;
        }
        if (status < 200) {
            /* 100 is weir's to send (it answers Expect itself); other 1xx go to 1.1 clients. */
            if (status != 100 && c->x->req.minor == 1 && write_head(c, NULL, false, false) == -1) {
                c->x->retried = true;
                attempt_failed(c, FAIL_SERVER, 502, "interim response too large");
                return STEP_DONE;
            }
            buf_consume(&u->in, (uint32_t)r);
            continue;
        }
        /* The final head. */
        struct worker *w = c->w;
        if (status >= 500 && retry_status(&group_of(c)->retry, status) &&
            attempt_may_retry(c, FAIL_STATUS) &&
            retry_budget_try(&c->x->grp->gs->budget, &group_of(c)->retry, w->loop.now_ms)) {
            c->x->budget_granted = true;
            c->x->retried = true;
            char why[64];
            snprintf(why, sizeof(why), "the upstream answered %u", status);
            attempt_failed(c, FAIL_STATUS, status, why);
            return STEP_DONE;
        }
        attempt_headed(c, status);
        c->x->resp_framing = c->x->resp.framing;
        bool chunked_out = false;
        if (c->x->resp_framing == H1_FRAME_EOF || !c->x->req_done)
            c->closing = true;
        if (c->x->resp_framing == H1_FRAME_CHUNKED) {
            if (c->x->req.minor == 0) {
                c->x->resp_decode = true;
                c->closing = true;
            } else {
                chunked_out = true;
            }
            h1_chunked_init(&c->x->resp_chunk);
        }
        c->x->resp_left = c->x->resp_framing == H1_FRAME_LENGTH ? c->x->resp.content_length : 0;
        bool keep = c->keepalive && !c->closing && !w->draining;
        const char *conn = !keep ? "close" : c->x->req.minor == 0 ? "keep-alive" : NULL;
        if (!keep)
            c->closing = true;
        timer_disarm(&w->loop.timers, &c->x->total_timer);
        if (write_head(c, conn, chunked_out, true) == -1) {
            c->x->retried = true;
            attempt_failed(c, FAIL_SERVER, 502, "the upstream response head is too large");
            return STEP_DONE;
        }
        buf_consume(&u->in, (uint32_t)r);
        c->x->resp_head_done = true;
        c->x->log.status = status;
        if (c->x->base.nobservers && c->x->resp_framing == H1_FRAME_CHUNKED) {
            h1_chunked_init(&c->x->obs_chunk);
            c->x->obs_chunk.trailers = arena_alloc(&c->x->base.arena, H1_CHUNK_TRAILER_MAX);
        }
        if (!c->x->transforming && (c->x->resp_framing == H1_FRAME_NONE ||
                                    (c->x->resp_framing == H1_FRAME_LENGTH && c->x->resp_left == 0)))
            c->x->resp_done = true;
        upconn_arm(u, group_of(c)->idle_timeout_ms);
        return STEP_PROGRESS;
    }
}

/* Marks response body bytes at the front of up->in as ready for the client. */
static int prepare_response_body(struct client *c)
{
    struct upconn *u = c->x->up;
    if (c->x->resp_ready || c->x->resp_skip || c->x->resp_done || !u->in.len)
        return 0;
    switch (c->x->resp_framing) {
    case H1_FRAME_LENGTH: {
        uint64_t k = u->in.len < c->x->resp_left ? u->in.len : c->x->resp_left;
        c->x->resp_ready = (uint32_t)k;
        c->x->resp_left -= k;
        break;
    }
    case H1_FRAME_CHUNKED: {
        size_t decoded = 0;
        ssize_t k = h1_chunked_feed(&c->x->resp_chunk, buf_head(&u->in), u->in.len,
                                    c->x->resp_decode ? &decoded : NULL);
        if (k < 0) {
            if (c->x->log.bytes_out == 0) {
                /* Nothing reached the client yet: take the queued head back and say 502. */
                c->out.off = c->out.len = 0;
                c->x->resp_head_done = false;
                c->x->retried = true;
                attempt_failed(c, FAIL_SERVER, 502, "the upstream sent a malformed chunked body");
            } else {
                client_abort(c); /* the head is out: a close is the only honest signal left */
            }
            return -1;
        }
        if (c->x->resp_decode) {
            c->x->resp_ready = (uint32_t)decoded;
            c->x->resp_skip = (uint32_t)k - (uint32_t)decoded;
        } else {
            c->x->resp_ready = (uint32_t)k;
        }
        break;
    }
    case H1_FRAME_EOF:
        c->x->resp_ready = u->in.len;
        break;
    case H1_FRAME_NONE:
        break;
    }
    return 0;
}

static bool response_body_complete(const struct client *c)
{
    switch (c->x->resp_framing) {
    case H1_FRAME_LENGTH:
        return c->x->resp_left == 0;
    case H1_FRAME_CHUNKED:
        return c->x->resp_chunk.done;
    case H1_FRAME_EOF:
        return c->x->up->eof && c->x->up->in.len == 0;
    case H1_FRAME_NONE:
        return true;
    }
    return true;
}

/* The observers (pipeline_observe_on) see the body as the client got it, payload only: body
 * bytes just written are de-chunked in place (they are consumed right after) when needed. */
static void observe_sent(struct client *c, char *p, size_t n)
{
    struct h1x *x = c->x;
    if (x->resp_framing != H1_FRAME_CHUNKED || x->resp_decode) {
        pipeline_observe(&x->base, p, n);
        return;
    }
    size_t decoded = 0;
    bool was_done = x->obs_chunk.done;
    if (h1_chunked_feed(&x->obs_chunk, p, n, &decoded) < 0)
        return;
    pipeline_observe(&x->base, p, decoded);
    if (x->obs_chunk.done && !was_done && x->obs_chunk.trailers && x->obs_chunk.trailer_bytes > 2)
        pipeline_observe_trailers(&x->base, str_from(x->obs_chunk.trailers,
                                                     x->obs_chunk.trailer_bytes - 2));
}

/* Would the upstream body be complete once the bytes marked ready are consumed? */
static bool body_ends_with_ready(const struct client *c)
{
    switch (c->x->resp_framing) {
    case H1_FRAME_LENGTH:
        return c->x->resp_left == 0;
    case H1_FRAME_CHUNKED:
        return c->x->resp_chunk.done;
    case H1_FRAME_EOF:
        return c->x->up->eof && c->x->resp_ready == c->x->up->in.len;
    case H1_FRAME_NONE:
        break;
    }
    return true;
}

/* The response body through the modules' transforms: upstream payload in, framed output built
 * in c->out and written from there (no zero-copy on this path). */
static int step_response_transform(struct client *c)
{
    struct h1x *x = c->x;
    struct upconn *u = x->up;
    int progress = STEP_IDLE;
    for (;;) {
        if (prepare_response_body(c) < 0)
            return STEP_DONE;
        if (!x->tx_done) {
            const char *p = buf_head(&u->in);
            size_t len = x->resp_ready, before = len;
            bool fin = body_ends_with_ready(c);
            if (transform_feed(c, &p, &len, fin) < 0) {
                client_abort(c); /* the head is out: a close is the only honest signal left */
                return STEP_DONE;
            }
            if (before != len) {
                buf_consume(&u->in, (uint32_t)(before - len));
                x->resp_ready -= (uint32_t)(before - len);
                progress = STEP_PROGRESS;
            }
            if (!x->resp_ready && x->resp_skip) {
                buf_consume(&u->in, x->resp_skip);
                x->resp_skip = 0;
            }
        }
        if (!c->out.len)
            break;
        uint32_t had = c->out.len;
        int r = client_flush_out(c);
        if (r < 0) {
            client_abort(c);
            return STEP_DONE;
        }
        if (c->out.len != had)
            progress = STEP_PROGRESS;
        if (r > 0 || x->tx_done || !x->resp_ready)
            break;
    }
    if (x->tx_done && !x->resp_done)
        x->resp_done = true;
    if (!x->resp_done && u->eof && !x->resp_ready && !u->in.len) {
        client_abort(c); /* the upstream cut the body short */
        return STEP_DONE;
    }
    return progress;
}

/* The client is not taking the response bytes ready in up->in: copies them into x->ahead so
 * that the upstream can be read on (and released once the response is in), or leaves them
 * there (backpressure) when the exchange may not read ahead. Observers see them now: they
 * leave up->in here. */
static bool read_ahead(struct client *c)
{
    struct h1x *x = c->x;
    struct upconn *u = x->up;
    uint64_t rest = x->resp_framing == H1_FRAME_LENGTH ? x->resp_left : 0;
    if (!buffering_ahead_take(c, buf_head(&u->in), x->resp_ready, rest))
        return false;
    if (x->base.nobservers)
        observe_sent(c, buf_head(&u->in), x->resp_ready);
    buf_consume(&u->in, x->resp_ready + x->resp_skip);
    x->resp_ready = x->resp_skip = 0;
    return true;
}

/* Head, read-ahead bytes, then bytes straight from up->in (no copy while the client keeps
 * up): one writev, in that order. */
int downstream_step(struct client *c)
{
    if (c->x->transforming && c->x->resp_head_done && c->x->up)
        return step_response_transform(c); /* (once released, only c->out is left to write) */
    struct h1x *x = c->x;
    struct upconn *u = x->up;
    int progress = STEP_IDLE;
    for (;;) {
        if (u && x->resp_head_done && prepare_response_body(c) < 0)
            return STEP_DONE;
        struct iovec iov[3];
        int n = 0;
        if (c->out.len)
            iov[n++] = (struct iovec){.iov_base = buf_head(&c->out), .iov_len = c->out.len};
        if (x->ahead.len)
            iov[n++] = (struct iovec){.iov_base = buf_head(&x->ahead), .iov_len = x->ahead.len};
        if (x->resp_ready)
            iov[n++] = (struct iovec){.iov_base = buf_head(&u->in), .iov_len = x->resp_ready};
        if (n == 0)
            break;
        if (!c->writable) {
            if (x->resp_ready && read_ahead(c)) {
                progress = STEP_PROGRESS;
                continue;
            }
            break;
        }
        ssize_t w = tls_io_sendv(c->io.fd, c->tls, iov, n);
        if (w == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                c->writable = false;
                continue;
            }
            client_abort(c);
            return STEP_DONE;
        }
        progress = STEP_PROGRESS;
        size_t total = (size_t)w;
        x->log.bytes_out += total;
        size_t all = 0;
        for (int i = 0; i < n; i++)
            all += iov[i].iov_len;
        if (total < all)
            c->writable = false;
        uint32_t h = total < c->out.len ? (uint32_t)total : c->out.len;
        buf_consume(&c->out, h);
        total -= h;
        uint32_t a = total < x->ahead.len ? (uint32_t)total : x->ahead.len;
        buf_consume(&x->ahead, a);
        total -= a;
        if (total) {
            if (x->base.nobservers)
                observe_sent(c, buf_head(&u->in), total);
            buf_consume(&u->in, (uint32_t)total);
            x->resp_ready -= (uint32_t)total;
        }
        if (!x->resp_ready && x->resp_skip) {
            buf_consume(&u->in, x->resp_skip);
            x->resp_skip = 0;
        }
    }
    if (!u)
        return progress;
    if (x->resp_head_done && !x->resp_done && !x->resp_ready && !x->resp_skip &&
        response_body_complete(c))
        x->resp_done = true;
    if (x->resp_head_done && !x->resp_done && u->eof && !x->resp_ready && !u->in.len) {
        client_abort(c); /* the upstream cut the body short */
        return STEP_DONE;
    }
    return progress;
}


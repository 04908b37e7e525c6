/* buffering.c — see buffering.h.
 *
 * Memory: a body in memory grows as its bytes arrive (16 KiB, then doubling, up to its
 * Content-Length or the route's bound), so a slow upload holds what it sent, not what it
 * announced; a body bound for a temp file holds no memory at all (its bytes pass through the
 * connection's read buffer). The read-ahead buffer of a response grows the same way up to the
 * route's `max`. The worker's figures (buf_memory, buf_files in its metrics shard) are the
 * bounds' only state: written by this worker alone, read by the admin thread. */
#include "proxy/buffering.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "http/h1.h"
#include "pipeline/arena.h"
#include "proxy/headers.h"
#include "tls/tls_io.h"

#define BODY_FIRST_ALLOC (16u << 10)
#define AHEAD_FIRST_ALLOC (32u << 10)
#define MEM_MAX (1u << 30) /* one body or read-ahead buffer in memory (uint32_t sizes) */

/* ---- the worker's bounds ---------------------------------------------------------------- */

static bool take(mcounter *gauge, uint64_t bound, uint64_t n)
{
    uint64_t cur = mc_get(gauge);
    if (n > bound || cur > bound - n)
        return false;
    mc_set(gauge, cur + n);
    return true;
}

static void give(mcounter *gauge, uint64_t n)
{
    mc_set(gauge, mc_get(gauge) - n);
}

static bool mem_take(struct client *c, uint64_t n)
{
    return take(&c->w->metrics.buf_memory, c->wc->cfg->buffering.memory, n);
}

static void mem_give(struct client *c, uint64_t n)
{
    give(&c->w->metrics.buf_memory, n);
}

/* ---- request bodies --------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A refusal for lack of room: 413 when the body is too large for memory and alone larger than
 * the worker's file bound (it would never fit), else 503 (it may fit later). */
static int refuse(struct client *c, const struct reqbody *b, uint64_t size, const char **why)
{
    mc_add(&c->w->metrics.bodies_refused, 1);
    if (size > b->mem_max && size > c->wc->cfg->buffering.files) {
        *why = "request body larger than this gateway buffers (see request_buffering)";
        return 413;
    }
    *why = "the request buffers of this gateway are full";
    return 503;
}

static void log_file_error(struct client *c, const char *what)
{
    struct worker *w = c->w;
    log_msg_limited(&w->buffering_log, w->loop.now_ms, LOG_ERROR,
                    "worker %u: request body temp file in %s: %s: %s; answering 503", w->id,
                    c->wc->cfg->buffering.temp_dir, what, strerror(errno));
}

/* The request head's slices point into the read buffer, which a body read through it (chunked,
 * or bound for a file) overwrites; modules read the head until the exchange ends, so the
 * slices move to a copy in the exchange's arena first. */
static int pin_head(struct client *c, struct reqbody *b)
{
    struct h1_request *r = &c->x->req;
    if (b->head_pinned)
        return 0;
    const char *lo = r->method.ptr, *hi = r->method.ptr + r->method.len;
#define SPAN(s)                                                                                \
    do {                                                                                       \
        if ((s).ptr && (s).ptr < lo)                                                           \
            lo = (s).ptr;                                                                      \
        if ((s).ptr && (s).ptr + (s).len > hi)                                                 \
            hi = (s).ptr + (s).len;                                                            \
    } while (0)
#define MOVE(s)                                                                                \
    do {                                                                                       \
        if ((s).ptr)                                                                           \
            (s).ptr = copy + ((s).ptr - lo);                                                   \
    } while (0)
    SPAN(r->target);
    SPAN(r->host);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        SPAN(r->headers[i].name);
        SPAN(r->headers[i].value);
    }
    char *copy = arena_alloc(&c->x->base.arena, (size_t)(hi - lo));
    if (!copy)
        return -1;
    memcpy(copy, lo, (size_t)(hi - lo));
    MOVE(r->method);
    MOVE(r->target);
    MOVE(r->host);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        MOVE(r->headers[i].name);
        MOVE(r->headers[i].value);
    }
#undef SPAN
#undef MOVE
    b->head_pinned = true;
    return 0;
}

/* Counts n more bytes against the worker's temp-file bound. */
static int file_reserve(struct client *c, struct reqbody *b, uint64_t n, const char **why)
{
    if (!take(&c->w->metrics.buf_files, c->wc->cfg->buffering.files, n))
        return refuse(c, b, b->file_bytes + n, why);
    b->file_bytes += n;
    return 0;
}

/* Moves the body to a temp file: what arrived so far, and from now on every byte. */
static int to_file(struct client *c, struct reqbody *b, const char **why)
{
    if (pin_head(c, b) != 0) {
        *why = "out of memory";
        return 503;
    }
    int st = file_reserve(c, b, b->want != UINT64_MAX ? b->want : b->len, why);
    if (st)
        return st;
    b->fd = open(c->wc->cfg->buffering.temp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (b->fd == -1) {
        log_file_error(c, "cannot create");
        *why = "cannot buffer the request body";
        return 503;
    }
    if (b->len && write_all(b->fd, b->mem, b->len) == -1) {
        log_file_error(c, "cannot write");
        *why = "cannot buffer the request body";
        return 503;
    }
    free(b->mem);
    mem_give(c, b->cap);
    b->mem = NULL;
    b->cap = 0;
    return 0;
}

/* Room in memory for `need` more bytes, or the move to a temp file. */
static int grow(struct client *c, struct reqbody *b, uint64_t need, const char **why)
{
    uint64_t size = b->len + need;
    if (size <= b->mem_max) {
        uint64_t cap = b->cap ? (uint64_t)b->cap * 2 : BODY_FIRST_ALLOC;
        if (cap < size)
            cap = size;
        if (cap > b->mem_max)
            cap = b->mem_max;
        if (cap > b->want)
            cap = b->want;
        if (mem_take(c, cap - b->cap)) {
            char *m = realloc(b->mem, cap);
            if (m) {
                b->mem = m;
                b->cap = (uint32_t)cap;
                return 0;
            }
            mem_give(c, cap - b->cap);
        }
    }
    if (!b->spill) { /* kept for replay only: sized whole at the start, never grows */
        *why = "out of memory";
        return 503;
    }
    return to_file(c, b, why);
}

/* Appends n body bytes. */
static int store(struct client *c, const char *p, size_t n, const char **why)
{
    struct reqbody *b = c->x->body;
    if (buffering_body_in_memory(b) && b->len + n > b->cap) {
        int st = grow(c, b, n, why);
        if (st)
            return st;
    }
    if (buffering_body_in_memory(b)) {
        memcpy(b->mem + b->len, p, n);
        b->len += n;
        return 0;
    }
    if (b->len + n > b->file_bytes) { /* chunked: counted as it comes */
        int st = file_reserve(c, b, b->len + n - b->file_bytes, why);
        if (st)
            return st;
    }
    if (write_all(b->fd, p, n) == -1) {
        log_file_error(c, "cannot write");
        *why = "cannot buffer the request body";
        return 503;
    }
    b->len += n;
    return 0;
}

int buffering_body_begin(struct client *c, uint64_t keep, const char **why)
{
    const struct h1_request *r = &c->x->req;
    const struct cfg_route_buffering *rb = &c->x->route->buffering;
    bool chunked = r->framing == H1_FRAME_CHUNKED;
    if (!chunked && !(r->framing == H1_FRAME_LENGTH && r->content_length > 0))
        return 0;
    if (!rb->request) {
        /* Streamed, unless small enough to keep for a retry or a hash: allocated whole. */
        uint64_t cl = r->content_length;
        if (chunked || cl > keep || cl > MEM_MAX || !mem_take(c, cl))
            return 0;
        char *m = malloc(cl);
        struct reqbody *b = m ? malloc(sizeof(*b)) : NULL;
        if (!b) {
            free(m);
            mem_give(c, cl);
            return 0;
        }
        *b = (struct reqbody){.mem = m, .cap = (uint32_t)cl, .fd = -1, .want = cl,
                              .mem_max = cl};
        c->x->body = b;
        return 1;
    }
    struct reqbody *b = malloc(sizeof(*b));
    if (!b) {
        *why = "out of memory";
        return 503;
    }
    *b = (struct reqbody){.fd = -1,
                          .want = chunked ? UINT64_MAX : r->content_length,
                          .mem_max = rb->request_memory < MEM_MAX ? rb->request_memory : MEM_MAX,
                          .spill = true};
    c->x->body = b; /* from here, whatever happens, buffering_release frees it */
    if (chunked && pin_head(c, b) != 0) {
        *why = "out of memory";
        return 503;
    }
    if (b->want != UINT64_MAX && b->want > b->mem_max) {
        int st = to_file(c, b, why);
        if (st)
            return st;
    }
    return 1;
}

static int body_done(struct client *c, const char **why)
{
    struct reqbody *b = c->x->body;
    if (c->x->req.framing == H1_FRAME_CHUNKED) {
        b->want = b->len;
        if (headers_chunked_to_length(&c->x->uphead, b->len) == -1) {
            *why = "request head too large once forwarded";
            return 431;
        }
    }
    mc_add(buffering_body_in_memory(b) ? &c->w->metrics.bodies_memory
                                       : &c->w->metrics.bodies_file,
           1);
    return BODY_DONE;
}

/* Takes body bytes from the front of c->in (decoding a chunked body in place). */
static int take_from_in(struct client *c, const char **why)
{
    struct reqbody *b = c->x->body;
    if (c->x->req.framing != H1_FRAME_CHUNKED) {
        uint64_t n = c->in.len < b->want - b->len ? c->in.len : b->want - b->len;
        int st = store(c, buf_head(&c->in), (size_t)n, why);
        if (st)
            return st;
        buf_consume(&c->in, (uint32_t)n);
        c->x->log.bytes_in += n;
        return b->len == b->want ? body_done(c, why) : BODY_MORE;
    }
    size_t decoded = 0;
    ssize_t k = h1_chunked_feed(&c->x->req_chunk, buf_head(&c->in), c->in.len, &decoded);
    if (k < 0) {
        *why = "malformed chunked request body";
        return 400;
    }
    int st = store(c, buf_head(&c->in), decoded, why);
    if (st)
        return st;
    buf_consume(&c->in, (uint32_t)k);
    c->x->log.bytes_in += (uint64_t)k;
    uint64_t max = c->wc->cfg->limits.max_body;
    if (max && b->len > max) {
        *why = "request body too large";
        return 413;
    }
    return c->x->req_chunk.done ? body_done(c, why) : BODY_MORE;
}

int buffering_body_fill(struct client *c, const char **why)
{
    struct reqbody *b = c->x->body;
    bool chunked = c->x->req.framing == H1_FRAME_CHUNKED;
    for (;;) {
        if (c->in.len) {
            int st = take_from_in(c, why);
            if (st != BODY_MORE)
                return st;
        }
        if (!chunked && b->len == b->want)
            return body_done(c, why);
        if (!c->readable || c->eof)
            break;
        ssize_t n;
        if (!chunked && buffering_body_in_memory(b)) {
            /* Straight into the body: no copy. */
            if (b->len == b->cap) {
                int st = grow(c, b, 1, why);
                if (st)
                    return st;
                continue; /* it may have gone to a file */
            }
            uint64_t room = b->cap - b->len;
            n = tls_io_recv(c->io.fd, c->tls, b->mem + b->len,
                            room < b->want - b->len ? room : b->want - b->len);
            if (n > 0) {
                b->len += (uint64_t)n;
                c->x->log.bytes_in += (uint64_t)n;
                continue;
            }
        } else {
            /* Through the read buffer (empty here): decoded or written to the file from it. */
            buf_compact(&c->in);
            uint64_t room = buf_room(&c->in);
            if (!chunked && room > b->want - b->len)
                room = b->want - b->len;
            n = tls_io_recv(c->io.fd, c->tls, buf_tail(&c->in), room);
            if (n > 0) {
                c->in.len += (uint32_t)n;
                continue;
            }
        }
        if (n == 0)
            c->eof = true;
        else if (errno == EAGAIN || errno == EINTR)
            c->readable = false;
        else
            c->eof = c->hup = true;
    }
    return c->eof ? BODY_GONE : BODY_MORE;
}

ssize_t buffering_body_sendfile(struct reqbody *b, int fd, struct tls_conn *tls)
{
    off_t off = (off_t)b->sent;
    uint64_t n = b->len - b->sent;
    ssize_t w = tls_io_sendfile(fd, tls, b->fd, &off, n < (1u << 30) ? (size_t)n : (1u << 30));
    if (w > 0)
        b->sent += (uint64_t)w;
    return w;
}

/* ---- response read-ahead ---------------------------------------------------------------- */

static bool ahead_stop(struct client *c)
{
    c->x->ahead_off = true;
    mc_add(&c->w->metrics.ahead_fallbacks, 1);
    return false;
}

bool buffering_ahead_take(struct client *c, const char *p, uint32_t n, uint64_t rest)
{
    const struct cfg_route_buffering *rb = &c->x->route->buffering;
    struct buf *a = &c->x->ahead;
    if (!rb->response || c->x->ahead_off)
        return false;
    uint64_t size = (uint64_t)a->len + n;
    if (size + rest > rb->response_max || size > MEM_MAX)
        return ahead_stop(c);
    if (n > buf_room(a)) {
        buf_compact(a);
        if (n > buf_room(a)) {
            uint64_t cap = a->cap ? (uint64_t)a->cap * 2 : AHEAD_FIRST_ALLOC;
            if (cap < size)
                cap = size;
            if (cap > rb->response_max)
                cap = rb->response_max; /* >= size, checked above */
            if (!mem_take(c, cap - a->cap))
                return ahead_stop(c);
            char *d = realloc(a->data, cap);
            if (!d) {
                mem_give(c, cap - a->cap);
                return ahead_stop(c);
            }
            a->data = d;
            a->cap = (uint32_t)cap;
        }
    }
    memcpy(buf_tail(a), p, n);
    a->len += n;
    return true;
}

/* ---- end of the exchange ---------------------------------------------------------------- */

void buffering_release(struct client *c)
{
    struct reqbody *b = c->x->body;
    if (b) {
        free(b->mem);
        mem_give(c, b->cap);
        if (b->fd != -1)
            close(b->fd);
        give(&c->w->metrics.buf_files, b->file_bytes);
        free(b);
        c->x->body = NULL;
    }
    if (c->x->ahead.data) {
        free(c->x->ahead.data);
        mem_give(c, c->x->ahead.cap);
    }
    c->x->ahead = (struct buf){0};
    c->x->ahead_off = false;
}

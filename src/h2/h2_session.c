/* h2_session.c — see h2_session.h. */
#include "h2/h2_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2/h2_map.h"
#include "h2/h2_stream.h"

#define FLOOD_WINDOW_MS 10000
/* Far past the head limit a stream is reset rather than answered: decoding goes on no more. */
#define BOMB_FACTOR 4
/* Header block fragments (HEADERS + CONTINUATION) per block (CVE-2024-28182). */
#define MAX_CONTINUATIONS 8
/* Client resets before nghttp2 closes the connection: a burst, then per second (Rapid Reset). */
#define RESET_BURST 1000
#define RESET_RATE 33

static void flood_tick(struct h2_session *h)
{
    if (h->now_ms - h->window_ms < FLOOD_WINDOW_MS)
        return;
    h->window_ms = h->now_ms;
    h->ctrl = h->payload = h->resets_sent = 0;
}

static void calm_down(struct h2_session *h)
{
    if (h->calm)
        return;
    h->calm = 1;
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_ENHANCE_YOUR_CALM, NULL, 0);
}

/* A control frame (or an empty DATA frame): past the allowance, the connection goes. The
 * allowance grows by one frame per KiB of payload and ten per request. */
static void count_control(struct h2_session *h)
{
    flood_tick(h);
    h->ctrl++;
    if (h->ctrl > h->cfg->max_control + h->payload / 1024)
        calm_down(h);
}

/* ---- the request head ------------------------------------------------------------------ */

/* The head's storage (after the head was mapped, and when the stream closes: then the
 * request trailers too, which the session owns as well). */
static void drop_head(struct h2_stream *s)
{
    free(s->fields);
    free(s->hbuf);
    s->fields = NULL;
    s->hbuf = NULL;
}

static void drop_all(struct h2_stream *s)
{
    drop_head(s);
    free(s->rtrail);
    s->rtrail = NULL;
}

/* The head's storage grows as fields come (most heads are small): room for one more field of
 * n bytes. The fields point into hbuf, so they move with it. */
static int grow_head(struct h2_session *h, struct h2_stream *s, size_t n)
{
    if (s->nfields == s->fcap) {
        uint32_t cap = s->fcap ? s->fcap * 2 : 16;
        if (cap > h->max_headers + 4)
            cap = h->max_headers + 4;
        struct h2_field *f = realloc(s->fields, cap * sizeof(*f));
        if (!f)
            return -1;
        s->fields = f;
        s->fcap = cap;
    }
    if (s->hlen + n > s->hcap) {
        uint32_t cap = s->hcap ? s->hcap : 1024;
        while (cap < s->hlen + n)
            cap *= 2;
        if (cap > h->max_header_bytes)
            cap = h->max_header_bytes;
        char *b = malloc(cap); /* not realloc: the old block is needed to move the fields */
        if (!b)
            return -1;
        if (s->hlen)
            memcpy(b, s->hbuf, s->hlen);
        for (uint32_t i = 0; i < s->nfields; i++) {
            s->fields[i].name.ptr = b + (s->fields[i].name.ptr - s->hbuf);
            s->fields[i].value.ptr = b + (s->fields[i].value.ptr - s->hbuf);
        }
        free(s->hbuf);
        s->hbuf = b;
        s->hcap = cap;
    }
    return 0;
}

static struct h2_stream *stream_new(struct h2_session *h, int32_t id)
{
    struct h2_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->sess = h;
    s->id = id;
    dlist_push_back(&h->streams, &s->link);
    h->nstreams++;
    return s;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    struct h2_session *h = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *s = stream_new(h, f->hd.stream_id);
    if (!s)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
    return 0;
}

/* A request trailer field: kept as an HTTP/1.1 line for the chunked body's end (a body with a
 * content-length has no room for trailers: they are dropped). */
static int trailer(struct h2_session *h, struct h2_stream *s, const uint8_t *name, size_t namelen,
                   const uint8_t *value, size_t valuelen)
{
    if (!s->info.chunked || s->reject || h2_map_forbidden(str_from((const char *)name, namelen)))
        return 0;
    if (!s->rtrail && !(s->rtrail = malloc(h->max_header_bytes)))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (namelen + valuelen + 4 > h->max_header_bytes - s->rtrail_len)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* reset: too large */
    char *p = s->rtrail + s->rtrail_len;
    memcpy(p, name, namelen);
    memcpy(p + namelen, ": ", 2);
    memcpy(p + namelen + 2, value, valuelen);
    memcpy(p + namelen + 2 + valuelen, "\r\n", 2);
    s->rtrail_len += (uint32_t)(namelen + valuelen + 4);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    struct h2_session *h = user;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!s)
        return 0;
    if (s->head_done)
        return trailer(h, s, name, namelen, value, valuelen);
    s->decoded += namelen + valuelen + 32; /* RFC 9113 §6.5.2's measure */
    if (s->decoded > (uint64_t)h->max_header_bytes * BOMB_FACTOR)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* reset the stream, stop decoding */
    if (s->reject)
        return 0;
    if (s->nfields == h->max_headers + 4 || namelen + valuelen > h->max_header_bytes - s->hlen) {
        s->reject = 431; /* + 4: the pseudo-headers */
        return 0;
    }
    if (grow_head(h, s, namelen + valuelen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    char *p = s->hbuf + s->hlen;
    memcpy(p, name, namelen);
    memcpy(p + namelen, value, valuelen);
    s->hlen += (uint32_t)(namelen + valuelen);
    s->fields[s->nfields++] = (struct h2_field){.name = {p, namelen},
                                                .value = {p + namelen, valuelen}};
    return 0;
}

/* Answers a stream without an exchange (the head was refused). */
static void answer(struct h2_session *h, struct h2_stream *s, int status)
{
    char st[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
                  (char)('0' + status % 10), '\0'};
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)"0", 14, 1, NGHTTP2_NV_FLAG_NONE},
    };
    s->phase = H2S_DONE;
    s->submitted = true;
    if (nghttp2_submit_response(h->ng, s->id, nv, 2, NULL) != 0)
        h2_session_reset(h, s->id, NGHTTP2_INTERNAL_ERROR);
}

/* Room for n more bytes in wbuf. */
static int reserve(struct h2_stream *s, size_t n)
{
    if (n > s->wcap - s->wlen) {
        size_t cap = s->wcap ? s->wcap : 1024;
        while (cap < s->wlen + n)
            cap *= 2;
        char *p = realloc(s->wbuf, cap);
        if (!p)
            return -1;
        s->wbuf = p;
        s->wcap = cap;
    }
    return 0;
}

static int append(struct h2_stream *s, const char *d, size_t n)
{
    if (reserve(s, n) != 0)
        return -1;
    memcpy(s->wbuf + s->wlen, d, n);
    s->wlen += n;
    return 0;
}

static void head_done(struct h2_session *h, struct h2_stream *s, bool end)
{
    s->head_done = true;
    if (!s->reject) {
        /* Written straight into wbuf: the head is at most the fields' bytes, ": " and CRLF for
         * each, and fixed text (request line, Host, transfer-encoding, the end). */
        size_t room = (size_t)s->hlen + 4u * s->nfields + 128;
        int n = reserve(s, room) == 0 ? h2_map_request(s->fields, s->nfields, !end,
                                                       s->wbuf + s->wlen, room, &s->info)
                                      : -503;
        if (n > 0)
            s->wlen += (size_t)n;
        else
            s->reject = -n;
    }
    drop_head(s);
    if (s->reject) {
        answer(h, s, s->reject);
        return;
    }
    h->nrequests++;
    s->req_end = end;
    s->pending = true;
    dlist_push_back(&h->pending, &s->pend);
}

static void request_end(struct h2_stream *s)
{
    if (s->req_end)
        return;
    s->req_end = true;
    if (s->info.chunked && (append(s, "0\r\n", 3) != 0 ||
                            (s->rtrail_len && append(s, s->rtrail, s->rtrail_len) != 0) ||
                            append(s, "\r\n", 2) != 0))
        h2_session_reset(s->sess, s->id, NGHTTP2_INTERNAL_ERROR);
    else
        h2_stream_push(s);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    struct h2_session *h = user;
    struct h2_stream *s = f->hd.stream_id ? nghttp2_session_get_stream_user_data(ng, f->hd.stream_id)
                                          : NULL;
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
        flood_tick(h);
        h->payload += 10 * 1024;
        if (s && !s->head_done)
            head_done(h, s, end);
        else if (s && end && !s->reject)
            request_end(s); /* trailers end the body */
        break;
    case NGHTTP2_DATA:
        if (f->hd.length == 0 && !end)
            count_control(h);
        if (s && end && !s->reject)
            request_end(s);
        break;
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK))
            count_control(h);
        break;
    case NGHTTP2_PRIORITY:
    case NGHTTP2_WINDOW_UPDATE:
    case NGHTTP2_RST_STREAM:
        count_control(h);
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    struct h2_session *h = user;
    flood_tick(h);
    h->payload += len;
    /* The connection window reopens at once: what weir holds is bounded per stream. */
    nghttp2_session_consume_connection(ng, len);
    struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s || s->reject) {
        nghttp2_session_consume_stream(ng, id, len);
        return 0;
    }
    char hex[24];
    int hn = s->info.chunked ? snprintf(hex, sizeof(hex), "%zx\r\n", len) : 0;
    /* Bounded by the stream window plus chunk framing; tiny frames cannot grow it further. */
    if (s->wlen - s->woff > (size_t)h->cfg->stream_window * 2 + h->max_header_bytes + 1024 ||
        (hn && append(s, hex, (size_t)hn) != 0) || append(s, (const char *)data, len) != 0 ||
        (hn && append(s, "\r\n", 2) != 0)) {
        h2_session_reset(h, id, NGHTTP2_ENHANCE_YOUR_CALM);
        return 0;
    }
    s->unconsumed += len;
    h2_stream_push(s);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)code;
    struct h2_session *h = user;
    struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    if (s->pending)
        dlist_remove(&s->pend);
    dlist_remove(&s->link);
    h->nstreams--;
    drop_all(s);
    h2_stream_free(s);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    (void)ng;
    struct h2_session *h = user;
    if (f->hd.type == NGHTTP2_RST_STREAM) {
        flood_tick(h);
        if (++h->resets_sent > h->cfg->max_resets)
            calm_down(h);
    } else if (f->hd.type == NGHTTP2_DATA) {
        flood_tick(h);
        h->payload += f->hd.length;
    }
    return 0;
}

/* ---- the session ----------------------------------------------------------------------- */

int h2_session_init(struct h2_session *h, const struct cfg_http2 *cfg,
                    const struct cfg_limits *limits, void *owner)
{
    *h = (struct h2_session){.cfg = cfg,
                             .max_header_bytes = limits->max_header_bytes,
                             .max_headers = limits->max_headers,
                             .owner = owner};
    dlist_init(&h->streams);
    dlist_init(&h->pending);
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
    nghttp2_option_set_stream_reset_rate_limit(opt, RESET_BURST, RESET_RATE);
    nghttp2_option_set_max_continuations(opt, MAX_CONTINUATIONS);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    int r = nghttp2_session_server_new2(&h->ng, cb, h, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (r != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, cfg->stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits->max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0) {
        nghttp2_session_del(h->ng);
        h->ng = NULL;
        return -1;
    }
    return 0;
}

int h2_session_recv(struct h2_session *h, const uint8_t *data, size_t len, uint64_t now_ms)
{
    h->now_ms = now_ms;
    ssize_t r = nghttp2_session_mem_recv(h->ng, data, len);
    if (r < 0) {
        h->fatal = true;
        return -1;
    }
    /* Streams opened and reset within this batch are gone already: they cost no exchange. */
    while (!dlist_empty(&h->pending)) {
        struct h2_stream *s = container_of(h->pending.next, struct h2_stream, pend);
        dlist_remove(&s->pend);
        s->pending = false;
        if (h->calm || h2_stream_start(s) != 0)
            h2_session_reset(h, s->id, NGHTTP2_REFUSED_STREAM);
    }
    return h->calm ? -1 : 0;
}

void h2_session_shutdown(struct h2_session *h)
{
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

bool h2_session_done(struct h2_session *h)
{
    return !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
}

void h2_session_reset(struct h2_session *h, int32_t id, uint32_t code)
{
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, id, code);
}

void h2_session_free(struct h2_session *h)
{
    if (h->ng)
        nghttp2_session_del(h->ng); /* closes every stream: on_stream_close frees them */
    h->ng = NULL;
    while (!dlist_empty(&h->streams)) { /* none should be left; belt and braces */
        struct h2_stream *s = container_of(h->streams.next, struct h2_stream, link);
        dlist_remove(&s->link);
        if (s->pending)
            dlist_remove(&s->pend);
        drop_all(s);
        h2_stream_free(s);
    }
}

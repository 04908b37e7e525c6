/* h2_stream.h — one HTTP/2 stream bridged to one exchange of the proxy.
 *
 * The seam (docs/http2.md, docs/architecture.md): a stream runs on a *lane*, an inner HTTP/1.1
 * connection (struct client, made by client_accept_virtual) whose transport is no socket but a
 * virtual tls_conn (tls_conn_virtual) whose calls land here: the inner connection reads the
 * request head h2_map_request made and the request body from DATA frames out of the stream's
 * buffer, and writes its HTTP/1.1 response into the stream's response buffer, whose head becomes
 * a HEADERS frame and whose body (de-chunked) becomes DATA frames. So routing, every pipeline
 * module, retries and the access log run unchanged. Readiness is delivered as epoll would
 * (client_wake, after the event batch). Backpressure both ways: the response buffer takes bytes
 * only while empty (it empties as the client's window allows: a write finds no room, EAGAIN,
 * and the exchange is woken when there is), and the client's stream window reopens only as the
 * exchange reads the request body.
 *
 * h2_session.c owns the stream's life (created on HEADERS, freed when nghttp2 closes it) and
 * calls the three functions below; h2_stream.c implements them with lanes, the fuzz driver
 * (tests/fuzz/fuzz_h2_session.c) over nothing. */
#ifndef WEIR_H2_H2_STREAM_H
#define WEIR_H2_H2_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dlist.h"
#include "h2/h2_map.h"
#include "http/h1_types.h"

struct h2_session;
struct h2_conn;
struct h2_stream;

/* A lane carries one stream at a time; when a stream ended cleanly (whole request read, whole
 * response written, no Connection: close) it waits in its HTTP/2 connection's idle list for the
 * next stream, as a kept-alive HTTP/1.1 connection waits for its next request — so a stream
 * usually costs no struct client of its own. A lane is freed once it is closed (by the stream's
 * end or the connection's) and its inner connection has gone, whichever comes last. */
struct h2_lane {
    struct h2_conn *hc;           /* NULL once closed */
    struct worker *w;
    struct h2_stream *s;          /* the stream it carries; NULL while idle */
    struct client *inner;         /* its inner connection; NULL once that closed */
    struct dlist link;            /* in hc->lanes while idle */
    char *rbuf;                   /* the response buffer of the stream it carries */
    uint32_t wake;                /* readiness to deliver to the inner connection */
    bool wake_queued, in_wake;
    bool inner_blocked;           /* its last write found no room: wake it when there is */
    bool closed;                  /* carries no more streams (freed once the inner is gone) */
};

struct h2_stream {
    struct h2_lane *lane;         /* while started */
    struct h2_session *sess;
    int32_t id;
    struct dlist link;            /* in sess->streams */
    struct dlist pend;            /* in sess->pending until started after the input batch */
    bool pending;

    /* The request head as it arrives (freed once mapped). */
    struct h2_field *fields;
    uint32_t nfields, fcap;
    char *hbuf;                   /* names and values of `fields` */
    uint32_t hlen, hcap;
    uint64_t decoded;             /* header bytes decoded for this stream (HPACK bomb bound) */
    int reject;                   /* a status to answer with instead of a request (431, 400) */
    bool head_done;               /* the request head was mapped */
    struct h2_req_info info;

    /* Bytes for the exchange: the head, then the body (chunk-framed when info.chunked). */
    char *wbuf;
    size_t wlen, woff, wcap;
    uint64_t unconsumed;          /* body bytes received but not yet read by the exchange: the
                                     stream window reopens by them once they are */
    bool req_end;                 /* END_STREAM seen (the final chunk is in wbuf) */
    bool started;
    bool resp_close;              /* the response said Connection: close */

    /* The response the exchange wrote. */
    char *rbuf;                   /* its lane's */
    size_t rlen;                  /* raw bytes not yet processed, from rbuf[0] */
    size_t roff, rready;          /* payload ready for DATA frames: rbuf[roff, roff + rready) */
    uint8_t phase;                /* H2S_HEAD, H2S_BODY, H2S_DONE */
    bool submitted;               /* the response's HEADERS went to nghttp2 */
    bool deferred;                /* nghttp2 waits for body bytes (resume when they come) */
    uint64_t progress_ms;         /* when the client last took response bytes (stall check) */
    enum h1_framing framing;
    uint64_t left;                /* LENGTH framing: body bytes still to come */
    struct h1_chunked chunk;
    char *trailers;               /* the response's trailer section (chunked responses) */
    char *rtrail;                 /* the request's trailers as HTTP/1.1 lines (chunked bodies) */
    uint32_t rtrail_len;
};

enum { H2S_HEAD = 0, H2S_BODY, H2S_DONE };

/* The request head is in s->wbuf (s->info says how the body is framed): connect it to an
 * exchange. Returns 0, or -1 (the session resets the stream with REFUSED_STREAM). */
int h2_stream_start(struct h2_stream *s);
/* The session added request body bytes (or the final chunk) to s->wbuf: the exchange is woken
 * to read them (only once started). */
void h2_stream_push(struct h2_stream *s);
/* The stream is closed (done, or reset by either side): release everything; an exchange still
 * running sees its connection close (the upstream request is cancelled). Frees s. */
void h2_stream_free(struct h2_stream *s);

/* Closes the idle lanes of a connection (h2_conn.c, when it closes). */
void h2_lane_close_idle(struct h2_conn *hc);

/* The response waits on the client's window (stream or connection) and has for `ms`: the
 * zero-window stall the connection's timer resets (h2_conn.c). */
bool h2_stream_stalled(const struct h2_stream *s, uint64_t now_ms, uint32_t ms);

#endif

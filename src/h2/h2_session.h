/* h2_session.h — one HTTP/2 server session (nghttp2) without I/O: bytes in, frames out through
 * nghttp2_session_mem_send, streams handed to h2_stream.h. It maps each request head
 * (h2_map.h), bounds what a peer can make weir hold or do, and enforces the defences of
 * docs/http2.md:
 * - SETTINGS: max concurrent streams, the stream window (request body bytes held per stream),
 *   max header list size; no automatic window updates (a stream's window reopens only as its
 *   body leaves, h2_stream.c);
 * - header lists: decoded bytes and fields per stream capped (431; far past the cap, a stream
 *   reset: HPACK bombs), CONTINUATION frames per header block capped (nghttp2);
 * - Rapid Reset: nghttp2's stream reset rate limit closes the connection; streams are started
 *   only after the whole input batch, so a stream reset in the same batch never reaches an
 *   upstream, and a reset later closes its exchange's connection (the request is cancelled);
 * - floods: control frames (SETTINGS, PING, PRIORITY, WINDOW_UPDATE, RST_STREAM, empty DATA)
 *   per 10 s beyond an allowance that grows with payload → GOAWAY ENHANCE_YOUR_CALM;
 * - MadeYouReset: stream resets weir itself sends per 10 s capped the same way. */
#ifndef WEIR_H2_H2_SESSION_H
#define WEIR_H2_H2_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>

#include "core/config_types.h"
#include "core/dlist.h"

struct h2_session {
    nghttp2_session *ng;
    const struct cfg_http2 *cfg;
    uint32_t max_header_bytes;    /* limits.max_header_bytes */
    uint32_t max_headers;         /* limits.max_headers */
    void *owner;                  /* the connection (h2_conn.h), for h2_stream.c */
    struct dlist streams;         /* every open stream */
    struct dlist pending;         /* streams to start after the input batch */
    uint32_t nstreams;
    uint64_t nrequests;
    /* Flood accounting over 10 s windows. */
    uint64_t now_ms, window_ms;
    uint64_t ctrl, payload, resets_sent;
    uint32_t calm;                /* set: GOAWAY ENHANCE_YOUR_CALM was sent, close */
    bool fatal;                   /* the session failed: close after flushing */
};

/* limits: the head limits of the config (header bytes and count). Returns 0 or -1. */
int h2_session_init(struct h2_session *h, const struct cfg_http2 *cfg,
                    const struct cfg_limits *limits, void *owner);
/* Feeds input; starts the streams it opened. Returns 0, or -1 when the connection must close
 * (after what is queued is flushed). */
int h2_session_recv(struct h2_session *h, const uint8_t *data, size_t len, uint64_t now_ms);
/* Graceful GOAWAY: no new streams, the open ones finish. */
void h2_session_shutdown(struct h2_session *h);
/* Nothing left to do: no streams, nothing to send, and the session ended (GOAWAY both ways or
 * an error). */
bool h2_session_done(struct h2_session *h);
/* Frees every stream and the session. */
void h2_session_free(struct h2_session *h);

/* For h2_stream.c: a reset weir sends (counted against MadeYouReset). */
void h2_session_reset(struct h2_session *h, int32_t id, uint32_t code);

#endif

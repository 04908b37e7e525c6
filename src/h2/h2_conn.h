/* h2_conn.h — an HTTP/2 client connection: the proxy's struct client after ALPN h2 (or an h2c
 * preface on a listener with `http2: true`) hands its socket and TLS over (client state
 * CS_H2). It reads into the session (h2_session.h), writes what the session queues, and runs
 * the connection's timers (idle, header phase, send) and graceful GOAWAY (reload, stop). */
#ifndef WEIR_H2_H2_CONN_H
#define WEIR_H2_H2_CONN_H

#include <stddef.h>

#include "h2/h2_session.h"
#include "proxy/proxy_types.h"

struct h2_conn {
    struct h2_session sess;
    struct client *c;             /* the connection (its fd, tls, peer, timer) */
    char *obuf;                   /* frames for the socket */
    size_t olen, ooff, ocap;
    uint32_t nstarted;            /* streams with an exchange */
    uint8_t timer_kind;           /* what c->timer is armed for (h2_conn.c) */
    bool draining;                /* GOAWAY sent: close once the streams are done */
    bool closing;                 /* being freed: lanes are closed, not kept */
    bool kick_queued;             /* a flush is deferred to the end of the event batch */
    bool read_queued;             /* reading goes on after the batch (a turn given away) */
    bool dead;                    /* freed while a deferred call was queued: it frees it */
    struct dlist lanes;           /* idle lanes (h2_stream.h) */
    uint32_t nlanes;
};

/* Takes the connection over; `pre` holds bytes already read (an h2c preface). Returns 0, or -1
 * (the caller closes the connection). */
int h2_conn_start(struct client *c, const char *pre, size_t len);
/* Readiness of the connection (c->readable / c->writable set by client.c). */
void h2_conn_event(struct h2_conn *h);
/* c->timer fired. */
void h2_conn_timeout(struct h2_conn *h);
/* Graceful stop or reload: GOAWAY, the open streams finish. */
void h2_conn_drain(struct h2_conn *h);
/* The connection closes (client_close_now): every stream goes, then the session. */
void h2_conn_free(struct h2_conn *h);
/* Sends what the session queued, closes when done. May free h. */
void h2_conn_kick(struct h2_conn *h);
/* The same at the end of the event batch, once for every stream event of the batch: the
 * frames of many streams go out in one TLS record and one write. */
void h2_conn_kick_later(struct h2_conn *h);

/* Counting streams with an exchange (h2_stream.c). */
void h2_conn_stream_started(struct h2_conn *h);
void h2_conn_stream_ended(struct h2_conn *h);

#endif

/* admin_conn.h — what the admin thread (admin.c: listener, connections, SSE) offers its
 * endpoints (admin_routes.c): the thread's and a connection's state, and ways to answer.
 * Private to src/admin; everything here runs on the admin thread. */
#ifndef WEIR_ADMIN_ADMIN_CONN_H
#define WEIR_ADMIN_ADMIN_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin/abuf.h"
#include "event/loop.h"

#define ADMIN_IN_MAX 16384                 /* a request head */
#define ADMIN_OUT_MAX ((size_t)256 << 20)  /* one response (a huge /metrics) */

struct admin_view;
struct collector;
struct config;
struct sec_kv_op;

struct reqinfo {
    bool head;       /* HEAD: headers only */
    bool keep;       /* keep the connection after the response */
};

struct aconn {
    struct ev_io io;         /* first: events carry &io */
    struct admin *a;
    struct aconn *prev, *next;
    struct timer timer;
    char in[ADMIN_IN_MAX];
    size_t inlen;
    struct abuf out;
    size_t out_off;
    bool sse, close_after_write, peer_eof, closed;
    bool lingering;          /* answered and half-closed: draining input until EOF or 2 s */
    struct sec_kv_op *op;    /* an answer from Redis to wait for (no request read meanwhile) */
    struct reqinfo op_ri;
};

struct admin {
    pthread_t thread;
    bool thread_started;
    struct ev_loop loop;
    bool loop_ready;
    int lfd;
    struct ev_io lio;
    int wake_fd;
    struct ev_io wake_io;
    struct admin_view *view;
    char *token;
    size_t token_len;
    char *listen_text;
    struct collector *col;
    struct timer tick;
    uint64_t next_tick_ms;
    uint32_t ticks;
    struct aconn *conns;
    uint32_t nconns, nsse;
    struct abuf body;        /* scratch for rendered documents */
    struct config *state_cfg; /* referenced; NULL when none */
};

/* CLOCK_REALTIME in ms, for the documents' timestamps. */
uint64_t admin_wall_ms(void);

/* Queues a response (headers only for HEAD); extra is more header lines, each ending in CRLF.
 * Out of memory or over ADMIN_OUT_MAX: a bare 500 and the connection closes after it. */
void admin_respond(struct aconn *c, const struct reqinfo *ri, int status, const char *ctype,
                   const char *extra, const char *body, size_t len);
void admin_respond_text(struct aconn *c, const struct reqinfo *ri, int status, const char *extra,
                        const char *text);

/* a->body, emptied, for an endpoint to render its document into (up to ADMIN_OUT_MAX). */
struct abuf *admin_scratch(struct admin *a);

/* Renders the status document into a->body; false on out of memory. */
bool admin_render_status(struct admin *a, unsigned flags);

/* Turns the connection into a Server-Sent Events subscriber (headers only for HEAD). */
void admin_sse_start(struct aconn *c, const struct reqinfo *ri);

/* Drives the connection as far as it goes without blocking: after an answer that came later
 * (c->op done), so that the next request is read. */
void admin_conn_run(struct aconn *c);

#endif

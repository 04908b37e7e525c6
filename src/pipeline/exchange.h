/* exchange.h — one request/response as the pipeline and its modules see it, apart from the
 * connection that carries it (HTTP/1.1 has one at a time per connection; HTTP/2 many). The
 * protocol side (the host) fills in the request facts, runs the pipeline and writes what it
 * decides; modules see only this struct, never a socket.
 *
 * Lifetime: from the complete request head to pipeline_end (which the host calls exactly once,
 * whatever happened); everything in the arena and every module context dies with it. The request
 * head's slices stay valid for the whole exchange (the host guarantees it). One thread: the
 * worker that owns the connection. */
#ifndef WEIR_PIPELINE_EXCHANGE_H
#define WEIR_PIPELINE_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"
#include "event/loop.h"
#include "http/h1_types.h"
#include "pipeline/arena.h"
#include "pipeline/module.h"
#include "pipeline/response.h"

#define PIPELINE_MAX_MODULES 16
#define PIPELINE_ARENA_INLINE 1024

struct exchange;
struct pipeline_chain;
struct pipeline_link;
struct worker_shard;

/* What pipeline_worker.fetch_reply gives its caller. */
struct fetch_reply {
    uint16_t status;                 /* 0: no (parsable) response */
    const struct h1_response *head;  /* NULL when status is 0 */
    struct str body;
    bool truncated;                  /* longer than max_bytes: body holds what fitted */
};

/* What the worker offers the pipeline; one per worker, set up by the host. */
struct pipeline_worker {
    struct ev_loop *loop;
    uint32_t id;
    uint32_t nworkers;
    /* Runs fn(arg) soon on worker `to`'s thread; callable from any thread. 0 or -1. */
    int (*post)(struct pipeline_worker *self, uint32_t to, void (*fn)(void *arg), void *arg);
    void *host;
    /* Maintained by the host; read by modules (load shedding, figures). */
    uint32_t inflight;           /* admitted exchanges on this worker, this one included */
    uint32_t loop_lag_ms;        /* last measured event-loop lag */
    struct worker_shard *metrics;
    /* Sends `req` (a whole HTTP/1.1 request head, no body, saying "Connection: close")
     * through this worker as an internal client: the route, its modules and the upstream
     * handler as for any client, with x->internal set. The response is read and dropped;
     * done(arg, status) is then called on this worker (status 0: no response). Returns 0, or
     * -1 (done is never called). NULL when the host has no such path. Worker thread. */
    int (*fetch)(struct pipeline_worker *self, const char *req, size_t len,
                 void (*done)(void *arg, uint16_t status), void *arg);
    /* As fetch, but the response is kept for done: its head and its body (chunked coding
     * removed) up to max_bytes of head and body together (a JWKS document, an auth
     * service's answer). The reply and what it points to live only during done. */
    int (*fetch_reply)(struct pipeline_worker *self, const char *req, size_t len,
                       size_t max_bytes, void (*done)(void *arg, const struct fetch_reply *r),
                       void *arg);
};

/* What the host does when the request side finishes after waiting: NEXT → the upstream
 * handler; RESPOND → write x->reply; FAIL → a 500. (When the pipeline finishes without
 * waiting, pipeline_request returns the verdict instead.) */
struct exchange_host_ops {
    void (*request_done)(struct exchange *x, enum pipeline_verdict v);
    /* A module needs the whole request body (x->body): read it, then pipeline_resume(x).
     * Returns 0, or -1 when the body cannot be kept (too large: the module decides). */
    int (*need_body)(struct exchange *x);
    /* A module that held back a window of its FILE reply (on_file_window) says go on. */
    void (*body_continue)(struct exchange *x);
};

struct exchange {
    /* Set by the host before pipeline_start. */
    const struct exchange_host_ops *host;
    struct pipeline_worker *worker;
    const struct config *cfg;
    const struct cfg_route *route;
    const struct pipeline_chain *chain;
    const struct h1_request *req;
    const char *client_ip;
    const char *request_id;      /* 32 hex chars or the client's X-Request-Id */
    struct str body;             /* the buffered request body, when a module asked for it */
    bool body_ready;
    bool tls;                    /* the request came over TLS */
    bool internal;               /* sent by pipeline_worker.fetch, not by a client */
    /* Who an authentication module found the client to be (an API key's client id, a
     * token's subject, a Basic user; arena or config memory), or NULL: for modules after it
     * (a rate limit keyed on the client) and the logs. */
    const char *client_id;
    /* The claims of the token that authenticated the request (a JSON object's text, arena
     * memory), or empty: for modules that decide by them (mask's unless_claim). */
    struct str auth_claims;
    /* Edits of the request sent upstream, set by modules in on_request (arena memory): the
     * host leaves out the fields named in upstream_drop, adds upstream_add ("Name:
     * value\r\n" lines) and sends upstream_target when set, when it builds the upstream
     * request head. */
    const struct str *upstream_drop;
    uint32_t nupstream_drop;
    struct str upstream_add;
    /* The request target sent upstream instead of the client's (the same form: a module took
     * a query parameter out), or STR_NULL. */
    struct str upstream_target;
    /* A response cache's verdict (HIT, MISS, ...: a static string) for the access log. */
    const char *log_cache;
    uint64_t start_us;           /* when the head was complete (ev_clock_us) */
    bool retry_safe;             /* may be sent twice: the host sets it from the method, a
                                    module may raise it (an idempotency key it guards) */
    /* Set by the host on the response side. */
    bool upstream_head;          /* the response head came from the upstream */
    bool response_complete;      /* the whole response reached the client */

    /* Pipeline state. */
    const struct pipeline_link *link; /* the link whose hook is running: its conf and shared */
    uint8_t next;                /* chain index of the next on_request to call */
    uint8_t nran;                /* chain entries whose on_request was called */
    bool waiting;
    bool in_request;             /* inside pipeline_request/resume: a resume is a re-run */
    bool resume_pending;
    bool ended;
    uint8_t nobservers;
    uint8_t observers[PIPELINE_MAX_MODULES];  /* chain indexes that watch the body */
    uint8_t ntransforms;
    uint8_t transforms[PIPELINE_MAX_MODULES]; /* chain indexes, response order */
    struct stage *stages;        /* staging between transforms (runner.c), in the arena */
    uint16_t status;             /* the status sent, for on_end */
    const char *fail_reason;
    struct timer wait_timer;
    struct arena arena;
    void *ctx[PIPELINE_MAX_MODULES];
    struct response reply;       /* a response made by a module or by weir */
    bool has_reply;
    uint8_t replier;             /* 1 + chain index of the module whose on_request answered,
                                    0 when none did */
    _Alignas(16) char arena_inline[PIPELINE_ARENA_INLINE];
};

#endif

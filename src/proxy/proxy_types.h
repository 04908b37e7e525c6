/* proxy_types.h — the structs of the proxy layer: worker, config generation, client
 * connection, upstream connection and pool. Behaviour lives in the matching .c/.h files.
 *
 * Ownership in one line each:
 * - a worker owns its loop, its listeners' registrations, its clients and its wconfs;
 * - a wconf (one config generation as seen by one worker) owns the per-group balancer state and
 *   the pools; it lives while the worker uses it as current or any client holds it;
 * - a pool owns its idle upstream connections; a busy upstream connection is owned by the
 *   client it serves (owner), and goes back to its pool or is closed when the exchange ends. */
#ifndef WEIR_PROXY_PROXY_TYPES_H
#define WEIR_PROXY_PROXY_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "balance/lb.h"
#include "core/accesslog.h"
#include "core/buf.h"
#include "core/config_types.h"
#include "core/dlist.h"
#include "core/freelist.h"
#include "core/log.h"
#include "event/loop.h"
#include "http/h1_types.h"
#include "metrics/metrics.h"
#include "pipeline/exchange.h"
#include "pipeline/waitq.h"
#include "resilience/health.h"
#include "resilience/probe.h"
#include "resilience/shared_state.h"
#include "tls/tls_conn.h"

struct worker;
struct client;
struct tls_conn;
struct h2_conn;
struct h1x;
struct pool;
struct listener_set;
struct server;


struct upconn {
    struct ev_io io;              /* first: events carry a pointer to it */
    struct worker *w;
    struct pool *pool;
    struct client *owner;         /* NULL while idle in the pool */
    struct dlist link;            /* in pool->idle while idle */
    struct timer timer;           /* connect timeout, or idle timeout in the pool */
    struct buf in;                /* response bytes; allocated while busy */
    uint32_t nrequests;
    uint64_t created_ms;
    bool connecting;
    bool readable, writable, eof;
    bool rdhup;                   /* the peer shut its side: read on until EOF */
    bool reused;                  /* this exchange did not open the connection */
    bool closed;
    struct tls_conn *tls;         /* NULL = plain TCP */
};

/* Why pooled connections were closed (figures for the metrics issue). */
enum pool_close_reason {
    POOL_CLOSE_PEER = 0,      /* the server closed it, or sent unsolicited bytes, while idle */
    POOL_CLOSE_IDLE_TIMEOUT,
    POOL_CLOSE_MAX_REQUESTS,
    POOL_CLOSE_MAX_LIFETIME,
    POOL_CLOSE_POOL_FULL,     /* more idle than max_idle, or a slot wanted elsewhere */
    POOL_CLOSE_ERROR,         /* failed or not reusable after an exchange */
    POOL_CLOSE_RETIRED,       /* its config generation was replaced, or shutdown */
    POOL_CLOSE_REASONS
};

struct pool {
    struct worker *w;
    struct wconf *wc;
    const struct cfg_server *server;
    const struct cfg_upstream *group;
    struct server_state *st;      /* shared: connection count, health */
    struct server_shard *m;       /* this worker's figures of the server */
    struct dlist idle;            /* most recently used first */
    struct dlist waiters;         /* clients waiting for a connection slot, oldest first */
    struct waitq_entry slot_wait; /* in st->slots while it has waiters */
    uint32_t nidle;
    uint32_t nbusy;
    uint32_t nconnecting_warm;    /* warm-up connects in flight (no owner) */
    uint32_t nwaiters;
    uint64_t created, reused, acquire_timeouts;
    uint64_t closed[POOL_CLOSE_REASONS];
    void *tls_session;            /* the server's last TLS session, offered on the next
                                     new connection (tls_client.h) */
    struct log_limit tls_log;     /* TLS handshake failures */
};

struct wgroup {
    const struct cfg_upstream *cfg;
    const struct lb_ops *lb;
    void *lb_state;
    struct server_state **states; /* [cfg->nservers], shared across workers */
    struct lb_server **servers;   /* [cfg->nservers]: &states[i]->lb, what strategies see */
    struct pool *pools;           /* [cfg->nservers] */
    struct health_probe **probes; /* [cfg->nservers]; non-NULL where this worker checks */
    struct group_state *gs;       /* shared: retry budget, breaker, concurrency limit */
    struct breaker **breakers;    /* [cfg->nservers]: per-server breakers, or NULLs */
    struct dlist queue;           /* this worker's clients waiting for a concurrency slot */
};

struct wconf {
    struct config *cfg;
    struct worker *w;
    uint32_t users;               /* clients holding it (non-atomic: worker-local) */
    bool retired;                 /* no longer current: freed when users reaches 0 */
    struct wconf *next_retired;
    struct wgroup *groups;        /* [cfg->nupstreams] */
    struct route_state **routes;  /* [cfg->nroutes]: per-route figures (and registries' state) */
    struct pipeline_chain **chains; /* [cfg->nroutes]: the modules each route runs */
};

/* A request body read whole before the first attempt (buffering.c): in memory up to the
 * route's bound, otherwise in an unlinked temp file. Either way it can be sent again. */
struct reqbody {
    char *mem;                    /* the body while in memory */
    uint32_t cap;                 /* allocated at mem, counted in the worker's memory */
    int fd;                       /* the temp file once the body went there, else -1 */
    uint64_t len;                 /* bytes stored */
    uint64_t want;                /* Content-Length; UINT64_MAX until a chunked body ends */
    uint64_t sent;                /* bytes sent to the current attempt */
    uint64_t file_bytes;          /* counted in the worker's temp-file bytes */
    uint64_t mem_max;             /* larger bodies go to a temp file (or were never kept) */
    bool spill;                   /* may go to a temp file: request buffering is on */
    bool head_pinned;             /* the request head was copied out of the read buffer */
};

/* What the access log and the upstream head need to know of an HTTP/2 stream's TLS connection,
 * copied into the stream's inner connection when its lane is made (src/h2/h2_stream.c). */
struct h2_origin {
    char protocol[16];            /* "TLSv1.3" */
    char cipher[64];
    char sni[256];                /* "" when none */
    char subject[];               /* the verified client certificate's subject, "" = none */
};

enum client_state {
    CS_HEAD,      /* reading and parsing a request head */
    CS_ADMIT,     /* between the head and the first attempt: a module waits (a concurrency
                     slot, a duplicate idempotent request) or the body is being read */
    CS_BACKOFF,   /* waiting before a retry */
    CS_CONNECT,   /* waiting for an upstream connection */
    CS_PROXY,     /* request up / response down */
    CS_TUNNEL,    /* after 101 Switching Protocols: bytes both ways */
    CS_REPLY,     /* writing a response weir made itself */
    CS_LINGER,    /* response sent, write side shut: draining input before close */
    CS_H2,        /* an HTTP/2 connection: c->h2 runs it (src/h2/h2_conn.h) */
    CS_CLOSED,
};

/* Facts about the current exchange kept for the access log and error bodies. */
struct exchange_log {
    char method[16];
    char path[256];
    char client[48];              /* who trusted_proxies found the client to be, or "" (then
                                     the socket's peer, c->ip); copied before the arena goes */
    const char *upstream;         /* the server's address text, or NULL */
    uint64_t t_start_us, t_upstream_us;
    uint64_t bytes_in, bytes_out; /* request head + body in; everything written out */
    uint32_t head_bytes;
    int status;
};

/* One exchange of an HTTP/1.1 connection: the pipeline's view first, then the proxy's state of
 * the request, its attempts and the response. Taken from the worker's free list when a request
 * head starts arriving and given back when the exchange ends, so an idle keep-alive connection
 * holds none (nor a read buffer). */
struct h1x {
    struct exchange base;         /* first: the pipeline's exchange */
    struct client *c;
    char request_id[129];
    struct buf uphead;            /* the rewritten request head for the upstream */
    uint32_t uphead_sent;
    /* The current request. */
    struct h1_request req;
    const struct cfg_route *route;
    struct wgroup *grp;
    int server;                   /* index in the group of the current attempt, -1 = none */
    uint32_t attempts;            /* servers tried for this request */
    bool counted;                 /* counted in the server's inflight */
    bool waiting;                 /* queued for a connection slot (in pool->waiters) */
    bool set_sticky;              /* add the sticky cookie to the response */
    struct dlist wait_link;
    uint64_t wait_deadline_ms;
    uint64_t wait_start_ms;       /* when it began waiting for a connection slot */
    struct timer total_timer;     /* the exchange's total timeout, until the response head */
    char lb_key[128];             /* hash key copied at dispatch */
    uint32_t lb_key_len;
    char sticky[17];              /* sticky token from the request cookie, "" = none */
    struct upconn *up;

    /* Admission (the pipeline's host, admission.c). */
    struct route_state *rs;
    bool admitted;                /* counted in the worker's in-flight requests */
    bool group_permit, server_permit; /* breaker permits to record for this attempt */
    bool budget_granted;          /* the retry budget already approved the next retry */
    bool buffering;               /* reading the request body into `body` */
    bool body_for_module;         /* a module asked for the body: resume it when read */
    int body_error;               /* what reading the body inside the pipeline ran into,
                                     answered from the client's timer: an HTTP status, or -1
                                     when the client went away; 0 = none */
    const char *body_why;
    struct breaker *server_breaker;
    uint64_t attempt_start_us;
    struct reqbody *body;         /* the whole request body (NULL: streamed) */
    bool body_streamed;           /* some body bytes went to an upstream straight from `in` */
    bool req_done;                /* the whole request body went upstream */
    bool retried;                 /* used the one retry on a fresh connection */
    uint64_t req_left;            /* LENGTH framing: body bytes still to forward */
    struct h1_chunked req_chunk;
    uint32_t req_ready;           /* validated body bytes at the front of `in` */
    bool send_continue;           /* owe the client "100 Continue" once connected */

    /* The current response. */
    struct h1_response resp;
    bool resp_head_done;
    bool resp_done;
    bool resp_decode;             /* de-chunk for an HTTP/1.0 client */
    bool resp_head_request;
    enum h1_framing resp_framing;
    uint64_t resp_left;
    struct h1_chunked resp_chunk;
    uint32_t resp_ready;          /* bytes at the front of up->in ready for the client */
    uint32_t resp_skip;           /* then bytes to drop (chunk framing when decoding) */
    bool got_response_bytes;
    struct buf ahead;             /* response bytes read ahead of a slow client (buffering.c) */
    bool ahead_off;               /* this exchange stopped reading ahead: backpressure */
    /* A reply made by weir or a module (x->base.reply): its body still to write, from memory
     * or (reply_fd >= 0, owned by the module) from a file with sendfile. */
    const char *reply_body;
    size_t reply_left;
    int reply_fd;
    off_t reply_off;
    uint64_t window_end;          /* the file window the replying module let go up to */
    bool reply_warming;           /* it holds the next window back (on_file_window) */
    struct response view;         /* the response head being written (headers.c) */
    struct h1_chunked obs_chunk;  /* de-chunking what observers see of a chunked body */
    bool transforming;            /* the body goes through the modules' transforms */
    bool tx_chunked;              /* ... and out in chunks (else close-delimited) */
    bool tx_done;                 /* the transformed body is complete in c->out */
    char *tx_scratch;             /* a reply's file read in pieces for its transforms (arena) */
    size_t tx_pending;            /* input at reply_body the transforms have not taken yet */

    struct exchange_log log;
    uint64_t t_end_us;            /* when the exchange ended (metrics and access log) */
};

struct client {
    struct ev_io io;              /* first: events carry a pointer to it */
    struct worker *w;
    struct wconf *wc;             /* held (users++) for the connection's lifetime */
    struct dlist link;            /* in worker->clients */
    struct timer timer;
    enum client_state state;
    bool readable, writable, eof, hup;
    bool rdhup;                   /* the peer shut its side: read on until EOF */
    bool keepalive;               /* the connection may carry another request */
    bool closing;                 /* close once the current response is written */
    bool head_started;            /* some bytes of the next head arrived */
    bool reply_yield;             /* c->timer is the turn a long reply gave away, not a timeout */
    bool redirect_https;          /* its listener answers every request with 308 to https */
    bool internal;                /* an internal fetch's connection (fetch.c) */
    bool h2c_ok;                  /* a plain listener with `http2: true`: may open with the
                                     HTTP/2 preface (prior knowledge) */
    bool h2_stream;               /* the socketpair of one HTTP/2 stream (src/h2/h2_stream.h) */
    bool h2_tls;                  /* ... whose connection is TLS */
    uint16_t h2_listener;         /* ... accepted on this listener (HSTS) */
    struct h2_origin *h2_origin;  /* ... its connection's TLS facts (owned; NULL: plain) */
    struct h2_conn *h2;           /* CS_H2: the HTTP/2 connection */
    uint32_t nrequests;
    uint16_t listener;            /* index in c->wc->cfg->listeners */
    struct tls_conn *tls;         /* NULL = plain TCP */
    const char *subject_header;   /* mTLS: the request header weir sets and clients may not
                                     (client_tls.h); NULL when no listener verifies clients */
    struct sockaddr_storage peer;
    char ip[48];
    struct buf in;                /* bytes from the client */
    struct buf out;               /* heads and weir's own responses to the client */
    uint32_t drained;             /* bytes discarded while lingering */
    struct h1x *x;                /* the exchange in progress; NULL while idle */
};

/* The client's connection is TLS: its own, or (an HTTP/2 stream's lane, whose c->tls is a
 * virtual connection) its HTTP/2 connection's. */
static inline bool client_is_tls(const struct client *c)
{
    return (c->tls && !c->tls->vt) || c->h2_tls;
}

enum worker_cmd {
    WCMD_NONE = 0,
    WCMD_RELOAD = 1,
    WCMD_GRACEFUL = 2,
    WCMD_FAST = 4,
    WCMD_HANDOVER = 8,            /* with GRACEFUL: another process listens on our ports */
};

/* A call another thread posted to run on this worker (worker_post_call). */
struct worker_call {
    void (*fn)(void *arg);
    void *arg;
};

struct worker_listener {
    struct ev_io io;
    struct worker *w;
    int fd;
    uint16_t idx;                 /* in the config generation's listeners */
};

struct worker {
    uint32_t id;
    pthread_t thread;
    struct ev_loop loop;
    struct server *srv;

    int cmd_fd;                   /* eventfd the main thread writes to */
    struct ev_io cmd_io;
    atomic_uint cmds;             /* enum worker_cmd bits */
    struct config *_Atomic next_cfg; /* handed over by the main thread with WCMD_RELOAD */
    const struct listener_set *pending_ls; /* written before next_cfg is published */
    atomic_uint_fast64_t applied_generation;
    atomic_bool exited;

    struct wconf *wc;             /* current generation */
    struct wconf *retired;        /* older generations still held by clients */

    struct worker_listener *listeners;
    uint32_t nlisteners;

    struct dlist clients;
    uint32_t nclients;
    struct dlist fetches;         /* internal requests under way (fetch.c) */
    bool draining;
    bool handover;                /* draining, listeners still open for HANDOVER_MS (worker.c) */
    struct timer drain_timer;
    struct timer handover_timer;
    struct timer flush_timer;
    struct timer health_timer;    /* checks' bookkeeping, warm pools, slow start */
    uint32_t nworkers;
    uint64_t health_due_ms;       /* when health_timer should have fired: loop lag */
    struct pipeline_worker pw;    /* what modules see of this worker: loop, id, in-flight
                                     requests, loop lag, figures, posting to other workers */
    struct worker *peers;         /* every worker of the process ([nworkers], this one at id) */
    pthread_mutex_t mbox_lock;    /* calls posted by other workers (pipeline wake-ups) */
    struct worker_call *mbox;
    uint32_t nmbox, mbox_cap;
    struct worker_shard metrics;  /* this worker's figures (metrics.h), read by the admin */
    struct log_limit local_log[MLO_COUNT]; /* local-resource failures, by operation */
    struct log_limit accept_log;  /* other accept failures */
    struct log_limit buffering_log; /* temp-file failures (buffering.c) */
    struct timer accept_timer;    /* ends a pause of accepting */
    bool accept_paused;           /* listeners unregistered until accept_timer */
    struct accesslog_shard alog;

    uint64_t rng[2];

    /* Free lists of exchange buffers (WORKER_BUF_SIZE) and client structs, and what the
     * worker gave back to malloc since it last returned memory to the system (worker.c). */
    struct freelist free_bufs;
    struct freelist free_clients;
    struct freelist free_xs;      /* struct h1x */
    uint64_t mem_freed;           /* bytes */
    uint32_t nexchanges;          /* exchanges in progress (idle connections hold none) */
    uint32_t mem_peak_exchanges;  /* most exchanges at once since then */
    uint64_t mem_due_ms;          /* next free-list decay */
};

#endif

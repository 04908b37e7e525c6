/* module.h — the contract between the pipeline and a feature that plugs into the request path.
 * docs/internals/pipeline.md is the long form; this is the short one.
 *
 * A module is one `static const struct pipeline_module`, listed once in the registry table
 * (src/modules/registry.c), whose order is the phase order: access → limit → cache → content.
 * For each route the pipeline keeps the modules that are enabled there (its chain). Per
 * exchange, each module of the chain gets a zeroed context of ctx_size bytes in the exchange's
 * arena, and its hooks are called on the exchange's thread:
 *
 *   on_request        in chain order until one does not say NEXT. RESPOND: x->reply is set
 *                     (pipeline_reply helps) and is written after the response hooks; WAIT: the
 *                     module arranged a wake-up (pipeline_wait_until, a wake from another
 *                     worker, a store completion) that calls pipeline_resume(x), which calls
 *                     this on_request again; FAIL: 500 with the module's reason. A module that
 *                     waits may be called several times; it keeps its progress in its context.
 *   on_response_head  in reverse order, for every module whose on_request ran, on the response
 *                     (the upstream's, or one a module or weir made): edit headers, and turn on
 *                     a body transform with pipeline_transform_on.
 *   on_response_body  a streaming transform, only when turned on for this exchange.
 *   on_response_data  watches the body bytes the client gets, when turned on.
 *   on_end            always, exactly once, for every module whose on_request ran — also when
 *                     the client went away while it waited: release what it holds there.
 *   on_file_window    for the module whose reply has a FILE body, before each window of it.
 *
 * Configuration: a module with a `key` owns that route-level YAML key: config_load parses it
 * (errors "file:line:col: ..." through the ycx) into an immutable conf freed by config_free.
 * A module without a key decides from the route and global config whether it runs (enabled).
 * Shared state that must survive reloads (counters, tables, stores) is looked up by
 * shared_get(route name, conf) when a worker builds a generation and released with
 * shared_put; the module documents its locking. Includes: modules → pipeline → http/core,
 * never modules → proxy. */
#ifndef WEIR_PIPELINE_MODULE_H
#define WEIR_PIPELINE_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct exchange;
struct response;
struct cfg_route;
struct config;
struct ycx;
struct ynode;

enum pipeline_phase {
    PIPELINE_PHASE_ACCESS = 0, /* who may come in: IP rules, authentication, waiting room */
    PIPELINE_PHASE_LIMIT,      /* how many: shedding, rate limits, idempotency, concurrency */
    PIPELINE_PHASE_CACHE,      /* answered without the upstream when possible */
    PIPELINE_PHASE_CONTENT,    /* terminal handlers (static files); the upstream is last */
};

enum pipeline_verdict {
    PIPELINE_NEXT = 0,
    PIPELINE_RESPOND,
    PIPELINE_WAIT,
    PIPELINE_FAIL,
};

/* A body transform step: consume from in (advance in and in_len), produce into out (at most
 * out_cap bytes; *out_len set). `fin`: no more input will come. Return 1 when the transform
 * has more output to give for the input it has (call again with more room), 0 when it wants
 * input (or, with fin, is finished), -1 on error (the exchange is cut). */
typedef int (*pipeline_body_fn)(struct exchange *x, void *ctx, const char **in, size_t *in_len,
                                char *out, size_t out_cap, size_t *out_len, bool fin);

struct pipeline_module {
    const char *name;          /* for logs and metrics */
    const char *key;           /* route-level YAML key it owns, or NULL */
    enum pipeline_phase phase;
    size_t ctx_size;
    bool terminal;             /* answers every request it sees: a route with it needs no
                                  upstream (static files) */
    bool global;               /* its key may also stand at the top level: every route's
                                  default, a route's own replaces it (compress) */

    int (*config_load)(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
    void (*config_free)(void *conf);
    /* Modules without a key: does it run on this route? (NULL with a key: when configured) */
    bool (*enabled)(const struct config *cfg, const struct cfg_route *route);

    void *(*shared_get)(const struct cfg_route *route, const void *conf);
    void (*shared_put)(void *shared);
    /* State of one worker for this route and generation (an open-file cache): made when the
     * worker builds its chain, freed with it, touched by that worker only. In x->link->local. */
    void *(*local_new)(const void *conf, void *shared);
    void (*local_free)(void *local);

    enum pipeline_verdict (*on_request)(struct exchange *x, void *ctx);
    void (*on_response_head)(struct exchange *x, void *ctx, struct response *r);
    pipeline_body_fn on_response_body;
    /* Sees the response body as the client gets it (after every transform), unchanged; only
     * when turned on with pipeline_observe_on. */
    void (*on_response_data)(struct exchange *x, void *ctx, const char *p, size_t n);
    /* With on_response_data: see the payload as it enters the transforms (as the upstream
     * or the module that replied gave it), not as the client gets it: a cache stores what the
     * origin sent, whatever compression does to it on the way out. Only differs when a
     * transform is on. */
    bool observe_payload;
    /* With on_response_data: the response's trailer fields ("Name: value\r\n" lines). */
    void (*on_response_trailers)(struct exchange *x, void *ctx, struct str fields);
    void (*on_end)(struct exchange *x, void *ctx);
    /* The module answered with a FILE body (x->reply): the host is about to send
     * [off, off + len) of it. 0: go on; 1: not yet (the pages are not in memory: the module
     * warms them off the worker and calls pipeline_body_continue(x)). Called once per window
     * (the host's send turn, 2 MiB), so a large file never makes the worker wait for the disk. */
    int (*on_file_window)(struct exchange *x, void *ctx, uint64_t off, size_t len);
};

#endif

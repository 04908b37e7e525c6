/* module_fixture.h — a fake host for driving pipeline modules in unit tests: a config loaded
 * from YAML text, one chain per route, exchanges with a request head, two fake workers whose
 * posted calls queue until the test runs them, and a fake clock. Header-only (each test is one
 * program). */
#ifndef WEIR_TESTS_MODULE_FIXTURE_H
#define WEIR_TESTS_MODULE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/config_types.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "modules/registry.h"
#include "pipeline/runner.h"
#include "resilience/retry.h"

#define FX_WORKERS 2
#define FX_MAX_POSTS 64

struct fx_post {
    uint32_t to;
    void (*fn)(void *arg);
    void *arg;
};

struct fx_exchange {
    struct exchange x;
    struct h1_request req;
    char raw[1024];
    int done_calls;
    enum pipeline_verdict done;
    const char *body;          /* what need_body supplies (NULL: cannot buffer) */
    bool body_async;           /* supply it later, with fx_supply_body */
    int need_body_calls;
    int continue_calls;        /* body_continue: a held-back file window is ready */
};

struct fx {
    struct config *cfg;
    struct pipeline_chain *chain;
    struct ev_loop loops[FX_WORKERS];
    struct pipeline_worker workers[FX_WORKERS];
    struct worker_shard shards[FX_WORKERS];
    struct fx_post posts[FX_MAX_POSTS];
    uint32_t nposts;
};

static struct fx fx;

static int fx_post_fn(struct pipeline_worker *self, uint32_t to, void (*fn)(void *arg), void *arg)
{
    (void)self;
    if (fx.nposts == FX_MAX_POSTS)
        return -1;
    fx.posts[fx.nposts++] = (struct fx_post){.to = to, .fn = fn, .arg = arg};
    return 0;
}

/* Runs the posted calls (as their workers would); returns how many ran. */
static inline uint32_t fx_run_posts(void)
{
    uint32_t n = 0;
    while (fx.nposts) {
        struct fx_post p = fx.posts[0];
        memmove(fx.posts, fx.posts + 1, --fx.nposts * sizeof(fx.posts[0]));
        p.fn(p.arg);
        n++;
    }
    return n;
}

static void fx_request_done(struct exchange *x, enum pipeline_verdict v)
{
    struct fx_exchange *e = (struct fx_exchange *)x;
    e->done_calls++;
    e->done = v;
}

static int fx_need_body(struct exchange *x)
{
    struct fx_exchange *e = (struct fx_exchange *)x;
    e->need_body_calls++;
    if (!e->body)
        return -1;
    if (!e->body_async) {
        x->body = str_cstr(e->body);
        x->body_ready = true;
    }
    return 0;
}

static inline void fx_supply_body(struct fx_exchange *e)
{
    e->x.body = str_cstr(e->body);
    e->x.body_ready = true;
    pipeline_resume(&e->x);
}

static void fx_body_continue(struct exchange *x)
{
    ((struct fx_exchange *)x)->continue_calls++;
}

static const struct exchange_host_ops fx_host = {.request_done = fx_request_done,
                                                 .need_body = fx_need_body,
                                                 .body_continue = fx_body_continue};

/* Loads a config (YAML text with one route) and builds its chain. */
static inline void fx_setup(const char *yaml)
{
    memset(&fx, 0, sizeof(fx));
    metrics_set_workers(FX_WORKERS);
    modules_register();
    struct cfg_error err;
    fx.cfg = config_load_buffer(yaml, strlen(yaml), "test.yaml", &err);
    if (!fx.cfg)
        fail_msg("config: %s", err.msg);
    for (uint32_t i = 0; i < FX_WORKERS; i++) {
        fx.loops[i].now_ms = 1000;
        timer_wheel_init(&fx.loops[i].timers, 1000);
        fx.workers[i] = (struct pipeline_worker){.loop = &fx.loops[i], .id = i,
                                                 .nworkers = FX_WORKERS, .post = fx_post_fn,
                                                 .metrics = &fx.shards[i]};
    }
    fx.chain = pipeline_chain_build(fx.cfg, &fx.cfg->routes[0]);
    assert_non_null(fx.chain);
}

static inline void fx_teardown(void)
{
    pipeline_chain_free(fx.chain);
    config_unref(fx.cfg);
    fx.chain = NULL;
    fx.cfg = NULL;
}

/* Moves every worker's clock forward and runs their timers. */
static inline void fx_advance(uint64_t ms)
{
    for (uint32_t i = 0; i < FX_WORKERS; i++) {
        fx.loops[i].now_ms += ms;
        timer_wheel_run(&fx.loops[i].timers, fx.loops[i].now_ms);
    }
}

/* A new exchange on worker `w` for the raw request head `head` (must parse). */
static inline struct fx_exchange *fx_exchange(uint32_t w, const char *head, const char *ip)
{
    struct fx_exchange *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    snprintf(e->raw, sizeof(e->raw), "%s", head);
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 8192,
                                         .max_headers = 100, .max_body = 0};
    int r = h1_parse_request(e->raw, strlen(e->raw), &lim, &e->req);
    if (r <= 0)
        fail_msg("request head did not parse: %d", r);
    e->x = (struct exchange){.host = &fx_host, .worker = &fx.workers[w], .cfg = fx.cfg,
                             .route = &fx.cfg->routes[0], .chain = fx.chain, .req = &e->req,
                             .client_ip = ip ? ip : "127.0.0.1", .request_id = "rid",
                             .start_us = 1};
    e->x.retry_safe = retry_method_idempotent(e->req.method_id);
    pipeline_start(&e->x);
    return e;
}

static inline void fx_end(struct fx_exchange *e, uint16_t status)
{
    pipeline_end(&e->x, status);
    free(e);
}

/* The reply's body as a C string (for assertions). */
static inline const char *fx_reply_body(struct fx_exchange *e)
{
    static char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)e->x.reply.body_len, e->x.reply.body);
    return tmp;
}

static inline const char *fx_reply_header(struct fx_exchange *e, const char *name)
{
    static char tmp[256];
    struct str v = response_get(&e->x.reply, str_cstr(name));
    if (!v.ptr)
        return NULL;
    snprintf(tmp, sizeof(tmp), "%.*s", (int)v.len, v.ptr);
    return tmp;
}

#define FX_ROUTE_HEAD "listen: [\"127.0.0.1:1\"]\nupstreams:\n  g:\n    servers: [\"127.0.0.1:9\"]\n"

#endif

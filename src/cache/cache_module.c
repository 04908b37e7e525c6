/* cache_module.c — see cache_module.h. The request side looks the key up and answers from the
 * store (fresh, or stale where allowed), collapses concurrent misses onto one upstream
 * request (flights), or goes upstream; the response side decides whether to store, copies the
 * payload as it streams to the client (up to max_object: a larger response streams on and is
 * dropped from the copy, so memory stays bounded), and inserts it when the exchange completes.
 *
 * Revalidation and stale-while-revalidate use an internal request (pipeline_worker.fetch):
 * the refresh goes through the route like a client's, with the stored validators, and its
 * 304 or new response updates the store; clients that must wait for it wait on its flight.
 * The store is shared by all workers (cache_store.h documents the locking); the per-exchange
 * context is the worker's own. */
#include "cache/cache_module.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/cache_config.h"
#include "cache/cache_key.h"
#include "cache/cache_object.h"
#include "cache/cache_purge.h"
#include "cache/cache_refresh.h"
#include "cache/cache_rules.h"
#include "cache/cache_serve.h"
#include "cache/cache_store.h"
#include "cache/cache_vary.h"
#include "core/config_types.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "pipeline/waitq.h"
#include "resilience/shared_state.h"

#define KEY_MAX 8192
#define VARY_MAX 4096
#define MAX_TRIES 3   /* waits on flights before a request goes upstream on its own */

struct cache_shared {
    struct route_state *rs;
    struct cache_store *store;
};

enum cache_result {
    CR_NONE = 0, CR_HIT, CR_MISS, CR_STALE, CR_REVALIDATED, CR_COALESCED, CR_PASS, CR_REFRESH,
};

static const char *const result_names[] = {
    [CR_NONE] = NULL, [CR_HIT] = "HIT", [CR_MISS] = "MISS", [CR_STALE] = "STALE",
    [CR_REVALIDATED] = "REVALIDATED", [CR_COALESCED] = "COALESCED", [CR_PASS] = "PASS",
    [CR_REFRESH] = "REFRESH",
};

struct cache_ctx {
    bool started, lookup, head, auth, req_no_cache, invalidate, refresh;
    bool partial;                  /* Range or a conditional: on a miss its answer (206, 304)
                                      says nothing of the key's cacheability */
    bool leader, waiting, served, uncacheable, fill_failed, replacing, via_flight;
    uint8_t result, tries;
    struct cache_control rcc;
    struct str key;                /* arena */
    uint64_t hash;
    int64_t request_time;
    uint64_t deadline_ms;
    struct cache_obj *obj;         /* served, or the stale one being revalidated */
    struct cache_flight *flight;
    struct waitq_entry wait;
    struct cache_obj *fill;        /* the response being stored */
    char *body;
    uint64_t len, cap;
    int64_t expect;                /* its Content-Length, or -1 */
    uint64_t replace_off;          /* stale-if-error: stored body bytes sent so far */
};

/* ---- shared state ------------------------------------------------------------------------ */

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static int shared_init(void *obj, const void *key)
{
    struct cache_shared *s = obj;
    s->rs = (struct route_state *)key;
    route_state_ref(s->rs);
    return 0;
}

static void shared_fini(void *obj)
{
    struct cache_shared *s = obj;
    cache_store_free(s->store);
    route_state_put(s->rs);
}

static const struct pipeline_shared_type cache_type = {
    .name = "cache", .size = sizeof(struct cache_shared),
    .init = shared_init, .fini = shared_fini};

static void *cache_shared_get(const struct cfg_route *route, const void *conf)
{
    const struct cache_conf *cf = conf;
    struct route_state *rs = route_state_get(route);
    if (!rs)
        return NULL;
    struct cache_shared *s = pipeline_shared_get(&cache_type, rs);
    route_state_put(rs);
    if (!s)
        return NULL;
    /* The store is made by the first worker that builds the route; a reload resizes it (a
     * new policy takes effect when the route's store is made again: after a restart). */
    pthread_mutex_lock(&create_lock);
    if (!s->store)
        s->store = cache_store_new(rs->label ? rs->label : rs->key, cf->max_size, cf->policy);
    else
        cache_store_resize(s->store, cf->max_size);
    bool ok = s->store != NULL;
    pthread_mutex_unlock(&create_lock);
    if (ok)
        cache_store_set_prewarm(s->store, cf->prewarm_file);
    if (!ok) {
        pipeline_shared_put(s);
        return NULL;
    }
    return s;
}

static void cache_shared_put(void *shared)
{
    pipeline_shared_put(shared);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static struct str req_header(const struct h1_request *req, struct str name)
{
    int i = h1_find_header(req->headers, req->nheaders, name);
    return i >= 0 ? req->headers[i].value : STR_NULL;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void set_result(struct exchange *x, struct cache_ctx *c, enum cache_result r)
{
    c->result = (uint8_t)r;
    x->log_cache = result_names[r];
}

static struct cache_store_stats *stats(struct exchange *x)
{
    return cache_store_stats(((struct cache_shared *)x->link->shared)->store);
}

#define COUNT(x, field) atomic_fetch_add_explicit(&stats(x)->field, 1, memory_order_relaxed)

static void stop_waiting(struct cache_ctx *c)
{
    if (c->waiting) {
        waitq_remove(&c->wait);
        c->waiting = false;
    }
    cache_flight_put(c->flight);
    c->flight = NULL;
}

static enum pipeline_verdict serve(struct exchange *x, struct cache_ctx *c,
                                   const struct cache_conf *conf, struct cache_obj *o,
                                   int64_t age, enum cache_result r)
{
    c->obj = o; /* held until on_end: the reply's body is its memory */
    set_result(x, c, r);
    if (cache_serve_fill(x, o, age, conf->x_cache ? result_names[r] : NULL, true, &x->reply) != 0)
        return pipeline_reply(x, 503, "out of memory");
    x->has_reply = true;
    c->served = true;
    if (r == CR_STALE)
        COUNT(x, stale);
    else if (r == CR_REVALIDATED)
        COUNT(x, revalidated);
    else if (r == CR_COALESCED)
        COUNT(x, coalesced);
    else
        COUNT(x, hit);
    atomic_fetch_add_explicit(&stats(x)->bytes_served, x->reply.body_len, memory_order_relaxed);
    return PIPELINE_RESPOND;
}

/* ---- background refresh ------------------------------------------------------------------ */

struct refresh {
    struct cache_shared *sh;       /* a reference of its own */
    struct cache_flight *flight;   /* waiters to wake, or NULL (stale-while-revalidate) */
    struct cache_obj *obj;         /* its `refreshing` flag is cleared at the end */
    struct pipeline_worker *pw;
};

static void refresh_done(void *arg, uint16_t status)
{
    (void)status;
    struct refresh *rf = arg;
    if (rf->flight) {
        cache_flight_finish(cache_store_flights(rf->sh->store), rf->flight, false);
        waitq_wake_all(cache_flight_waitq(rf->flight), rf->pw);
        cache_flight_put(rf->flight);
    }
    if (rf->obj) {
        atomic_store(&rf->obj->refreshing, false);
        cache_object_unref(rf->obj);
    }
    pipeline_shared_put(rf->sh);
    free(rf);
}

/* Starts an internal refresh of the request's key. Returns false when it could not start (the
 * caller goes on without it). Takes a reference to flight and obj when it starts. */
static bool start_refresh(struct exchange *x, struct cache_flight *flight, struct cache_obj *obj)
{
    struct pipeline_worker *pw = x->worker;
    struct cache_shared *sh = x->link->shared;
    if (!pw->fetch)
        return false;
    size_t len;
    char *req = cache_refresh_request(x->req->host, cache_key_path(x->req), x->req, &len);
    struct refresh *rf = calloc(1, sizeof(*rf));
    if (!req || !rf) {
        free(req);
        free(rf);
        return false;
    }
    *rf = (struct refresh){.sh = pipeline_shared_get(&cache_type, sh->rs), .flight = flight,
                           .obj = obj, .pw = pw};
    if (!rf->sh || pw->fetch(pw, req, len, refresh_done, rf) != 0) {
        free(req);
        if (rf->sh)
            pipeline_shared_put(rf->sh);
        free(rf);
        return false;
    }
    free(req);
    /* done runs from a later event, never from inside fetch: the references are in time. */
    if (flight)
        cache_flight_ref(flight);
    if (obj)
        cache_object_ref(obj);
    return true;
}

/* ---- the request ------------------------------------------------------------------------- */

static const struct str refresh_drop[] = {STR_LIT(REFRESH_HEADER)};

/* First call: what kind of request, its directives and key. NEXT when the cache has nothing
 * to do with it; PIPELINE_WAIT is never returned here (-1: go on to the lookup). */
static int begin(struct exchange *x, struct cache_ctx *c, const struct cache_conf *conf)
{
    const struct h1_request *req = x->req;
    enum h1_method m = req->method_id;
    c->head = m == H1_M_HEAD;
    c->lookup = m == H1_M_GET || m == H1_M_HEAD;
    c->invalidate = !c->lookup && m != H1_M_OPTIONS && m != H1_M_TRACE && m != H1_M_CONNECT;
    if (!c->lookup && !c->invalidate)
        return PIPELINE_NEXT;
    char buf[KEY_MAX];
    int n = cache_key_build(req, x->tls, &conf->key, buf, sizeof(buf));
    if (n < 0 || !(c->key = arena_str(&x->arena, str_from(buf, (size_t)n))).ptr) {
        c->lookup = c->invalidate = false;
        return PIPELINE_NEXT;
    }
    c->hash = cache_key_hash(c->key);
    if (c->invalidate) {
        set_result(x, c, CR_PASS);
        return PIPELINE_NEXT;
    }
    cache_control_init(&c->rcc);
    bool has_cc = false;
    for (uint32_t i = 0; i < req->nheaders; i++) {
        struct str name = req->headers[i].name;
        if (str_eq_nocase(name, STR_LIT("Cache-Control"))) {
            cache_control_parse(&c->rcc, req->headers[i].value);
            has_cc = true;
        } else if (str_eq_nocase(name, STR_LIT("Authorization"))) {
            c->auth = true;
        } else if (str_eq_nocase(name, STR_LIT("Range")) ||
                   str_eq_nocase(name, STR_LIT("If-None-Match")) ||
                   str_eq_nocase(name, STR_LIT("If-Modified-Since"))) {
            c->partial = true;
        } else if (str_eq_nocase(name, STR_LIT(REFRESH_HEADER))) {
            x->upstream_drop = refresh_drop;
            x->nupstream_drop = 1;
            c->refresh = x->internal;
        }
    }
    c->req_no_cache = (c->rcc.flags & CC_NO_CACHE) != 0;
    if (!has_cc) {
        struct str pragma = req_header(req, STR_LIT("Pragma"));
        c->req_no_cache = pragma.ptr && cache_control_list_has(pragma, STR_LIT("no-cache"));
    }
    c->request_time = now_s();
    return -1;
}

/* The internal refresh: conditional on the stored validators when there is a stored object. */
static enum pipeline_verdict refresh_begin(struct exchange *x, struct cache_ctx *c,
                                           struct cache_store *store)
{
    set_result(x, c, CR_REFRESH);
    struct cache_obj *o = cache_store_lookup(store, c->hash, c->key, x->req);
    if (o && (o->pass || (!o->etag.ptr && !o->last_modified.ptr))) {
        cache_object_unref(o);
        o = NULL;
    }
    c->obj = o;
    if (!o)
        return PIPELINE_NEXT;
    x->upstream_add = cache_refresh_validators(&x->arena, o);
    return PIPELINE_NEXT;
}

/* Waits for the flight (the caller joined it as a follower). */
static enum pipeline_verdict wait_flight(struct exchange *x, struct cache_ctx *c,
                                         const struct cache_conf *conf)
{
    c->waiting = true;
    c->deadline_ms = x->worker->loop->now_ms + conf->coalesce_wait_ms;
    waitq_add(cache_flight_waitq(c->flight), &c->wait, x);
    bool u;
    if (cache_flight_done(c->flight, &u))
        pipeline_resume(x); /* finished meanwhile: look again right away */
    return pipeline_wait_until(x, c->deadline_ms);
}

/* A stored object that cannot be used as is. */
static enum pipeline_verdict revalidate(struct exchange *x, struct cache_ctx *c,
                                        const struct cache_conf *conf, struct cache_store *store,
                                        struct cache_obj *o, int64_t age)
{
    if (c->tries > 0) {
        /* A refresh ran and the object is still not usable: the origin failed it. */
        if (cache_rules_stale_on_error(&c->rcc, &o->cc, age, o->lifetime))
            return serve(x, c, conf, o, age, CR_STALE);
    } else if (x->worker->fetch && (o->etag.ptr || o->last_modified.ptr) && !c->auth) {
        bool leader;
        struct cache_flight *f = cache_flight_join(cache_store_flights(store), c->hash, c->key,
                                                   x->worker->nworkers, &leader);
        if (f) {
            c->flight = f;
            if (!leader || start_refresh(x, f, NULL)) {
                cache_object_unref(o);
                c->via_flight = true;
                return wait_flight(x, c, conf);
            }
            cache_flight_finish(cache_store_flights(store), f, false);
            waitq_wake_all(cache_flight_waitq(f), x->worker);
            stop_waiting(c);
        }
    }
    /* Forward the request; the stale object stays for stale-if-error. */
    c->obj = o;
    set_result(x, c, CR_MISS);
    COUNT(x, miss);
    return PIPELINE_NEXT;
}

static enum pipeline_verdict look(struct exchange *x, struct cache_ctx *c,
                                  const struct cache_conf *conf, struct cache_store *store)
{
    int64_t now = now_s();
    struct cache_obj *o = cache_store_lookup(store, c->hash, c->key, x->req);
    if (o && o->pass) {
        bool passing = now < o->pass_until;
        cache_object_unref(o);
        o = NULL;
        if (passing) {
            set_result(x, c, CR_PASS);
            COUNT(x, pass);
            return PIPELINE_NEXT;
        }
    }
    if (o && c->auth && !o->auth_ok) {
        cache_object_unref(o);
        o = NULL;
    }
    if (o) {
        int64_t age = cache_fresh_age(&o->times, now);
        enum cache_use use = atomic_load(&o->stale)
                                 ? CACHE_USE_REVALIDATE
                                 : cache_rules_use(&c->rcc, c->req_no_cache, &o->cc, age,
                                                   o->lifetime);
        enum cache_result fresh = c->tries == 0 ? CR_HIT
                                  : c->via_flight ? CR_REVALIDATED
                                                  : CR_COALESCED;
        /* Fetched or validated for this very request (the flight it waited on): use it even
         * when it says no-cache or max-age=0 — it is as fresh as the origin's answer. */
        if (c->tries > 0 && o->times.response_time >= c->request_time && !atomic_load(&o->stale))
            return serve(x, c, conf, o, age, fresh);
        switch (use) {
        case CACHE_USE_FRESH:
            return serve(x, c, conf, o, age, fresh);
        case CACHE_USE_STALE:
            return serve(x, c, conf, o, age, CR_STALE);
        case CACHE_USE_SWR:
            if (!atomic_exchange(&o->refreshing, true) && !start_refresh(x, NULL, o))
                atomic_store(&o->refreshing, false);
            return serve(x, c, conf, o, age, CR_STALE);
        case CACHE_USE_REVALIDATE:
            return revalidate(x, c, conf, store, o, age);
        }
    }
    if (c->rcc.flags & CC_ONLY_IF_CACHED)
        return pipeline_reply(x, 504, "the response is not in the cache (only-if-cached)");
    set_result(x, c, CR_MISS);
    /* Requests whose own answer cannot fill the cache neither lead nor follow a flight (a
     * 206 or 304 would also leave a hit-for-pass marker for everyone). */
    if (conf->coalesce && !c->head && !c->auth && !c->partial &&
        !(c->rcc.flags & CC_NO_STORE) && c->tries < MAX_TRIES) {
        bool leader;
        c->flight = cache_flight_join(cache_store_flights(store), c->hash, c->key,
                                      x->worker->nworkers, &leader);
        if (c->flight && !leader) {
            c->via_flight = false;
            return wait_flight(x, c, conf);
        }
        c->leader = c->flight != NULL;
    }
    COUNT(x, miss);
    return PIPELINE_NEXT;
}

static enum pipeline_verdict cache_request(struct exchange *x, void *ctx)
{
    struct cache_ctx *c = ctx;
    const struct cache_conf *conf = x->link->conf;
    struct cache_store *store = ((struct cache_shared *)x->link->shared)->store;
    if (!c->started) {
        c->started = true;
        int v = begin(x, c, conf);
        if (v >= 0)
            return (enum pipeline_verdict)v;
        if (c->refresh)
            return refresh_begin(x, c, store);
    }
    if (c->waiting) {
        bool u;
        bool done = cache_flight_done(c->flight, &u);
        if (!done && x->worker->loop->now_ms < c->deadline_ms)
            return pipeline_wait_until(x, c->deadline_ms);
        bool via = c->via_flight;
        stop_waiting(c);
        c->tries++;
        if (!done) { /* waited long enough: go up alone */
            set_result(x, c, CR_MISS);
            COUNT(x, miss);
            return PIPELINE_NEXT;
        }
        c->via_flight = via;
    }
    return look(x, c, conf, store);
}

/* ---- the response ------------------------------------------------------------------------ */

/* The 304 of a refresh: the stored object with the new fields and times. */
static void refresh_update(struct exchange *x, struct cache_ctx *c, const struct cache_conf *conf,
                           const struct response *r)
{
    struct cache_times t;
    cache_object_times(r, c->request_time, now_s(), &t);
    struct cache_obj *n = cache_object_update(c->obj, r, &t, conf->default_ttl,
                                              conf->heuristic_max);
    if (n && cache_store_insert(((struct cache_shared *)x->link->shared)->store, n))
        COUNT(x, revalidated);
}

/* A 200 to a HEAD weir sent on while it held a stored GET response (stale, no validator to
 * revalidate with): the stored response is updated from it when the validators agree, else
 * dropped (RFC 9111 §4.3.5). */
static void head_update(struct exchange *x, struct cache_ctx *c, const struct cache_conf *conf,
                        const struct response *r)
{
    struct cache_store *store = ((struct cache_shared *)x->link->shared)->store;
    struct str etag = response_get(r, STR_LIT("ETag"));
    struct str lm = response_get(r, STR_LIT("Last-Modified"));
    bool same = (etag.ptr || lm.ptr) && str_eq(etag, c->obj->etag) &&
                str_eq(lm, c->obj->last_modified);
    int64_t cl = r->content_length;
    if (same && (cl < 0 || (uint64_t)cl == c->obj->body_len))
        refresh_update(x, c, conf, r);
    else
        cache_store_remove_key(store, c->hash, c->key);
}

/* Begins storing r when the rules allow it. */
static void fill_begin(struct exchange *x, struct cache_ctx *c, const struct cache_conf *conf,
                       const struct response *r)
{
    const struct h1_request *req = x->req;
    struct str vary[8];
    size_t nvary = 0;
    bool has_validator = false;
    struct cache_control cc;
    bool cdn = cache_object_directives(r->headers, r->nheaders, &cc);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        struct str name = r->headers[i].name;
        if (str_eq_nocase(name, STR_LIT("Vary")) && nvary < 8)
            vary[nvary++] = r->headers[i].value;
        else if (str_eq_nocase(name, STR_LIT("ETag")) ||
                 str_eq_nocase(name, STR_LIT("Last-Modified")))
            has_validator = true;
    }
    char names[VARY_MAX], vkey[VARY_MAX];
    int nn = cache_vary_names(vary, nvary, names, sizeof(names));
    struct cache_store_facts f = {
        .status = r->status, .req = &c->rcc, .resp = &cc, .authorization = c->auth,
        .has_expires = !cdn && response_find(r, STR_LIT("Expires")) >= 0,
        .has_validator = has_validator, .vary_star = nn == -2, .default_ttl = conf->default_ttl,
    };
    enum cache_store_verdict v = c->head ? CACHE_STORE_STATUS : cache_rules_storable(&f);
    if (v == CACHE_STORE_OK && (nn == -1 || (r->content_length >= 0 &&
                                             (uint64_t)r->content_length > conf->max_object)))
        v = CACHE_STORE_STATUS; /* too large (or too many Vary names) to keep */
    int nk = v == CACHE_STORE_OK ? cache_vary_key(str_from(names, (size_t)(nn > 0 ? nn : 0)),
                                                  req, vkey, sizeof(vkey))
                                 : 0;
    if (v != CACHE_STORE_OK || nk < 0) {
        c->uncacheable = !c->head;
        COUNT(x, uncacheable);
        return;
    }
    struct cache_object_facts of = {
        .key = c->key, .hash = c->hash,
        .vary_names = str_from(names, (size_t)(nn > 0 ? nn : 0)),
        .vary_key = str_from(vkey, (size_t)nk),
        .tag_header = str_cstr(conf->tag_header),
        .default_ttl = conf->default_ttl, .heuristic_max = conf->heuristic_max,
        .auth_ok = cache_rules_auth_ok(&cc),
        .own_cookie = x->route->upstream ? str_cstr(x->route->upstream->sticky_cookie) : STR_NULL,
    };
    cache_object_times(r, c->request_time, now_s(), &of.times);
    c->fill = cache_object_new(r, &of);
    if (!c->fill)
        return;
    c->expect = r->content_length;
    if (r->no_body || r->status == 204)
        c->expect = 0;
    pipeline_observe_on(x, c);
}

/* Stores the response being filled when `whole` (else drops it). Returns whether stored. */
static bool commit(struct exchange *x, struct cache_ctx *c, bool whole)
{
    struct cache_shared *sh = x->link->shared;
    bool stored = false;
    if (whole) {
        char *body = c->body;
        if (c->cap > c->len + 4096 && c->len) /* give back what the guess over-reserved */
            body = realloc(c->body, c->len) ?: c->body;
        if (!c->len) {
            free(body);
            body = NULL;
        }
        cache_object_set_body(c->fill, body, c->len);
        c->body = NULL;
        c->len = c->cap = 0;
        stored = cache_store_insert(sh->store, c->fill);
        if (stored)
            COUNT(x, stored);
    } else {
        cache_object_unref(c->fill);
    }
    c->fill = NULL;
    return stored;
}

/* The leader's part is over (stored, or known not to be): the waiters look again — right
 * away, not when the leader's client has read the last byte. An uncacheable answer leaves a
 * hit-for-pass marker first, so that they (and later misses) go straight upstream. */
static void release_flight(struct exchange *x, struct cache_ctx *c, bool stored)
{
    const struct cache_conf *conf = x->link->conf;
    struct cache_shared *sh = x->link->shared;
    if (!c->leader || !c->flight)
        return;
    if (!stored && c->uncacheable && conf->pass_ttl > 0) {
        struct cache_obj *p = cache_object_pass(c->key, c->hash, now_s() + conf->pass_ttl);
        if (p)
            cache_store_insert(sh->store, p);
    }
    cache_flight_finish(cache_store_flights(sh->store), c->flight, c->uncacheable);
    waitq_wake_all(cache_flight_waitq(c->flight), x->worker);
    c->leader = false;
}

static void cache_response_head(struct exchange *x, void *ctx, struct response *r)
{
    struct cache_ctx *c = ctx;
    const struct cache_conf *conf = x->link->conf;
    if (!c->started || c->served)
        return;
    if (c->invalidate) {
        if (x->upstream_head && r->status < 400)
            cache_purge_unsafe(((struct cache_shared *)x->link->shared)->store, c->key, c->hash,
                               r);
        return;
    }
    if (!c->lookup)
        return;
    /* The origin failed (weir's own 502/504, or the origin's 5xx): a stale object the rules
     * allow answers instead (stale-if-error). */
    if (c->obj && r->status >= 500 && !c->refresh) {
        int64_t age = cache_fresh_age(&c->obj->times, now_s());
        if (cache_rules_stale_on_error(&c->rcc, &c->obj->cc, age, c->obj->lifetime) &&
            cache_serve_fill(x, c->obj, age, conf->x_cache ? "STALE" : NULL, true, r) == 0) {
            r->no_body = r->no_body || c->head;
            set_result(x, c, CR_STALE);
            COUNT(x, stale);
            /* A proxied body is replaced by the stored one through a transform. */
            if (x->upstream_head && !r->no_body) {
                c->replacing = true;
                pipeline_transform_on(x, c);
            }
            return;
        }
    }
    if (!x->upstream_head)
        return;
    if (c->refresh && c->obj) {
        if (r->status == 304) {
            refresh_update(x, c, conf, r);
            return;
        }
        if (r->status >= 500)
            return; /* keep the stored one */
    }
    if (c->head && c->obj && r->status == 200)
        head_update(x, c, conf, r);
    if (r->status != 304)
        fill_begin(x, c, conf, r);
    if (c->fill && c->expect == 0)
        release_flight(x, c, commit(x, c, true)); /* nothing more to wait for */
    else if (!c->fill)
        release_flight(x, c, false);
    if (conf->x_cache && c->result)
        response_add(r, &x->arena, STR_LIT("X-Cache"), str_cstr(result_names[c->result]));
}

static void cache_response_data(struct exchange *x, void *ctx, const char *p, size_t n)
{
    struct cache_ctx *c = ctx;
    const struct cache_conf *conf = x->link->conf;
    if (!c->fill || c->fill_failed)
        return;
    if (c->len + n > conf->max_object) {
        /* Too large after all (no Content-Length): the copy goes, the response streams on. */
        c->fill_failed = true;
        free(c->body);
        c->body = NULL;
        c->len = c->cap = 0;
        return;
    }
    if (c->len + n > c->cap) {
        uint64_t cap = c->cap ? c->cap : 16384;
        if (c->expect > 0 && (uint64_t)c->expect <= conf->max_object && cap < (uint64_t)c->expect)
            cap = (uint64_t)c->expect;
        while (cap < c->len + n)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b) {
            c->fill_failed = true;
            return;
        }
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, p, n);
    c->len += n;
    /* The last byte of a body of known length: store it now, before the exchange ends. */
    if (c->expect >= 0 && c->len == (uint64_t)c->expect)
        release_flight(x, c, commit(x, c, true));
}

static void cache_response_trailers(struct exchange *x, void *ctx, struct str fields)
{
    (void)x;
    (void)fields;
    struct cache_ctx *c = ctx;
    c->fill_failed = true; /* trailers are not stored: neither is the response */
}

/* stale-if-error in place of a proxied body: the origin's bytes are dropped, the stored ones
 * go out. */
static int cache_body(struct exchange *x, void *ctx, const char **in, size_t *in_len, char *out,
                      size_t out_cap, size_t *out_len, bool fin)
{
    (void)x;
    (void)fin;
    struct cache_ctx *c = ctx;
    *in += *in_len;
    *in_len = 0;
    uint64_t left = c->obj->body_len - c->replace_off;
    size_t n = left < out_cap ? (size_t)left : out_cap;
    memcpy(out, c->obj->body + c->replace_off, n);
    c->replace_off += n;
    *out_len = n;
    return c->replace_off < c->obj->body_len ? 1 : 0;
}

static void cache_end(struct exchange *x, void *ctx)
{
    struct cache_ctx *c = ctx;
    bool stored = false;
    /* A body without a length (chunked) is known whole only now. */
    if (c->fill)
        stored = commit(x, c, !c->fill_failed && x->response_complete && c->expect < 0);
    free(c->body);
    c->body = NULL;
    release_flight(x, c, stored);
    stop_waiting(c);
    cache_object_unref(c->obj);
    c->obj = NULL;
}

const struct pipeline_module cache_module = {
    .name = "cache",
    .key = "cache",
    .phase = PIPELINE_PHASE_CACHE,
    .ctx_size = sizeof(struct cache_ctx),
    .global = true,
    .config_load = cache_config_load,
    .config_free = cache_config_free,
    .shared_get = cache_shared_get,
    .shared_put = cache_shared_put,
    .on_request = cache_request,
    .on_response_head = cache_response_head,
    .on_response_body = cache_body,
    .on_response_data = cache_response_data,
    .observe_payload = true,
    .on_response_trailers = cache_response_trailers,
    .on_end = cache_end,
};

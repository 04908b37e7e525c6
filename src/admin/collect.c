/* collect.c — see collect.h.
 *
 * Windows: a tracker per route (keyed by its registry key, which survives reloads), per group
 * (by name) and one for the process keeps the cumulative histogram and request count of each
 * of the last ADMIN_WINDOW_S ticks in a ring. At a tick, the current cumulative histogram
 * minus the oldest in the ring is the distribution of the window; then the current one is
 * pushed. Entries are sparse (bucket index, count), so a route costs what its distribution
 * occupies (typically a few hundred buckets), not 2048 x 8 bytes per second kept. */
#include "admin/collect.h"

#include <stdlib.h>
#include <string.h>

#include "core/accesslog.h"
#include "resilience/health.h"
#include "resilience/shared_state.h"

const uint64_t admin_le_us[ADMIN_NLE] = {
    100,    250,    500,     1000,    2500,    5000,     10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

const double admin_coarse_ms[ADMIN_NCOARSE] = {0.1, 0.25, 0.5, 1,    2.5,  5,    10,   25,
                                               50,  100,  250, 500, 1000, 2500, 5000, 10000};

const char *const admin_pool_reason[ADMIN_POOL_REASONS] = {
    "peer", "idle_timeout", "max_requests", "max_lifetime", "pool_full", "error", "retired",
};

#define TRK_RING ADMIN_WINDOW_S
#define REQS_RING 61 /* request counts of the last 60 s, for the 60 s rate */

struct trk_entry {
    uint64_t mono_ms, requests;
    uint32_t n, cap;
    uint16_t *idx;   /* non-empty buckets (HIST_NBUCKETS < 65536) */
    uint64_t *cnt;
    uint64_t sum_us, max_us;
};

struct tracker {
    char *key;
    bool seen;
    uint64_t born_ms;        /* its counters were 0 then: the base until the ring has entries */
    uint32_t head, len;      /* next slot to write; entries held */
    struct trk_entry ring[TRK_RING];
    struct m_window win;     /* as of the last tick */
};

struct trk_set {
    struct tracker **items;
    uint32_t n, cap;
};

struct collector {
    struct admin_view *view;
    struct trk_set routes, groups;
    struct tracker global;
    struct {
        uint64_t mono_ms, requests;
    } reqs[REQS_RING];
    uint32_t reqs_head, reqs_len;
    struct m_second hist[ADMIN_HISTORY];
    uint32_t hist_head, hist_len;
    uint64_t prev_err;
    bool ticked;
    double rps_1s, rps_10s, rps_60s;
    struct hist_snapshot *cur, *base, *diff; /* scratch */
};

_Static_assert(HIST_NBUCKETS <= 65536, "bucket indexes are stored in 16 bits");
_Static_assert(ADMIN_POOL_REASONS <= sizeof(((struct server_shard *)0)->pool_closed) /
                                         sizeof(mcounter),
               "pool close reasons fit the shard");

/* ---- trackers ----------------------------------------------------------------------------- */

static void trk_entry_free(struct trk_entry *e)
{
    free(e->idx);
    free(e->cnt);
    *e = (struct trk_entry){0};
}

static void tracker_free(struct tracker *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < TRK_RING; i++)
        trk_entry_free(&t->ring[i]);
    free(t->key);
    free(t);
}

static void trk_set_free(struct trk_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        tracker_free(s->items[i]);
    free(s->items);
    *s = (struct trk_set){0};
}

/* The tracker for key; `pos` is where it was last time (registries keep their order), so the
 * lookup is O(1) when nothing changed. Creates one when `create`. NULL when absent or OOM. */
static struct tracker *trk_find(struct trk_set *s, const char *key, uint32_t pos, bool create,
                                uint64_t born_ms)
{
    if (pos < s->n && strcmp(s->items[pos]->key, key) == 0)
        return s->items[pos];
    for (uint32_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i]->key, key) == 0)
            return s->items[i];
    if (!create)
        return NULL;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 16;
        struct tracker **items = realloc(s->items, cap * sizeof(*items));
        if (!items)
            return NULL;
        s->items = items;
        s->cap = cap;
    }
    struct tracker *t = calloc(1, sizeof(*t));
    if (!t || !(t->key = strdup(key))) {
        free(t);
        return NULL;
    }
    t->born_ms = born_ms;
    s->items[s->n++] = t;
    return t;
}

/* Drops the trackers not seen since the last sweep (their route or group is gone). */
static void trk_sweep(struct trk_set *s)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->items[i]->seen) {
            s->items[i]->seen = false;
            s->items[k++] = s->items[i];
        } else {
            tracker_free(s->items[i]);
        }
    }
    s->n = k;
}

static void expand(struct hist_snapshot *dst, const struct trk_entry *e)
{
    memset(dst, 0, sizeof(*dst));
    if (!e)
        return;
    uint64_t n = 0;
    for (uint32_t i = 0; i < e->n; i++) {
        dst->counts[e->idx[i]] = e->cnt[i];
        n += e->cnt[i];
    }
    dst->count = n;
    dst->sum_us = e->sum_us;
    dst->max_us = e->max_us;
}

static const struct trk_entry *trk_oldest(const struct tracker *t)
{
    return t->len ? &t->ring[(t->head + TRK_RING - t->len) % TRK_RING] : NULL;
}

static const struct trk_entry *trk_newest(const struct tracker *t)
{
    return t->len ? &t->ring[(t->head + TRK_RING - 1) % TRK_RING] : NULL;
}

static int trk_push(struct tracker *t, const struct hist_snapshot *cur, uint64_t requests,
                    uint64_t mono_ms)
{
    struct trk_entry *e = &t->ring[t->head];
    uint32_t n = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++)
        n += cur->counts[i] != 0;
    if (n > e->cap) {
        uint16_t *idx = realloc(e->idx, n * sizeof(*idx));
        if (idx)
            e->idx = idx;
        uint64_t *cnt = realloc(e->cnt, n * sizeof(*cnt));
        if (cnt)
            e->cnt = cnt;
        if (!idx || !cnt)
            return -1;
        e->cap = n;
    }
    e->n = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        if (cur->counts[i]) {
            e->idx[e->n] = (uint16_t)i;
            e->cnt[e->n++] = cur->counts[i];
        }
    }
    e->mono_ms = mono_ms;
    e->requests = requests;
    e->sum_us = cur->sum_us;
    e->max_us = cur->max_us;
    t->head = (t->head + 1) % TRK_RING;
    if (t->len < TRK_RING)
        t->len++;
    return 0;
}

static void coarse_counts(const struct hist_snapshot *s, uint64_t *out)
{
    uint64_t prev = 0;
    for (uint32_t i = 0; i < ADMIN_NCOARSE; i++) {
        uint64_t le = hist_count_le(s, (uint64_t)(admin_coarse_ms[i] * 1000.0 + 0.5));
        out[i] = le >= prev ? le - prev : 0;
        prev = le;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++)
        total += s->counts[i];
    out[ADMIN_NCOARSE] = total >= prev ? total - prev : 0;
}

/* The window ending now: c->cur (current cumulative histogram) minus the oldest entry. */
static void trk_window(struct collector *c, struct tracker *t, uint64_t requests,
                       uint64_t mono_ms, bool coarse)
{
    const struct trk_entry *old = trk_oldest(t);
    uint64_t base_ms = old ? old->mono_ms : t->born_ms;
    uint64_t base_req = old ? old->requests : 0;
    expand(c->base, old);
    hist_snapshot_diff(c->diff, c->cur, c->base);
    struct m_window *w = &t->win;
    w->window_s = mono_ms > base_ms ? (double)(mono_ms - base_ms) / 1000.0 : 0.001;
    if (w->window_s < 0.001)
        w->window_s = 0.001;
    w->rps = requests >= base_req ? (double)(requests - base_req) / w->window_s : 0;
    w->p50_us = hist_quantile(c->diff, 0.50);
    w->p90_us = hist_quantile(c->diff, 0.90);
    w->p99_us = hist_quantile(c->diff, 0.99);
    w->p999_us = hist_quantile(c->diff, 0.999);
    w->max_us = c->diff->max_us;
    if (coarse)
        coarse_counts(c->diff, w->coarse);
}

/* ---- life ------------------------------------------------------------------------------- */

struct collector *collector_new(struct admin_view *view)
{
    struct collector *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->view = view;
    c->cur = malloc(sizeof(*c->cur));
    c->base = malloc(sizeof(*c->base));
    c->diff = malloc(sizeof(*c->diff));
    if (!c->cur || !c->base || !c->diff) {
        collector_free(c);
        return NULL;
    }
    c->global.born_ms = view->start_mono_ms;
    return c;
}

void collector_free(struct collector *c)
{
    if (!c)
        return;
    trk_set_free(&c->routes);
    trk_set_free(&c->groups);
    for (uint32_t i = 0; i < TRK_RING; i++)
        trk_entry_free(&c->global.ring[i]);
    free(c->cur);
    free(c->base);
    free(c->diff);
    free(c);
}

void model_free(struct model *m)
{
    for (uint32_t i = 0; i < m->nroutes; i++) {
        free(m->routes[i].key);
        free(m->routes[i].label);
    }
    free(m->routes);
    for (uint32_t i = 0; i < m->ngroups; i++)
        free(m->groups[i].name);
    free(m->groups);
    for (uint32_t i = 0; i < m->nservers; i++) {
        free(m->servers[i].group);
        free(m->servers[i].address);
    }
    free(m->servers);
    memset(m, 0, sizeof(*m));
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Prometheus' cumulative buckets in one pass; same result as hist_count_le per bound. */
static void reduce(const struct hist_snapshot *s, struct m_hist *out)
{
    uint64_t cum = 0;
    uint32_t j = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t up = hist_bucket_upper(i);
        while (j < ADMIN_NLE && up > admin_le_us[j])
            out->le[j++] = cum;
        cum += s->counts[i];
    }
    while (j < ADMIN_NLE)
        out->le[j++] = cum;
    out->count = cum;
    out->sum_us = s->sum_us;
}

static void breaker_read(struct breaker *b, uint64_t now_ms, struct m_breaker *out)
{
    struct breaker_stats st;
    breaker_get_stats(b, now_ms, &st);
    out->state = st.state;
    out->since_s = now_ms > st.state_since_ms ? (double)(now_ms - st.state_since_ms) / 1000.0 : 0;
    out->calls = st.calls;
    out->failure_rate_pct = st.failure_rate_pct;
    out->slow_rate_pct = st.slow_rate_pct;
    out->rejected = st.rejected;
    out->ntransitions = st.ntransitions;
    memcpy(out->transitions, st.history, sizeof(st.history[0]) * st.ntransitions);
}

static bool grow(void **arr, uint32_t n, size_t size)
{
    /* Doubling at powers of two (n is the count before adding). */
    if (n && (n & (n - 1)))
        return true;
    void *p = realloc(*arr, (n ? n * 2 : 8) * size);
    if (!p)
        return false;
    *arr = p;
    return true;
}

struct cctx {
    struct collector *c;
    struct model *m;
    unsigned flags;
    uint64_t now;
    uint32_t nw;        /* shards per object */
    bool failed;
};

static void route_cb(struct route_state *rs, void *arg)
{
    struct cctx *x = arg;
    struct model *m = x->m;
    if (x->failed || !rs->m)
        return;
    if (!grow((void **)&m->routes, m->nroutes, sizeof(*m->routes))) {
        x->failed = true;
        return;
    }
    struct m_route *r = &m->routes[m->nroutes];
    memset(r, 0, sizeof(*r));
    r->key = strdup(rs->key);
    r->label = strdup(rs->label ? rs->label : rs->key);
    if (!r->key || !r->label) {
        free(r->key);
        free(r->label);
        x->failed = true;
        return;
    }
    uint32_t pos = m->nroutes++;
    uint64_t shard_rl = 0;
    for (uint32_t w = 0; w < x->nw; w++) {
        const struct route_shard *s = &rs->m[w];
        r->requests += mc_get(&s->requests);
        for (uint32_t k = 0; k < MM_COUNT; k++)
            r->methods[k] += mc_get(&s->methods[k]);
        for (uint32_t k = 0; k < METRICS_STATUS_CLASSES; k++)
            r->status[k] += mc_get(&s->status[k]);
        r->bytes_in += mc_get(&s->bytes_in);
        r->bytes_out += mc_get(&s->bytes_out);
        shard_rl += mc_get(&s->rate_limited);
    }
    /* Counted in the shared atomic today, maybe in the shards later: both are monotonic and
     * count the same events, so the larger is right either way. */
    r->rate_limited = atomic_load_explicit(&rs->rate_limited, memory_order_relaxed);
    if (shard_rl > r->rate_limited)
        r->rate_limited = shard_rl;

    struct collector *c = x->c;
    struct tracker *t = trk_find(&c->routes, rs->key, pos, x->flags & COLLECT_TICK,
                                 c->ticked ? x->now : c->view->start_mono_ms);
    if (x->flags & (COLLECT_HIST | COLLECT_TICK)) {
        memset(c->cur, 0, sizeof(*c->cur));
        for (uint32_t w = 0; w < x->nw; w++)
            hist_add_to(c->cur, &rs->m[w].total);
        if (x->flags & COLLECT_HIST)
            reduce(c->cur, &r->total);
        if ((x->flags & COLLECT_TICK) && t) {
            trk_window(c, t, r->requests, x->now, false);
            if (trk_push(t, c->cur, r->requests, x->now) == -1)
                x->failed = true;
        }
        if (x->flags & COLLECT_HIST) {
            memset(c->cur, 0, sizeof(*c->cur));
            for (uint32_t w = 0; w < x->nw; w++)
                hist_add_to(c->cur, &rs->m[w].upstream);
            reduce(c->cur, &r->upstream);
        }
    }
    if (t) {
        t->seen |= (x->flags & COLLECT_TICK) != 0;
        r->win = t->win;
    }
}

static void group_cb(struct group_state *gs, void *arg)
{
    struct cctx *x = arg;
    struct model *m = x->m;
    if (x->failed || !gs->m)
        return;
    if (!grow((void **)&m->groups, m->ngroups, sizeof(*m->groups))) {
        x->failed = true;
        return;
    }
    struct m_group *g = &m->groups[m->ngroups];
    memset(g, 0, sizeof(*g));
    if (!(g->name = strdup(gs->name))) {
        x->failed = true;
        return;
    }
    uint32_t pos = m->ngroups++;
    for (uint32_t w = 0; w < x->nw; w++) {
        const struct group_shard *s = &gs->m[w];
        g->requests += mc_get(&s->requests);
        g->attempts += mc_get(&s->attempts);
        g->retries += mc_get(&s->retries);
        g->failures += mc_get(&s->failures);
        g->queued_total += mc_get(&s->limit_queued);
    }
    g->budget_allowed = atomic_load_explicit(&gs->budget.allowed, memory_order_relaxed);
    g->budget_refused = atomic_load_explicit(&gs->budget.refused, memory_order_relaxed);
    g->limit_rejected = atomic_load_explicit(&gs->limit_rejected, memory_order_relaxed);
    g->queue_timeouts = atomic_load_explicit(&gs->queue_timeouts, memory_order_relaxed);
    g->breaker_rejected = atomic_load_explicit(&gs->breaker_rejected, memory_order_relaxed);
    g->queued = atomic_load_explicit(&gs->queued, memory_order_relaxed);
    if (gs->breaker) {
        g->has_breaker = true;
        breaker_read(gs->breaker, x->now, &g->breaker);
    }
    if (gs->limiter) {
        g->has_limiter = true;
        g->limit = limiter_limit(gs->limiter);
        g->inflight = limiter_inflight(gs->limiter);
    }

    struct collector *c = x->c;
    struct tracker *t = trk_find(&c->groups, gs->name, pos, x->flags & COLLECT_TICK,
                                 c->ticked ? x->now : c->view->start_mono_ms);
    if (x->flags & (COLLECT_HIST | COLLECT_TICK)) {
        memset(c->cur, 0, sizeof(*c->cur));
        for (uint32_t w = 0; w < x->nw; w++)
            hist_add_to(c->cur, &gs->m[w].upstream);
        if (x->flags & COLLECT_HIST)
            reduce(c->cur, &g->upstream);
        if ((x->flags & COLLECT_TICK) && t) {
            trk_window(c, t, g->requests, x->now, false);
            if (trk_push(t, c->cur, g->requests, x->now) == -1)
                x->failed = true;
        }
    }
    if (t) {
        t->seen |= (x->flags & COLLECT_TICK) != 0;
        g->win = t->win;
    }
}

static void server_cb(struct server_state *st, void *arg)
{
    struct cctx *x = arg;
    struct model *m = x->m;
    if (x->failed)
        return;
    if (!grow((void **)&m->servers, m->nservers, sizeof(*m->servers))) {
        x->failed = true;
        return;
    }
    struct m_server *s = &m->servers[m->nservers];
    memset(s, 0, sizeof(*s));
    s->group = strdup(st->group);
    s->address = strdup(st->address);
    if (!s->group || !s->address) {
        free(s->group);
        free(s->address);
        x->failed = true;
        return;
    }
    m->nservers++;
    s->up = atomic_load_explicit(&st->lb.up, memory_order_relaxed);
    s->backup = st->lb.backup; /* written under the registry lock we hold */
    s->down_reason = atomic_load_explicit(&st->down_reason, memory_order_relaxed);
    s->inflight = atomic_load_explicit(&st->lb.inflight, memory_order_relaxed);
    s->conns = atomic_load_explicit(&st->conns, memory_order_relaxed);
    s->failures = atomic_load_explicit(&st->failures, memory_order_relaxed);
    s->checks = atomic_load_explicit(&st->checks, memory_order_relaxed);
    s->checks_failed = atomic_load_explicit(&st->checks_failed, memory_order_relaxed);
    s->transitions = atomic_load_explicit(&st->transitions, memory_order_relaxed);
    uint64_t shard_req = 0;
    for (uint32_t w = 0; st->m && w < x->nw; w++) {
        const struct server_shard *sh = &st->m[w];
        shard_req += mc_get(&sh->requests);
        s->pool_idle += mc_get(&sh->pool_idle);
        s->pool_busy += mc_get(&sh->pool_busy);
        s->pool_waiters += mc_get(&sh->pool_waiters);
        s->pool_created += mc_get(&sh->pool_created);
        s->pool_reused += mc_get(&sh->pool_reused);
        s->pool_timeouts += mc_get(&sh->pool_acquire_timeouts);
        s->pool_waits += mc_get(&sh->pool_waits);
        s->pool_wait_ms += mc_get(&sh->pool_wait_ms);
        for (uint32_t k = 0; k < ADMIN_POOL_REASONS; k++)
            s->pool_closed[k] += mc_get(&sh->pool_closed[k]);
    }
    s->requests = atomic_load_explicit(&st->requests, memory_order_relaxed);
    if (shard_req > s->requests)
        s->requests = shard_req;
    /* st->breaker is replaced under shared_state's lock (not the one held here); a replaced
     * breaker is retired, never freed before exit, so an atomic load of the pointer is safe. */
    struct breaker *b = __atomic_load_n(&st->breaker, __ATOMIC_ACQUIRE);
    if (b) {
        s->has_breaker = true;
        breaker_read(b, x->now, &s->breaker);
    }
}

static double rate_since(const struct collector *c, uint64_t requests, uint64_t now,
                         uint64_t window_ms)
{
    /* The newest sample at least window_ms old, else the oldest (or the start). */
    uint64_t base_ms = c->view->start_mono_ms, base_req = 0;
    for (uint32_t k = 0; k < c->reqs_len; k++) {
        uint32_t i = (c->reqs_head + REQS_RING - 1 - k) % REQS_RING;
        base_ms = c->reqs[i].mono_ms;
        base_req = c->reqs[i].requests;
        if (now - c->reqs[i].mono_ms >= window_ms)
            break;
    }
    if (now <= base_ms || requests < base_req)
        return 0;
    return (double)(requests - base_req) * 1000.0 / (double)(now - base_ms);
}

static void global_read(struct collector *c, struct model *m, unsigned flags, uint64_t now,
                        uint64_t wall)
{
    struct admin_view *v = c->view;
    struct m_global *g = &m->g;
    g->nworkers = v->nworkers;
    for (uint32_t w = 0; w < v->nworkers; w++) {
        const struct worker_shard *s = v->workers[w];
        if (!s)
            continue;
        g->accepted += mc_get(&s->accepted);
        g->active_clients += mc_get(&s->active_clients);
        g->upstream_conns += mc_get(&s->upstream_conns);
        g->requests += mc_get(&s->requests);
        for (uint32_t k = 0; k < METRICS_STATUS_CLASSES; k++)
            g->status[k] += mc_get(&s->status[k]);
        g->bytes_in += mc_get(&s->bytes_in);
        g->bytes_out += mc_get(&s->bytes_out);
        g->shed += mc_get(&s->shed);
        for (uint32_t op = 0; op < MLO_COUNT; op++)
            for (uint32_t k = 0; k < METRICS_LOCAL_KINDS; k++) {
                g->local_errors[op][k] += mc_get(&s->local_errors[op][k]);
                g->local_errors_total += mc_get(&s->local_errors[op][k]);
            }
        if (w < METRICS_MAX_WORKERS) {
            g->loop_lag_ms[w] = mc_get(&s->loop_lag_ms);
            g->buf_memory[w] = mc_get(&s->buf_memory);
            g->buf_files[w] = mc_get(&s->buf_files);
        }
        g->bodies_memory += mc_get(&s->bodies_memory);
        g->bodies_file += mc_get(&s->bodies_file);
        g->bodies_refused += mc_get(&s->bodies_refused);
        g->responses_ahead += mc_get(&s->responses_ahead);
        g->ahead_fallbacks += mc_get(&s->ahead_fallbacks);
        g->h2_requests += mc_get(&s->h2_requests);
        g->h2_streams += mc_get(&s->h2_streams);
        g->h2_conns += mc_get(&s->h2_conns);
    }
    g->log_dropped = accesslog_dropped();
    g->generation = atomic_load(&v->generation);
    g->reloads_ok = atomic_load(&v->reloads_ok);
    g->reloads_failed = atomic_load(&v->reloads_failed);
    g->ts_ms = wall;
    g->start_wall_ms = v->start_wall_ms;
    g->uptime_s = now > v->start_mono_ms ? (double)(now - v->start_mono_ms) / 1000.0 : 0;

    if (flags & (COLLECT_HIST | COLLECT_TICK)) {
        memset(c->cur, 0, sizeof(*c->cur));
        for (uint32_t w = 0; w < v->nworkers; w++)
            if (v->workers[w])
                hist_add_to(c->cur, &v->workers[w]->total);
        if (flags & COLLECT_HIST)
            reduce(c->cur, &g->total);
    }
    if (flags & COLLECT_TICK) {
        struct tracker *t = &c->global;
        /* The last second, for the history. */
        const struct trk_entry *nw = trk_newest(t);
        uint64_t prev_ms = nw ? nw->mono_ms : t->born_ms, prev_req = nw ? nw->requests : 0;
        expand(c->base, nw);
        hist_snapshot_diff(c->diff, c->cur, c->base);
        double dt = now > prev_ms ? (double)(now - prev_ms) / 1000.0 : 1.0;
        struct m_second *sec = &c->hist[c->hist_head];
        sec->t = wall / 1000;
        sec->rps = g->requests >= prev_req ? (double)(g->requests - prev_req) / dt : 0;
        sec->p50_ms = (double)hist_quantile(c->diff, 0.50) / 1000.0;
        sec->p99_ms = (double)hist_quantile(c->diff, 0.99) / 1000.0;
        sec->err = g->status[5] >= c->prev_err ? g->status[5] - c->prev_err : 0;
        c->prev_err = g->status[5];
        c->hist_head = (c->hist_head + 1) % ADMIN_HISTORY;
        if (c->hist_len < ADMIN_HISTORY)
            c->hist_len++;
        /* The window. */
        trk_window(c, t, g->requests, now, true);
        trk_push(t, c->cur, g->requests, now);
        /* Rates, then this sample for the next ones. */
        c->rps_1s = rate_since(c, g->requests, now, 1000);
        c->rps_10s = rate_since(c, g->requests, now, 10000);
        c->rps_60s = rate_since(c, g->requests, now, 60000);
        c->reqs[c->reqs_head].mono_ms = now;
        c->reqs[c->reqs_head].requests = g->requests;
        c->reqs_head = (c->reqs_head + 1) % REQS_RING;
        if (c->reqs_len < REQS_RING)
            c->reqs_len++;
    }
    g->win = c->global.win;
    g->rps_1s = c->rps_1s;
    g->rps_10s = c->rps_10s;
    g->rps_60s = c->rps_60s;
    m->nhistory = c->hist_len;
    for (uint32_t k = 0; k < c->hist_len; k++)
        m->history[k] = c->hist[(c->hist_head + ADMIN_HISTORY - c->hist_len + k) % ADMIN_HISTORY];
}

int collector_collect(struct collector *c, struct model *m, unsigned flags, uint64_t mono_ms,
                      uint64_t wall_ms)
{
    memset(m, 0, sizeof(*m));
    struct cctx x = {.c = c, .m = m, .flags = flags, .now = mono_ms, .nw = metrics_workers()};
    global_read(c, m, flags, mono_ms, wall_ms);
    route_state_foreach(route_cb, &x);
    group_state_foreach(group_cb, &x);
    health_foreach(server_cb, &x);
    if (flags & COLLECT_TICK) {
        if (!x.failed) {
            /* A failed walk may have missed objects: keep their trackers until a full one. */
            trk_sweep(&c->routes);
            trk_sweep(&c->groups);
        }
        c->ticked = true;
    }
    return x.failed ? -1 : 0;
}

/* shared_state.c — see shared_state.h. Shared state: the two registries and the retired list,
 * all under `lock`. */
#include "resilience/shared_state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct retired {
    struct retired *next;
    void (*free_fn)(void *);
    void *obj;
};

static struct {
    pthread_mutex_t lock;
    struct group_state **groups;
    uint32_t ngroups, cap_groups;
    struct route_state **routes;
    uint32_t nroutes, cap_routes;
    struct retired *retired;
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void retire(void (*free_fn)(void *), void *obj)
{
    struct retired *r = malloc(sizeof(*r));
    if (!r)
        return; /* leak rather than free what a request may still use */
    *r = (struct retired){.next = reg.retired, .free_fn = free_fn, .obj = obj};
    reg.retired = r;
}

static void free_breaker(void *b)
{
    breaker_free(b);
}

static void free_limiter(void *l)
{
    limiter_free(l);
}

static void free_ratelimit(void *rl)
{
    ratelimit_free(rl);
}

static int grow(void ***items, uint32_t n, uint32_t *cap)
{
    if (n < *cap)
        return 0;
    uint32_t ncap = *cap ? *cap * 2 : 16;
    void **p = realloc(*items, ncap * sizeof(void *));
    if (!p)
        return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

/* (Re)makes *b for cfg when its settings changed; the old one is retired. */
static void refresh_breaker(struct breaker **b, struct cfg_breaker *have,
                            const struct cfg_breaker *want, const char *name)
{
    if (*b && memcmp(have, want, sizeof(*want)) == 0)
        return;
    if (*b)
        retire(free_breaker, *b);
    *b = want->enabled ? breaker_new(want, name) : NULL;
    *have = *want;
}

struct group_state *group_state_get(const struct cfg_upstream *g)
{
    pthread_mutex_lock(&reg.lock);
    struct group_state *gs = NULL;
    for (uint32_t i = 0; i < reg.ngroups; i++)
        if (strcmp(reg.groups[i]->name, g->name) == 0)
            gs = reg.groups[i];
    if (!gs) {
        if (grow((void ***)&reg.groups, reg.ngroups, &reg.cap_groups) == -1)
            goto out;
        gs = calloc(1, sizeof(*gs));
        if (!gs || !(gs->name = strdup(g->name)) || !(gs->m = metrics_group_shards())) {
            if (gs)
                free(gs->name);
            free(gs);
            gs = NULL;
            goto out;
        }
        retry_budget_init(&gs->budget);
        reg.groups[reg.ngroups++] = gs;
    }
    char name[160];
    snprintf(name, sizeof(name), "group %s", g->name);
    refresh_breaker(&gs->breaker, &gs->breaker_cfg, &g->breaker, name);
    bool want_limiter = g->concurrency.max || g->concurrency.adaptive;
    if (!gs->limiter || memcmp(&gs->limiter_cfg, &g->concurrency, sizeof(g->concurrency)) != 0) {
        if (gs->limiter)
            retire(free_limiter, gs->limiter);
        gs->limiter = want_limiter ? limiter_new(&g->concurrency) : NULL;
        gs->limiter_cfg = g->concurrency;
    }
    gs->refs++;
out:
    pthread_mutex_unlock(&reg.lock);
    return gs;
}

void group_state_ref(struct group_state *gs)
{
    pthread_mutex_lock(&reg.lock);
    gs->refs++;
    pthread_mutex_unlock(&reg.lock);
}

void group_state_put(struct group_state *gs)
{
    if (!gs)
        return;
    pthread_mutex_lock(&reg.lock);
    if (--gs->refs == 0) {
        for (uint32_t i = 0; i < reg.ngroups; i++) {
            if (reg.groups[i] == gs) {
                reg.groups[i] = reg.groups[--reg.ngroups];
                break;
            }
        }
        if (gs->breaker)
            retire(free_breaker, gs->breaker);
        if (gs->limiter)
            retire(free_limiter, gs->limiter);
        free(gs->m);
        free(gs->name);
        free(gs);
    }
    pthread_mutex_unlock(&reg.lock);
}

struct breaker *server_breaker_get(struct server_state *st, const struct cfg_upstream *g)
{
    pthread_mutex_lock(&reg.lock);
    struct cfg_breaker want = g->breaker;
    want.enabled = g->breaker.enabled && g->breaker.per_server;
    char name[200];
    snprintf(name, sizeof(name), "server %s", st->key);
    refresh_breaker(&st->breaker, &st->breaker_cfg, &want, name);
    struct breaker *b = st->breaker;
    pthread_mutex_unlock(&reg.lock);
    return b;
}

/* host|path|methods: what identifies a route across reloads. */
static char *route_key(const struct cfg_route *r)
{
    size_t len = (r->host ? strlen(r->host) : 1) + strlen(r->path) + 3;
    for (uint32_t i = 0; i < r->nmethods; i++)
        len += strlen(r->methods[i]) + 1;
    char *k = malloc(len);
    if (!k)
        return NULL;
    size_t off = (size_t)snprintf(k, len, "%s|%s|", r->host ? r->host : "*", r->path);
    for (uint32_t i = 0; i < r->nmethods && off < len; i++)
        off += (size_t)snprintf(k + off, len - off, "%s,", r->methods[i]);
    return k;
}

/* "host/path" ("*" for any host), with " [GET,HEAD]" when the route lists methods. */
static char *route_label(const struct cfg_route *r)
{
    size_t len = (r->host ? strlen(r->host) : 1) + strlen(r->path) + 4;
    for (uint32_t i = 0; i < r->nmethods; i++)
        len += strlen(r->methods[i]) + 1;
    char *l = malloc(len);
    if (!l)
        return NULL;
    size_t off = (size_t)snprintf(l, len, "%s%s", r->host ? r->host : "*", r->path);
    for (uint32_t i = 0; i < r->nmethods && off < len; i++)
        off += (size_t)snprintf(l + off, len - off, "%s%s", i ? "," : " [", r->methods[i]);
    if (r->nmethods && off + 1 < len) {
        l[off++] = ']';
        l[off] = '\0';
    }
    return l;
}

void group_state_foreach(void (*fn)(struct group_state *gs, void *arg), void *arg)
{
    pthread_mutex_lock(&reg.lock);
    for (uint32_t i = 0; i < reg.ngroups; i++)
        fn(reg.groups[i], arg);
    pthread_mutex_unlock(&reg.lock);
}

void route_state_foreach(void (*fn)(struct route_state *rs, void *arg), void *arg)
{
    pthread_mutex_lock(&reg.lock);
    for (uint32_t i = 0; i < reg.nroutes; i++)
        fn(reg.routes[i], arg);
    pthread_mutex_unlock(&reg.lock);
}

struct route_state *route_state_get(const struct cfg_route *r)
{
    char *key = route_key(r);
    if (!key)
        return NULL;
    pthread_mutex_lock(&reg.lock);
    struct route_state *rs = NULL;
    for (uint32_t i = 0; i < reg.nroutes; i++)
        if (strcmp(reg.routes[i]->key, key) == 0)
            rs = reg.routes[i];
    if (!rs) {
        if (grow((void ***)&reg.routes, reg.nroutes, &reg.cap_routes) == -1)
            goto out;
        rs = calloc(1, sizeof(*rs));
        if (!rs || !(rs->m = metrics_route_shards()) || !(rs->label = route_label(r))) {
            if (rs)
                free(rs->m);
            free(rs);
            rs = NULL;
            goto out;
        }
        rs->key = key;
        key = NULL;
        reg.routes[reg.nroutes++] = rs;
    }
    if (!rs->ratelimit || memcmp(&rs->ratelimit_cfg, &r->ratelimit, sizeof(r->ratelimit)) != 0) {
        if (rs->ratelimit)
            retire(free_ratelimit, rs->ratelimit);
        rs->ratelimit = r->ratelimit.enabled ? ratelimit_new(&r->ratelimit) : NULL;
        rs->ratelimit_cfg = r->ratelimit;
    }
    if (r->idempotency.enabled && !rs->store) {
        rs->store_ops = store_find("memory");
        rs->store = rs->store_ops ? rs->store_ops->open(r->idempotency.max_entries) : NULL;
    }
    rs->refs++;
out:
    pthread_mutex_unlock(&reg.lock);
    free(key);
    return rs;
}

void route_state_ref(struct route_state *rs)
{
    pthread_mutex_lock(&reg.lock);
    rs->refs++;
    pthread_mutex_unlock(&reg.lock);
}

void route_state_put(struct route_state *rs)
{
    if (!rs)
        return;
    pthread_mutex_lock(&reg.lock);
    if (--rs->refs == 0) {
        for (uint32_t i = 0; i < reg.nroutes; i++) {
            if (reg.routes[i] == rs) {
                reg.routes[i] = reg.routes[--reg.nroutes];
                break;
            }
        }
        if (rs->ratelimit)
            retire(free_ratelimit, rs->ratelimit);
        if (rs->store)
            rs->store_ops->close(rs->store);
        free(rs->m);
        free(rs->label);
        free(rs->key);
        free(rs);
    }
    pthread_mutex_unlock(&reg.lock);
}

void shared_state_shutdown(void)
{
    pthread_mutex_lock(&reg.lock);
    while (reg.retired) {
        struct retired *r = reg.retired;
        reg.retired = r->next;
        r->free_fn(r->obj);
        free(r);
    }
    if (!reg.ngroups) {
        free(reg.groups);
        reg.groups = NULL;
        reg.cap_groups = 0;
    }
    if (!reg.nroutes) {
        free(reg.routes);
        reg.routes = NULL;
        reg.cap_routes = 0;
    }
    pthread_mutex_unlock(&reg.lock);
}

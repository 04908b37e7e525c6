/* config_upstream.c — the `upstreams` and `routes` sections of the configuration.
 *
 * Groups are loaded first into an array sized once, so the route->upstream pointers taken
 * while loading routes stay valid for the life of the struct config. A group's `health`
 * section is in config_health.c; the resilience sections of groups and routes (`retry`,
 * `circuit_breaker`, `concurrency`, `rate_limit`, `idempotency`) in config_resilience.c. Part of the loader: main thread only, and every error leaves
 * partly filled arrays for config_free. */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/config_buffering.h"
#include "core/config_health.h"
#include "core/config_resilience.h"
#include "core/config_yaml.h"
#include "core/config_tls.h"

/* The strategies src/balance implements; keep the two in step. */
static const char *const balance_names[] = {"round_robin", "random", "least_connections",
                                            "weighted", "hash", NULL};

static int check_balance(struct ycx *cx, const struct ynode *v)
{
    char list[160] = "";
    size_t off = 0;

    for (const char *const *b = balance_names; *b; b++)
        if (strcmp(*b, v->str) == 0)
            return 0;
    for (const char *const *b = balance_names; *b && off < sizeof(list); b++) {
        int n = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", *b);

        off += n > 0 ? (size_t)n : 0;
    }
    return yerr(cx, v, "unknown balance strategy '%.64s' (expected one of: %s)", v->str, list);
}

static bool is_group_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
            return false;
    return true;
}

/* One `servers` item: "host:port" or {address, weight, backup, max_conns}. */
static int load_server(struct ycx *cx, const struct ynode *item, const char *group,
                       uint32_t idx, struct cfg_server *s)
{
    static const char *const keys[] = {"address", "weight", "backup", "max_conns", NULL};
    const struct ynode *addr = item;
    const char *why;
    char where[128];

    s->weight = 1;
    if (item->kind == YNODE_MAP) {
        snprintf(where, sizeof(where), "upstreams.%.64s.servers[%" PRIu32 "]", group, idx);
        if (ymap_check(cx, item, where, keys) != 0 ||
            !(addr = ymap_need(cx, item, where, "address")) ||
            yopt_u32(cx, item, "weight", 1, 1000, &s->weight) != 0 ||
            yopt_bool(cx, item, "backup", &s->backup) != 0 ||
            yopt_u32(cx, item, "max_conns", 0, UINT32_MAX, &s->max_conns) != 0)
            return -1;
    }
    if (addr->kind != YNODE_SCALAR)
        return yerr(cx, addr, "expected an address or a mapping in 'servers', found %s",
                    ynode_describe(addr));
    if (config_parse_addr(addr->str, &s->addr, &why) != 0)
        return yerr(cx, addr, "invalid address '%.64s': %s", addr->str, why);
    return 0;
}

static int load_servers(struct ycx *cx, const struct ynode *v, struct cfg_upstream *u)
{
    bool primary = false;

    if (yexpect(cx, v, YNODE_SEQ, "servers") != 0)
        return -1;
    if (v->nitems == 0)
        return yerr(cx, v, "'servers' must list at least one server");
    u->servers = calloc(v->nitems, sizeof(*u->servers));
    if (!u->servers)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        struct cfg_server *s = &u->servers[i];

        u->nservers = i + 1;
        if (load_server(cx, v->items[i], u->name, i, s) != 0)
            return -1;
        for (uint32_t j = 0; j < i; j++)
            if (config_addr_equal(&u->servers[j].addr, &s->addr))
                return yerr(cx, v->items[i],
                            "duplicate server '%.64s' in '%.64s' (first at line %" PRIu32 ")",
                            s->addr.text, u->name, v->items[j]->line);
        primary |= !s->backup;
    }
    if (!primary)
        return yerr(cx, v, "every server of '%.64s' is a backup; at least one must not be",
                    u->name);
    return 0;
}

/* Keys that used to be accepted where they now are not: each points to its new home. */
struct moved_key {
    const char *key, *to;
};

/* Run before ymap_check, so an old file gets the hint rather than a bare "unknown key". */
static int check_moved(struct ycx *cx, const struct ynode *map, const char *where,
                       const struct moved_key *moved)
{
    if (map->kind != YNODE_MAP)
        return 0; /* ymap_check reports it */
    for (uint32_t i = 0; i < map->nitems; i += 2) {
        const struct ynode *key = map->items[i];

        if (key->kind != YNODE_SCALAR)
            continue;
        for (const struct moved_key *m = moved; m->key; m++)
            if (strcmp(key->str, m->key) == 0)
                return yerr(cx, key, "unknown key '%s' in '%s' (moved to %s)", m->key, where,
                            m->to);
    }
    return 0;
}

/* An optional duration that may be 0, up to max_ms; `range` words the limit for messages. */
static int yopt_ms0(struct ycx *cx, const struct ynode *map, const char *key, uint64_t max_ms,
                    const char *range, uint64_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    uint64_t ms;

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (config_parse_duration_ms(v->str, &ms) != 0)
        return yerr(cx, v, "invalid duration '%.64s' for '%s' (use e.g. 250ms, 10s, 2m, 1h)",
                    v->str, key);
    if (ms > max_ms)
        return yerr(cx, v, "'%s' must be %s, got '%.64s'", key, range, v->str);
    *out = ms;
    return 0;
}

#define DAY_MS (24u * 3600u * 1000u)
#define STICKY_TTL_MAX_S (400u * 24u * 3600u) /* browsers cap Max-Age at 400 days */

/* `hash: client_ip | header:NAME | cookie:NAME`; only with balance: hash. */
static int load_hash(struct ycx *cx, const struct ynode *v, struct cfg_upstream *u)
{
    const char *name, *kind;

    if (strcmp(u->balance, "hash") != 0)
        return yerr(cx, v, "'hash' is only used with balance: hash");
    if (strcmp(v->str, "client_ip") == 0) {
        u->hash_source = CFG_HASH_CLIENT_IP;
        return 0;
    }
    if (strncmp(v->str, "header:", 7) == 0) {
        u->hash_source = CFG_HASH_HEADER;
        kind = "header";
    } else if (strncmp(v->str, "cookie:", 7) == 0) {
        u->hash_source = CFG_HASH_COOKIE;
        kind = "cookie";
    } else {
        return yerr(cx, v,
                    "invalid hash '%.64s' (expected client_ip, header:NAME or cookie:NAME)",
                    v->str);
    }
    name = v->str + 7;
    if (!*name)
        return yerr(cx, v, "invalid hash '%.64s': the %s name is missing", v->str, kind);
    if (!config_is_token(name))
        return yerr(cx, v, "invalid hash '%.64s': '%.64s' is not a valid %s name", v->str, name,
                    kind);
    return ystrdup(cx, v, name, &u->hash_name);
}

/* `sticky_cookie: NAME`, `sticky_cookie: {name: NAME, ttl: DURATION}` or `sticky_cookie: off`. */
static int load_sticky(struct ycx *cx, const struct ynode *v, const char *group,
                       struct cfg_upstream *u)
{
    static const char *const keys[] = {"name", "ttl", NULL};
    const struct ynode *name = v;
    uint64_t ttl_ms = 0;
    char where[96];

    if (v->kind == YNODE_MAP) {
        snprintf(where, sizeof(where), "upstreams.%.64s.sticky_cookie", group);
        if (ymap_check(cx, v, where, keys) != 0 ||
            !(name = ymap_need(cx, v, where, "name")) || yscalar(cx, name, "name") != 0 ||
            yopt_ms0(cx, v, "ttl", (uint64_t)STICKY_TTL_MAX_S * 1000, "0..9600h (400 days)",
                     &ttl_ms) != 0)
            return -1;
        if (ttl_ms % 1000 != 0) {
            const struct ynode *ttl = ymap_get(v, "ttl");

            return yerr(cx, ttl, "'ttl' must be a whole number of seconds, got '%.64s'",
                        ttl->str);
        }
    } else if (v->kind != YNODE_SCALAR) {
        return yerr(cx, v, "expected a cookie name or a mapping for 'sticky_cookie', found %s",
                    ynode_describe(v));
    } else if (yscalar(cx, v, "sticky_cookie") != 0) {
        return -1;
    } else if (strcmp(v->str, "off") == 0) {
        return 0;
    }
    if (!config_is_token(name->str))
        return yerr(cx, name, "invalid cookie name '%.64s': not an HTTP token", name->str);
    u->sticky_ttl_s = (uint32_t)(ttl_ms / 1000);
    return ystrdup(cx, name, name->str, &u->sticky_cookie);
}

static int load_pool(struct ycx *cx, const struct ynode *v, const char *group,
                     struct cfg_pool *p)
{
    static const char *const keys[] = {"max_idle",     "min_idle",     "max_requests",
                                       "idle_timeout", "max_lifetime", "acquire_timeout",
                                       NULL};
    uint64_t lifetime = p->max_lifetime_ms;
    char where[96];

    snprintf(where, sizeof(where), "upstreams.%.64s.pool", group);
    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_u32(cx, v, "max_idle", 0, 65535, &p->max_idle) != 0 ||
        yopt_u32(cx, v, "min_idle", 0, 65535, &p->min_idle) != 0 ||
        yopt_u32(cx, v, "max_requests", 0, UINT32_MAX, &p->max_requests) != 0 ||
        yopt_ms(cx, v, "idle_timeout", &p->idle_timeout_ms) != 0 ||
        yopt_ms0(cx, v, "max_lifetime", DAY_MS - 1, "0 or less than 24h", &lifetime) != 0 ||
        yopt_ms(cx, v, "acquire_timeout", &p->acquire_timeout_ms) != 0)
        return -1;
    if (p->min_idle > p->max_idle)
        return yerr(cx, ymap_get(v, "min_idle"),
                    "'min_idle' (%" PRIu32 ") must not be more than 'max_idle' (%" PRIu32 ")",
                    p->min_idle, p->max_idle);
    p->max_lifetime_ms = (uint32_t)lifetime;
    return 0;
}

static int load_group_timeouts(struct ycx *cx, const struct ynode *t, const char *group,
                               struct cfg_upstream *u)
{
    static const char *const keys[] = {"connect", "response", "idle", "total", NULL};
    static const struct moved_key moved[] = {{"keepalive", "pool.idle_timeout"}, {NULL, NULL}};
    char where[96];

    snprintf(where, sizeof(where), "upstreams.%.64s.timeouts", group);
    if (check_moved(cx, t, where, moved) != 0 || ymap_check(cx, t, where, keys) != 0 ||
        yopt_ms(cx, t, "connect", &u->connect_timeout_ms) != 0 ||
        yopt_ms(cx, t, "response", &u->response_timeout_ms) != 0 ||
        yopt_ms(cx, t, "idle", &u->idle_timeout_ms) != 0 ||
        yopt_ms(cx, t, "total", &u->total_timeout_ms) != 0)
        return -1;
    return 0;
}

static int load_group(struct ycx *cx, const struct ynode *key, const struct ynode *v,
                      struct cfg_upstream *u)
{
    static const char *const keys[] = {"balance",     "hash",     "sticky_cookie",
                                       "slow_start",  "servers",  "pool",
                                       "timeouts",    "health",   "retry",
                                       "circuit_breaker", "concurrency", "tls", NULL};
    static const struct moved_key moved[] = {{"keepalive", "pool.max_idle"},
                                             {"keepalive_requests", "pool.max_requests"},
                                             {NULL, NULL}};
    const struct ynode *balance = NULL, *hash = NULL, *servers, *t;
    uint64_t slow_start = 0;
    char where[96];

    if (!is_group_name(key->str))
        return yerr(cx, key,
                    "invalid upstream name '%.64s' (use letters, digits, '_', '.' and '-')",
                    key->str);
    *u = (struct cfg_upstream){.pool = {.max_idle = 64,
                                        .idle_timeout_ms = 60000,
                                        .acquire_timeout_ms = 1000},
                               .connect_timeout_ms = 3000,
                               .response_timeout_ms = 30000,
                               .idle_timeout_ms = 60000,
                               .total_timeout_ms = 60000};
    if (ystrdup(cx, key, key->str, &u->name) != 0)
        return -1;
    snprintf(where, sizeof(where), "upstreams.%.64s", key->str);
    if (check_moved(cx, v, where, moved) != 0 || ymap_check(cx, v, where, keys) != 0 ||
        !(servers = ymap_need(cx, v, where, "servers")) ||
        yopt_str(cx, v, "balance", &balance) != 0 || yopt_str(cx, v, "hash", &hash) != 0 ||
        yopt_ms0(cx, v, "slow_start", DAY_MS - 1, "0 or less than 24h", &slow_start) != 0)
        return -1;
    u->slow_start_ms = (uint32_t)slow_start;
    if (balance && check_balance(cx, balance) != 0)
        return -1;
    if (ystrdup(cx, v, balance ? balance->str : "round_robin", &u->balance) != 0)
        return -1;
    if (hash && load_hash(cx, hash, u) != 0)
        return -1;
    if ((t = ymap_get(v, "sticky_cookie")) && load_sticky(cx, t, u->name, u) != 0)
        return -1;
    if ((t = ymap_get(v, "pool")) && load_pool(cx, t, u->name, &u->pool) != 0)
        return -1;
    if ((t = ymap_get(v, "timeouts")) && load_group_timeouts(cx, t, u->name, u) != 0)
        return -1;
    if (config_load_health(cx, v, u) != 0 || config_load_group_resilience(cx, v, u) != 0 ||
        config_load_upstream_tls(cx, v, where, u) != 0)
        return -1;
    return load_servers(cx, servers, u);
}

int config_load_upstreams(struct ycx *cx, const struct ynode *v, struct config *cfg)
{
    if (ymap_check(cx, v, "upstreams", NULL) != 0)
        return -1;
    if (v->nitems == 0)
        return yerr(cx, v, "'upstreams' must define at least one group");
    cfg->upstreams = calloc(v->nitems / 2, sizeof(*cfg->upstreams));
    if (!cfg->upstreams)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems / 2; i++) {
        cfg->nupstreams = i + 1;
        if (load_group(cx, v->items[2 * i], v->items[2 * i + 1], &cfg->upstreams[i]) != 0)
            return -1;
    }
    return 0;
}

/* "example.com", "*.example.com" or "[2001:db8::1]", stored lower-case. */
static int load_host(struct ycx *cx, const struct ynode *v, char **out)
{
    const char *s = v->str, *name = s;
    char *copy;

    if (s[0] == '[') {
        struct in6_addr a6;
        char buf[INET6_ADDRSTRLEN + 1];
        size_t n = v->len - 2;

        if (v->len < 3 || s[v->len - 1] != ']' || n >= sizeof(buf))
            return yerr(cx, v, "invalid host '%.64s': expected an IPv6 address in brackets", s);
        memcpy(buf, s + 1, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return yerr(cx, v, "invalid host '%.64s': not an IPv6 address", s);
    } else {
        if (strncmp(s, "*.", 2) == 0)
            name = s + 2;
        for (const char *p = name;; p++) {
            if (*p == '.' || *p == '\0') {
                if (p == name || p[-1] == '.')
                    return yerr(cx, v, "invalid host '%.64s': empty label", s);
                if (!*p)
                    break;
            } else if (*p == ':') {
                return yerr(cx, v, "invalid host '%.64s': a route host has no port", s);
            } else if (*p == '*') {
                return yerr(cx, v, "invalid host '%.64s': '*' is only allowed as a leading '*.'",
                            s);
            } else if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
                return yerr(cx, v, "invalid host '%.64s': unexpected character '%c'", s, *p);
            }
        }
    }
    if (ystrdup(cx, v, s, out) != 0)
        return -1;
    for (copy = *out; *copy; copy++)
        *copy = (char)tolower((unsigned char)*copy);
    return 0;
}

static int load_path(struct ycx *cx, const struct ynode *v, char **out)
{
    if (v->str[0] != '/')
        return yerr(cx, v, "invalid path '%.64s': must start with '/'", v->str);
    for (const char *p = v->str; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return yerr(cx, v, "invalid path '%.64s': no spaces, controls, '?' or '#'", v->str);
    return ystrdup(cx, v, v->str, out);
}

static int load_methods(struct ycx *cx, const struct ynode *v, struct cfg_route *r)
{
    if (yexpect(cx, v, YNODE_SEQ, "methods") != 0)
        return -1;
    if (v->nitems == 0)
        return yerr(cx, v, "'methods' is empty; leave it out to allow any method");
    r->methods = calloc(v->nitems, sizeof(*r->methods));
    if (!r->methods)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *m = v->items[i];

        if (yscalar(cx, m, "methods") != 0)
            return -1;
        if (!config_is_token(m->str))
            return yerr(cx, m, "invalid method '%.64s': not an HTTP token", m->str);
        for (const char *p = m->str; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                return yerr(cx, m, "invalid method '%.64s': methods are upper-case", m->str);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->methods[j], m->str) == 0)
                return yerr(cx, m, "duplicate method '%.64s'", m->str);
        r->nmethods = i + 1;
        if (ystrdup(cx, m, m->str, &r->methods[i]) != 0)
            return -1;
    }
    return 0;
}

/* Two routes clash when a request could match both equally well: same host, same path and at
 * least one method in common (no method list means every method). */
static bool routes_clash(const struct cfg_route *a, const struct cfg_route *b)
{
    if ((a->host == NULL) != (b->host == NULL) || (a->host && strcmp(a->host, b->host) != 0) ||
        strcmp(a->path, b->path) != 0)
        return false;
    /* A route listing methods wins over one that lists none: only two method-less routes,
     * or two listing a common method, are ambiguous. */
    if (!a->methods || !b->methods)
        return !a->methods && !b->methods;
    for (uint32_t i = 0; i < a->nmethods; i++)
        for (uint32_t j = 0; j < b->nmethods; j++)
            if (strcmp(a->methods[i], b->methods[j]) == 0)
                return true;
    return false;
}

/* ---- keys owned by the layers above (the pipeline's modules) ----------------------------- */

static const char *const base_route_keys[] = {"host",        "path",
                                              "methods",     "upstream",
                                              "timeouts",    "rate_limit",
                                              "idempotency", "request_buffering",
                                              "response_buffering"};
#define NBASE_ROUTE_KEYS (sizeof(base_route_keys) / sizeof(base_route_keys[0]))
#define MAX_ROUTE_EXTS 32

static const struct cfg_route_ext *route_exts;
static uint32_t nroute_exts;
static const char *route_keys_all[NBASE_ROUTE_KEYS + MAX_ROUTE_EXTS + 1];

void config_route_exts_set(const struct cfg_route_ext *exts, uint32_t n)
{
    if (n > MAX_ROUTE_EXTS)
        n = MAX_ROUTE_EXTS;
    route_exts = exts;
    nroute_exts = n;
    route_keys_all[0] = NULL; /* rebuilt on next use */
}

uint32_t config_route_exts_count(void)
{
    return nroute_exts;
}

static const char *const *route_keys(void)
{
    if (!route_keys_all[0]) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < NBASE_ROUTE_KEYS; i++)
            route_keys_all[k++] = base_route_keys[i];
        for (uint32_t i = 0; i < nroute_exts; i++)
            if (route_exts[i].key)
                route_keys_all[k++] = route_exts[i].key;
        route_keys_all[k] = NULL;
    }
    return route_keys_all;
}

static bool has_terminal_ext(const struct ynode *route)
{
    for (uint32_t i = 0; i < nroute_exts; i++)
        if (route_exts[i].key && route_exts[i].terminal && ymap_get(route, route_exts[i].key))
            return true;
    return false;
}

/* The document's top level, for extensions a route may inherit from it (set while the
 * routes load; main thread only, like the whole loader). */
static const struct ynode *route_defaults;

static int load_route_exts(struct ycx *cx, const struct ynode *v, uint32_t idx,
                           struct cfg_route *r)
{
    if (!nroute_exts)
        return 0;
    r->ext = calloc(nroute_exts, sizeof(*r->ext));
    if (!r->ext)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < nroute_exts; i++) {
        const struct cfg_route_ext *e = &route_exts[i];
        const struct ynode *n = e->key ? ymap_get(v, e->key) : NULL;
        char where[96];
        if (!n && e->key && e->global && route_defaults && (n = ymap_get(route_defaults, e->key)))
            snprintf(where, sizeof(where), "%s", e->key); /* every route's default */
        else if (n)
            snprintf(where, sizeof(where), "routes[%" PRIu32 "].%s", idx, e->key);
        else
            continue;
        if (e->load(cx, n, where, &r->ext[i]) != 0)
            return -1;
    }
    return 0;
}

void config_route_exts_free(struct cfg_route *r)
{
    for (uint32_t i = 0; r->ext && i < nroute_exts; i++)
        if (r->ext[i] && route_exts[i].free)
            route_exts[i].free(r->ext[i]);
    free(r->ext);
    r->ext = NULL;
}

static int load_route(struct ycx *cx, const struct ynode *v, uint32_t idx, struct config *cfg,
                      struct cfg_route *r)
{
    static const char *const tkeys[] = {"response", "total", NULL};
    const struct ynode *up, *host = NULL, *path = NULL, *m, *t;
    char where[48];

    snprintf(where, sizeof(where), "routes[%" PRIu32 "]", idx);
    if (ymap_check(cx, v, where, route_keys()) != 0)
        return -1;
    /* A route answered by a terminal module (static files) needs no upstream. */
    up = ymap_get(v, "upstream");
    if (!up && !has_terminal_ext(v) && !(up = ymap_need(cx, v, where, "upstream")))
        return -1;
    if ((up && yscalar(cx, up, "upstream") != 0) || yopt_str(cx, v, "host", &host) != 0 ||
        yopt_str(cx, v, "path", &path) != 0)
        return -1;
    for (uint32_t i = 0; up && i < cfg->nupstreams && !r->upstream; i++)
        if (strcmp(cfg->upstreams[i].name, up->str) == 0)
            r->upstream = &cfg->upstreams[i];
    if (up && !r->upstream)
        return yerr(cx, up, "unknown upstream '%.64s' (not defined in 'upstreams')", up->str);
    if ((up && ystrdup(cx, up, up->str, &r->upstream_name) != 0) ||
        (host && load_host(cx, host, &r->host) != 0) ||
        (path ? load_path(cx, path, &r->path) : ystrdup(cx, v, "/", &r->path)) != 0)
        return -1;
    if ((m = ymap_get(v, "methods")) && load_methods(cx, m, r) != 0)
        return -1;
    if ((t = ymap_get(v, "timeouts"))) {
        snprintf(where, sizeof(where), "routes[%" PRIu32 "].timeouts", idx);
        if (ymap_check(cx, t, where, tkeys) != 0 ||
            yopt_ms(cx, t, "response", &r->response_timeout_ms) != 0 ||
            yopt_ms(cx, t, "total", &r->total_timeout_ms) != 0)
            return -1;
    }
    if (config_load_route_buffering(cx, v, idx, r) != 0 ||
        config_load_route_resilience(cx, v, idx, r) != 0)
        return -1;
    return load_route_exts(cx, v, idx, r);
}

/* O(routes^2) for the clash check; a config has tens or hundreds of routes. */
const char *const *config_root_ext_keys(void)
{
    static const char *keys[MAX_ROUTE_EXTS + 1];
    uint32_t k = 0;
    for (uint32_t i = 0; i < nroute_exts; i++)
        if (route_exts[i].key && route_exts[i].global)
            keys[k++] = route_exts[i].key;
    keys[k] = NULL;
    return keys;
}

int config_load_routes(struct ycx *cx, const struct ynode *v, struct config *cfg,
                       const struct ynode *root)
{
    route_defaults = root;
    if (yexpect(cx, v, YNODE_SEQ, "routes") != 0)
        return -1;
    if (v->nitems == 0)
        return yerr(cx, v, "'routes' must list at least one route");
    cfg->routes = calloc(v->nitems, sizeof(*cfg->routes));
    if (!cfg->routes)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        cfg->nroutes = i + 1;
        if (load_route(cx, v->items[i], i, cfg, &cfg->routes[i]) != 0)
            return -1;
        for (uint32_t j = 0; j < i; j++)
            if (routes_clash(&cfg->routes[j], &cfg->routes[i]))
                return yerr(cx, v->items[i],
                            "route clashes with the one at line %" PRIu32
                            " (same host, path and a common method)",
                            v->items[j]->line);
    }
    return 0;
}

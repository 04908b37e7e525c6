/* config.c — the YAML configuration: loading, validation, the value parsers, the refcount.
 *
 * A load builds a whole struct config or nothing: every failure path frees what was built and
 * leaves one message, "file:line:column: what", in the caller's cfg_error. The finished struct
 * is never written again (workers read it without locks); sharing is by config_ref/unref.
 *
 * The top-level sections live here; the upstream groups and routes, which refer to each other,
 * are in config_upstream.c, their `health` sections in config_health.c, the resilience
 * sections (and the load-shedding keys of `limits`) in config_resilience.c. The YAML tree and
 * its typed accessors are in config_yaml.c.
 * Loading runs on the main thread; ref/unref from any thread. */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config_buffering.h"
#include "core/config_tls.h"
#include "core/config_resilience.h"
#include "core/config_state.h"
#include "core/config_yaml.h"

#define MAX_WORKERS 256
#define MAX_FILE_BYTES (16u << 20) /* a config is kilobytes; anything near this is a mistake */

/* ---- value parsers ---------------------------------------------------------------------- */

/* A number followed by a unit from `units`; every unit multiplies. Overflow is an error. */
struct unit {
    const char *suffix;
    uint64_t mult;
};

static int parse_with_unit(const char *s, const struct unit *units, uint64_t *out)
{
    const char *end;
    uint64_t v;

    if (!s || yparse_u64(s, &end, &v) != 0)
        return -1;
    for (const struct unit *u = units; u->suffix; u++) {
        if (strcmp(end, u->suffix) != 0)
            continue;
        if (v > UINT64_MAX / u->mult)
            return -1;
        *out = v * u->mult;
        return 0;
    }
    return -1;
}

int config_parse_duration_ms(const char *s, uint64_t *out_ms)
{
    static const struct unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};

    return parse_with_unit(s, units, out_ms);
}

int config_parse_size(const char *s, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1},
        {"k", 1u << 10}, {"K", 1u << 10}, {"KiB", 1u << 10},
        {"m", 1u << 20}, {"M", 1u << 20}, {"MiB", 1u << 20},
        {"g", 1u << 30}, {"G", 1u << 30}, {"GiB", 1u << 30},
        {NULL, 0}};

    return parse_with_unit(s, units, out);
}

/* On success out->text is a copy of s that the caller owns (a struct config frees it).
 * On failure *out is untouched. No name resolution ever happens here. */
int config_parse_addr(const char *s, struct cfg_addr *out, const char **why)
{
    struct sockaddr_storage sa;
    char host[INET6_ADDRSTRLEN + 1];
    const char *h, *port, *end;
    size_t hlen;
    uint64_t pnum;
    bool v6 = false;
    socklen_t salen;

    if (!s || !*s) {
        *why = "empty address";
        return -1;
    }
    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (!close) {
            *why = "missing ']' after the IPv6 address";
            return -1;
        }
        if (close[1] != ':') {
            *why = close[1] ? "expected ':' and a port after ']'" : "missing port";
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        port = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(s, ':');

        if (!colon) {
            *why = "missing port (expected host:port)";
            return -1;
        }
        if (memchr(s, ':', (size_t)(colon - s))) {
            *why = "an IPv6 address must be in brackets, as in [::1]:8080";
            return -1;
        }
        h = s;
        hlen = (size_t)(colon - s);
        port = colon + 1;
    }
    if (!*port) {
        *why = "missing port";
        return -1;
    }
    if (yparse_u64(port, &end, &pnum) != 0 || *end != '\0' || pnum < 1 || pnum > 65535) {
        *why = "the port must be a number in 1..65535";
        return -1;
    }
    if (hlen >= sizeof(host)) {
        *why = "not a numeric IP address (host names are not resolved)";
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    memset(&sa, 0, sizeof(sa));
    if (v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;

        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            *why = "invalid IPv6 address";
            return -1;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)pnum);
        salen = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;

        if (hlen == 0 || strcmp(host, "*") == 0) {
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
        } else if (strcasecmp(host, "localhost") == 0) {
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
            *why = "not a numeric IPv4 address (host names are not resolved)";
            return -1;
        }
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)pnum);
        salen = sizeof(*a4);
    }
    out->text = strdup(s);
    if (!out->text) {
        *why = "out of memory";
        return -1;
    }
    out->sa = sa;
    out->salen = salen;
    return 0;
}

/* ---- lifetime --------------------------------------------------------------------------- */

static int (*listener_rules_load)(struct ycx *cx, const struct ynode *v, const char *where,
                                  void **conf);
static void (*listener_rules_free)(void *conf);

void config_listener_rules_set(int (*load)(struct ycx *cx, const struct ynode *v,
                                           const char *where, void **conf),
                               void (*free_fn)(void *conf))
{
    listener_rules_load = load;
    listener_rules_free = free_fn;
}

static void config_free(struct config *cfg)
{
    if (cfg->tls_rt_free)
        cfg->tls_rt_free(cfg->tls_rt);
    config_state_free(&cfg->state);
    for (uint32_t i = 0; i < cfg->nlisteners; i++) {
        free(cfg->listeners[i].addr.text);
        config_tls_server_free(cfg->listeners[i].tls);
        if (cfg->listeners[i].ip_rules)
            listener_rules_free(cfg->listeners[i].ip_rules);
    }
    for (uint32_t i = 0; i < cfg->log.nmask_query; i++)
        free(cfg->log.mask_query[i]);
    free(cfg->log.mask_query);
    free(cfg->audit.path);
    free(cfg->audit.key_file);
    free(cfg->listeners);
    for (uint32_t i = 0; i < cfg->nupstreams; i++) {
        struct cfg_upstream *u = &cfg->upstreams[i];

        for (uint32_t j = 0; j < u->nservers; j++)
            free(u->servers[j].addr.text);
        free(u->servers);
        free(u->name);
        free(u->balance);
        free(u->hash_name);
        free(u->sticky_cookie);
        free(u->active.method);
        free(u->active.path);
        free(u->active.host);
        config_tls_upstream_free(u->tls);
    }
    free(cfg->upstreams);
    for (uint32_t i = 0; i < cfg->nroutes; i++) {
        struct cfg_route *r = &cfg->routes[i];

        for (uint32_t j = 0; j < r->nmethods; j++)
            free(r->methods[j]);
        free(r->methods);
        free(r->host);
        free(r->path);
        free(r->upstream_name);
        config_route_resilience_free(r);
        config_route_exts_free(r);
    }
    free(cfg->routes);
    free(cfg->buffering.temp_dir);
    free(cfg->log.access);
    free(cfg->log.error);
    free(cfg->admin.listen.text);
    free(cfg->admin.token);
    free(cfg->server_name);
    free(cfg->source);
    free(cfg);
}

void config_ref(struct config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refcnt, 1, memory_order_relaxed);
}

void config_unref(struct config *cfg)
{
    /* acq_rel: the last owner must see every other owner's reads finished before freeing. */
    if (cfg && atomic_fetch_sub_explicit(&cfg->refcnt, 1, memory_order_acq_rel) == 1)
        config_free(cfg);
}

/* ---- top-level sections ----------------------------------------------------------------- */

bool config_is_token(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
            !strchr(tchar, c))
            return false;
    }
    return true;
}

static uint32_t cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > MAX_WORKERS ? MAX_WORKERS : (uint32_t)n;
}

static int load_workers(struct ycx *cx, const struct ynode *root, struct config *cfg)
{
    const struct ynode *v = ymap_get(root, "workers");
    const char *end;
    uint64_t n;

    if (!v)
        return 0; /* the default, auto, is already resolved */
    if (yexpect(cx, v, YNODE_SCALAR, "workers") != 0)
        return -1;
    if (strcmp(v->str, "auto") == 0)
        return 0;
    if (yparse_u64(v->str, &end, &n) != 0 || *end != '\0' || n < 1 || n > MAX_WORKERS)
        return yerr(cx, v, "workers must be 'auto' or 1..%d, got '%.64s'", MAX_WORKERS, v->str);
    cfg->workers = (uint32_t)n;
    return 0;
}

static int load_server_name(struct ycx *cx, const struct ynode *root, struct config *cfg)
{
    const struct ynode *v = NULL;

    if (yopt_str(cx, root, "server_name", &v) != 0)
        return -1;
    if (!v)
        return 0;
    if (!config_is_token(v->str))
        return yerr(cx, v, "server_name '%.64s' is not a valid HTTP token", v->str);
    return ystrdup(cx, v, v->str, &cfg->server_name);
}

/* One `listen` item: "host:port" or {address: "host:port", backlog: N}. */
static int load_listener(struct ycx *cx, const struct ynode *item, uint32_t idx,
                         struct cfg_listener *l)
{
    static const char *const keys[] = {"address", "backlog", "tls", "redirect_https", "ip_rules",
                                       "http2",
                                       NULL};
    const struct ynode *addr = item;
    const char *why;
    char where[32];
    uint32_t backlog = 4096;

    if (item->kind == YNODE_MAP) {
        snprintf(where, sizeof(where), "listen[%" PRIu32 "]", idx);
        if (ymap_check(cx, item, where, keys) != 0 ||
            !(addr = ymap_need(cx, item, where, "address")) ||
            yopt_u32(cx, item, "backlog", 1, 65535, &backlog) != 0 ||
            config_load_listener_tls(cx, item, where, l) != 0 ||
            yopt_bool(cx, item, "http2", &l->http2) != 0)
            return -1;
        const struct ynode *rules = ymap_get(item, "ip_rules");
        if (rules && !listener_rules_load)
            return yerr(cx, rules, "'ip_rules' is not available in this build");
        if (rules) {
            char rw[48];
            snprintf(rw, sizeof(rw), "%s.ip_rules", where);
            if (listener_rules_load(cx, rules, rw, &l->ip_rules) != 0)
                return -1;
        }
    }
    if (addr->kind != YNODE_SCALAR)
        return yerr(cx, addr, "expected an address or a mapping in 'listen', found %s",
                    ynode_describe(addr));
    if (config_parse_addr(addr->str, &l->addr, &why) != 0)
        return yerr(cx, addr, "invalid address '%.64s': %s", addr->str, why);
    l->backlog = (int)backlog;
    return 0;
}

bool config_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b)
{
    /* Both were zeroed before being filled, so the padding compares equal too. */
    return a->salen == b->salen && memcmp(&a->sa, &b->sa, a->salen) == 0;
}

static int load_listen(struct ycx *cx, const struct ynode *v, struct config *cfg)
{
    if (yexpect(cx, v, YNODE_SEQ, "listen") != 0)
        return -1;
    if (v->nitems == 0)
        return yerr(cx, v, "'listen' must list at least one address");
    cfg->listeners = calloc(v->nitems, sizeof(*cfg->listeners));
    if (!cfg->listeners)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        cfg->nlisteners = i + 1; /* counted first: a half-loaded one is freed with the rest */
        if (load_listener(cx, v->items[i], i, &cfg->listeners[i]) != 0)
            return -1;
        for (uint32_t j = 0; j < i; j++)
            if (config_addr_equal(&cfg->listeners[j].addr, &cfg->listeners[i].addr))
                return yerr(cx, v->items[i],
                            "duplicate listen address '%.64s' (first at line %" PRIu32 ")",
                            cfg->listeners[i].addr.text, v->items[j]->line);
    }
    return 0;
}

static int load_limits(struct ycx *cx, const struct ynode *v, struct cfg_limits *lim)
{
    static const char *const keys[] = {"max_request_line", "max_header_bytes", "max_headers",
                                       "max_body", "shed_loop_lag", "shed_inflight", NULL};
    uint64_t line = 8192, head = lim->max_header_bytes;

    if (ymap_check(cx, v, "limits", keys) != 0 ||
        yopt_size(cx, v, "max_header_bytes", 1u << 10, 1u << 20, &head) != 0)
        return -1;
    /* The request line is part of the head, so its default never exceeds the head's limit. */
    if (line > head)
        line = head;
    if (yopt_size(cx, v, "max_request_line", 64, head, &line) != 0 ||
        yopt_u32(cx, v, "max_headers", 1, 128, &lim->max_headers) != 0 ||
        yopt_size(cx, v, "max_body", 0, UINT64_MAX, &lim->max_body) != 0 ||
        config_load_shedding(cx, v, lim) != 0)
        return -1;
    lim->max_header_bytes = (uint32_t)head;
    lim->max_request_line = (uint32_t)line;
    return 0;
}

static int load_http2(struct ycx *cx, const struct ynode *v, struct cfg_http2 *h)
{
    static const char *const keys[] = {"max_concurrent_streams", "stream_window", "max_resets",
                                       "max_control", NULL};
    return ymap_check(cx, v, "http2", keys) != 0 ||
                   yopt_u32(cx, v, "max_concurrent_streams", 1, 10000,
                            &h->max_concurrent_streams) != 0 ||
                   yopt_u32(cx, v, "stream_window", 16384, (1u << 31) - 1, &h->stream_window) != 0 ||
                   yopt_u32(cx, v, "max_resets", 1, 1000000, &h->max_resets) != 0 ||
                   yopt_u32(cx, v, "max_control", 10, 1000000, &h->max_control) != 0
               ? -1
               : 0;
}

static int load_timeouts(struct ycx *cx, const struct ynode *v, struct cfg_timeouts *t)
{
    static const char *const keys[] = {"client_header", "client_body", "client_send",
                                       "keepalive", "shutdown", NULL};

    if (ymap_check(cx, v, "timeouts", keys) != 0 ||
        yopt_ms(cx, v, "client_header", &t->client_header_ms) != 0 ||
        yopt_ms(cx, v, "client_body", &t->client_body_ms) != 0 ||
        yopt_ms(cx, v, "client_send", &t->client_send_ms) != 0 ||
        yopt_ms(cx, v, "keepalive", &t->keepalive_ms) != 0 ||
        yopt_ms(cx, v, "shutdown", &t->shutdown_ms) != 0)
        return -1;
    return 0;
}

/* `mask: off`, `on`, or {query: [names]} (the names replace the built-in list). */
static int load_log_mask(struct ycx *cx, const struct ynode *v, struct cfg_log *log)
{
    static const char *const keys[] = {"query", NULL};
    enum ysection_form form;
    if (ysection_form(cx, v, "log.mask", true, &form) != 0)
        return -1;
    log->mask = form != YSECTION_OFF;
    const struct ynode *q = form == YSECTION_MAP ? v : NULL;
    if (!q)
        return 0;
    if (ymap_check(cx, q, "log.mask", keys) != 0)
        return -1;
    if (!(q = ymap_get(q, "query")))
        return 0;
    if (yexpect(cx, q, YNODE_SEQ, "log.mask.query") != 0)
        return -1;
    log->mask_query = calloc(q->nitems + 1, sizeof(char *));
    if (!log->mask_query)
        return yerr(cx, q, "out of memory");
    for (uint32_t i = 0; i < q->nitems; i++, log->nmask_query++)
        if (yscalar(cx, q->items[i], "log.mask.query") != 0 ||
            ystrdup(cx, q->items[i], q->items[i]->str, &log->mask_query[i]) != 0)
            return -1;
    return 0;
}

static int load_log(struct ycx *cx, const struct ynode *v, struct cfg_log *log)
{
    static const char *const keys[] = {"level", "access", "error", "mask", NULL};
    static const char *const levels[] = {
        [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error"};
    const struct ynode *level = NULL, *access = NULL, *error = NULL;

    if (ymap_check(cx, v, "log", keys) != 0 || yopt_str(cx, v, "level", &level) != 0 ||
        yopt_str(cx, v, "access", &access) != 0 || yopt_str(cx, v, "error", &error) != 0)
        return -1;
    if (level) {
        size_t i = 0;

        while (i < sizeof(levels) / sizeof(levels[0]) && strcmp(levels[i], level->str) != 0)
            i++;
        if (i == sizeof(levels) / sizeof(levels[0]))
            return yerr(cx, level,
                        "unknown log level '%.64s' (expected one of: debug, info, warn, error)",
                        level->str);
        log->level = (enum log_level)i;
    }
    if (access && strcmp(access->str, "off") != 0 &&
        ystrdup(cx, access, access->str, &log->access) != 0)
        return -1;
    if (error) {
        if (strcmp(error->str, "off") == 0 || strcmp(error->str, "stdout") == 0)
            return yerr(cx, error, "'error' must be 'stderr' or a file path, got '%s'",
                        error->str);
        if (ystrdup(cx, error, error->str, &log->error) != 0)
            return -1;
    }
    const struct ynode *mask = ymap_get(v, "mask");
    return mask ? load_log_mask(cx, mask, log) : 0;
}

/* `audit_log: PATH` or {path: PATH, key_file: FILE, successes: BOOL}. */
static int load_audit(struct ycx *cx, const struct ynode *v, struct cfg_audit *a)
{
    static const char *const keys[] = {"path", "key_file", "successes", NULL};
    const struct ynode *path = v, *key = NULL;
    if (v->kind == YNODE_MAP &&
        (ymap_check(cx, v, "audit_log", keys) != 0 || !(path = ymap_need(cx, v, "audit_log", "path")) ||
         yopt_str(cx, v, "key_file", &key) != 0 || yopt_bool(cx, v, "successes", &a->successes) != 0))
        return -1;
    if (yscalar(cx, path, "audit_log") != 0)
        return -1;
    if (strcmp(path->str, "off") == 0)
        return 0;
    if (strcmp(path->str, "stdout") == 0)
        return yerr(cx, path, "'audit_log' must be 'stderr' or a file path");
    if (ystrdup(cx, path, path->str, &a->path) != 0 ||
        (key && ystrdup(cx, key, key->str, &a->key_file) != 0))
        return -1;
    return 0;
}

/* `admin: off`, or {listen: address, token: secret}. Writing the section makes the listen
 * address explicit: failing to bind it is then fatal rather than a warning. */
static int load_admin(struct ycx *cx, const struct ynode *v, struct config *cfg)
{
    static const char *const keys[] = {"listen", "token", NULL};
    struct cfg_admin *adm = &cfg->admin;
    const struct ynode *listen = NULL, *token = NULL;
    const char *why;

    adm->explicit_listen = true;
    if (v->kind == YNODE_SCALAR && strcmp(v->str, "off") == 0) {
        adm->enabled = false;
        return 0;
    }
    if (v->kind != YNODE_MAP)
        return yerr(cx, v, "expected 'off' or a mapping for 'admin', found %s",
                    ynode_describe(v));
    if (ymap_check(cx, v, "admin", keys) != 0 || yopt_str(cx, v, "listen", &listen) != 0 ||
        yopt_str(cx, v, "token", &token) != 0)
        return -1;
    if (listen) {
        struct cfg_addr addr;

        memset(&addr, 0, sizeof(addr));
        if (config_parse_addr(listen->str, &addr, &why) != 0)
            return yerr(cx, listen, "invalid address '%.64s': %s", listen->str, why);
        free(adm->listen.text);
        adm->listen = addr;
        for (uint32_t i = 0; i < cfg->nlisteners; i++)
            if (config_addr_equal(&cfg->listeners[i].addr, &adm->listen))
                return yerr(cx, listen, "admin listen address '%.64s' is also in 'listen'",
                            listen->str);
    }
    if (token) {
        size_t n = strlen(token->str);

        for (const char *p = token->str; *p; p++)
            if (*p < 0x21 || *p > 0x7e)
                n = 0;
        if (n < 1 || n > 256)
            return yerr(cx, token,
                        "'token' must be 1 to 256 visible ASCII characters, without spaces");
        if (ystrdup(cx, token, token->str, &adm->token) != 0)
            return -1;
    }
    return 0;
}

/* ---- loading ---------------------------------------------------------------------------- */

static struct config *config_new(const char *source)
{
    struct config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg)
        return NULL;
    atomic_init(&cfg->refcnt, 1);
    cfg->workers = cpu_count();
    cfg->limits = (struct cfg_limits){.max_request_line = 8192,
                                      .max_header_bytes = 16384,
                                      .max_headers = 100,
                                      .max_body = 0,
                                      .shed_loop_lag_ms = 500,
                                      .shed_inflight = 0};
    cfg->timeouts = (struct cfg_timeouts){.client_header_ms = 10000,
                                          .client_body_ms = 60000,
                                          .client_send_ms = 60000,
                                          .keepalive_ms = 75000,
                                          .shutdown_ms = 30000};
    cfg->http2 = (struct cfg_http2){.max_concurrent_streams = 100,
                                    .stream_window = 65535,
                                    .max_resets = 200,
                                    .max_control = 1000};
    cfg->log.level = LOG_INFO;
    cfg->log.mask = true;
    cfg->metrics = true;
    cfg->source = strdup(source);
    cfg->server_name = strdup("weir");
    cfg->log.error = strdup("stderr");
    cfg->admin.enabled = true;
    config_state_defaults(&cfg->state);
    if (!cfg->source || !cfg->server_name || !cfg->log.error ||
        config_buffering_defaults(&cfg->buffering) != 0 ||
        config_parse_addr("127.0.0.1:9901", &cfg->admin.listen, &(const char *){NULL}) != 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int load_root(struct ycx *cx, const struct ynode *root, struct config *cfg)
{
    static const char *const base[] = {"workers", "server_name", "metrics", "listen", "limits",
                                       "timeouts", "buffering", "log", "admin", "upstreams",
                                       "routes", "audit_log", "state", "http2"};
    const char *keys[sizeof(base) / sizeof(base[0]) + 33];
    uint32_t nk = 0;
    for (; nk < sizeof(base) / sizeof(base[0]); nk++)
        keys[nk] = base[nk];
    for (const char *const *e = config_root_ext_keys(); *e && nk < sizeof(keys) / sizeof(keys[0]) - 1; e++)
        keys[nk++] = *e;
    keys[nk] = NULL;
    const struct ynode *listen, *upstreams, *routes, *v;

    if (strcmp(ynode_describe(root), "an empty value") == 0)
        return yerr(cx, root, "empty document");
    if (ymap_check(cx, root, "", keys) != 0 || !(listen = ymap_need(cx, root, "", "listen")) ||
        !(routes = ymap_need(cx, root, "", "routes")))
        return -1;
    if (load_workers(cx, root, cfg) != 0 || load_server_name(cx, root, cfg) != 0 ||
        yopt_bool(cx, root, "metrics", &cfg->metrics) != 0 || load_listen(cx, listen, cfg) != 0)
        return -1;
    if ((v = ymap_get(root, "limits")) && load_limits(cx, v, &cfg->limits) != 0)
        return -1;
    if ((v = ymap_get(root, "timeouts")) && load_timeouts(cx, v, &cfg->timeouts) != 0)
        return -1;
    if ((v = ymap_get(root, "http2")) && load_http2(cx, v, &cfg->http2) != 0)
        return -1;
    if ((v = ymap_get(root, "buffering")) && config_load_buffering(cx, v, &cfg->buffering) != 0)
        return -1;
    if ((v = ymap_get(root, "log")) && load_log(cx, v, &cfg->log) != 0)
        return -1;
    if ((v = ymap_get(root, "admin")) && load_admin(cx, v, cfg) != 0)
        return -1;
    if ((v = ymap_get(root, "audit_log")) && load_audit(cx, v, &cfg->audit) != 0)
        return -1;
    if ((v = ymap_get(root, "state")) && config_load_state(cx, v, &cfg->state) != 0)
        return -1;
    /* Groups first: routes point into cfg->upstreams, which never moves afterwards. */
    /* Optional: a gateway that only serves files has no upstream. */
    if ((upstreams = ymap_get(root, "upstreams")) && config_load_upstreams(cx, upstreams, cfg) != 0)
        return -1;
    if (config_load_routes(cx, routes, cfg, root) != 0)
        return -1;
    return 0;
}

struct config *config_load_buffer(const char *text, size_t len, const char *name,
                                  struct cfg_error *err)
{
    struct ycx cx = {.name = name, .err = err};
    struct config *cfg;
    struct ynode *root;

    err->msg[0] = '\0';
    root = ytree_parse(&cx, text, len);
    if (!root)
        return NULL;
    cfg = config_new(name);
    if (!cfg) {
        yerr(&cx, NULL, "out of memory");
    } else if (load_root(&cx, root, cfg) != 0) {
        config_free(cfg);
        cfg = NULL;
    }
    ynode_free(root);
    return cfg;
}

struct config *config_load_file(const char *path, struct cfg_error *err)
{
    struct ycx cx = {.name = path, .err = err};
    struct config *cfg = NULL;
    struct stat st;
    char *text = NULL;
    size_t len = 0, cap;
    int fd;

    err->msg[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        yerr(&cx, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == -1) {
        yerr(&cx, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        yerr(&cx, NULL, "cannot read: %s", strerror(EISDIR));
        goto out;
    }
    /* Read to EOF rather than trusting st_size (pipes and /proc files report 0); the +1 lets
     * a file of the announced size hit EOF without growing the buffer. */
    cap = st.st_size > 0 && st.st_size < MAX_FILE_BYTES ? (size_t)st.st_size + 1 : 4096;
    for (;;) {
        ssize_t n;

        if (len == cap) {
            char *grown;

            if (cap >= MAX_FILE_BYTES) {
                yerr(&cx, NULL, "file larger than %u bytes", MAX_FILE_BYTES);
                goto out;
            }
            cap = cap > MAX_FILE_BYTES / 2 ? MAX_FILE_BYTES : cap * 2;
            grown = realloc(text, cap);
            if (!grown) {
                yerr(&cx, NULL, "out of memory");
                goto out;
            }
            text = grown;
        } else if (!text && !(text = malloc(cap))) {
            yerr(&cx, NULL, "out of memory");
            goto out;
        }
        n = read(fd, text + len, cap - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            yerr(&cx, NULL, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    cfg = config_load_buffer(text, len, path, err);
out:
    free(text);
    close(fd);
    return cfg;
}

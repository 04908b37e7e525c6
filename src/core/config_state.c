/* config_state.c — see config_state.h. */
#include "core/config_state.h"

#include "core/config_tls.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[] = {
    [CFG_STORE_LOCAL] = "local", [CFG_STORE_OPEN] = "open", [CFG_STORE_CLOSED] = "closed"};

const char *config_store_error_name(enum cfg_store_error e)
{
    return (unsigned)e < sizeof(error_names) / sizeof(error_names[0]) ? error_names[e] : "?";
}

void config_state_defaults(struct cfg_state *st)
{
    *st = (struct cfg_state){
        .backend = CFG_STATE_MEMORY,
        .connect_timeout_ms = 1000,
        .command_timeout_ms = 50,
        .pool_size = 1,
        .reconnect_min_ms = 100,
        .reconnect_max_ms = 5000,
        .rate_limit_on_error = CFG_STORE_LOCAL,
        .idempotency_on_error = CFG_STORE_CLOSED,
        .waiting_room_on_error = CFG_STORE_LOCAL,
        .purge_broadcast = true,
        .breaker_broadcast = true,
    };
}

void config_state_free(struct cfg_state *st)
{
    for (uint32_t i = 0; i < st->naddrs; i++) {
        free(st->addrs[i].text);
        free(st->addrs[i].host);
        free(st->addrs[i].unix_path);
    }
    free(st->addrs);
    st->addrs = NULL;
    st->naddrs = 0;
    free(st->user);
    free(st->password);
    free(st->prefix);
    st->user = st->password = st->prefix = NULL;
    config_tls_upstream_free(st->tls);
    st->tls = NULL;
}

static int opt_policy(struct ycx *cx, const struct ynode *map, const char *key,
                      enum cfg_store_error *out)
{
    const struct ynode *v = NULL;
    if (yopt_str(cx, map, key, &v) != 0)
        return -1;
    if (!v)
        return 0;
    for (unsigned i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
        if (strcmp(v->str, error_names[i]) == 0) {
            *out = (enum cfg_store_error)i;
            return 0;
        }
    return yerr(cx, v, "'%s' must be local, open or closed, got '%.64s'", key, v->str);
}

static int load_policies(struct ycx *cx, const struct ynode *v, struct cfg_state *st)
{
    static const char *const keys[] = {"rate_limit", "idempotency", "waiting_room", NULL};
    if (ymap_check(cx, v, "state.on_store_error", keys) != 0 ||
        opt_policy(cx, v, "rate_limit", &st->rate_limit_on_error) != 0 ||
        opt_policy(cx, v, "idempotency", &st->idempotency_on_error) != 0 ||
        opt_policy(cx, v, "waiting_room", &st->waiting_room_on_error) != 0)
        return -1;
    return 0;
}

/* "ip:port", "[v6]:port", "localhost:port" or "/unix/path". */
static int load_address(struct ycx *cx, const struct ynode *v, struct cfg_state_addr *a)
{
    if (yscalar(cx, v, "address") != 0 || ystrdup(cx, v, v->str, &a->text) != 0)
        return -1;
    if (v->str[0] == '/')
        return ystrdup(cx, v, v->str, &a->unix_path);
    const char *colon = strrchr(v->str, ':');
    uint64_t port;
    const char *end;
    if (!colon || colon == v->str || yparse_u64(colon + 1, &end, &port) != 0 || *end ||
        port == 0 || port > 65535)
        return yerr(cx, v, "'address' must be host:port or an absolute unix socket path, got "
                    "'%.64s'", v->str);
    const char *h = v->str;
    size_t hlen = (size_t)(colon - h);
    if (h[0] == '[' && hlen > 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    a->host = hlen == 9 && memcmp(h, "localhost", 9) == 0 ? strdup("127.0.0.1") : strndup(h, hlen);
    if (!a->host)
        return yerr(cx, v, "out of memory");
    /* A name would be resolved by hiredis with a blocking getaddrinfo on every (re)connect,
     * in a worker: weir never blocks a worker on DNS. */
    unsigned char bin[16];
    if (inet_pton(AF_INET, a->host, bin) != 1 && inet_pton(AF_INET6, a->host, bin) != 1)
        return yerr(cx, v, "'address' must be a numeric IP (or localhost) and a port, or a unix "
                    "socket path, got '%.64s'", v->str);
    a->port = (uint16_t)port;
    return 0;
}

/* `address: x` or `addresses: [x, y, ...]` (one of them): the servers, in the order tried. */
static int load_addresses(struct ycx *cx, const struct ynode *v, struct cfg_state *st)
{
    const struct ynode *one = ymap_get(v, "address"), *list = ymap_get(v, "addresses");
    if (one && list)
        return yerr(cx, list, "give 'address' or 'addresses', not both");
    if (!one && !list)
        return 0;
    if (list && yexpect(cx, list, YNODE_SEQ, "addresses") != 0)
        return -1;
    uint32_t n = one ? 1 : list->nitems;
    if (n == 0 || n > CFG_STATE_ADDRS_MAX)
        return yerr(cx, list, "'addresses' needs 1 to %u entries", CFG_STATE_ADDRS_MAX);
    if (!(st->addrs = calloc(n, sizeof(*st->addrs))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const struct ynode *item = one ? one : list->items[i];
        st->naddrs = i + 1; /* what config_state_free frees */
        if (load_address(cx, item, &st->addrs[i]) != 0)
            return -1;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(st->addrs[j].text, st->addrs[i].text) == 0)
                return yerr(cx, item, "'%.64s' is in 'addresses' twice", item->str);
    }
    return 0;
}

static int opt_strdup(struct ycx *cx, const struct ynode *map, const char *key, char **out)
{
    const struct ynode *v = NULL;
    if (yopt_str(cx, map, key, &v) != 0)
        return -1;
    return v ? ystrdup(cx, v, v->str, out) : 0;
}

int config_load_state(struct ycx *cx, const struct ynode *v, struct cfg_state *st)
{
    static const char *const keys[] = {
        "backend", "address", "addresses", "db", "user", "password", "prefix", "connect_timeout",
        "command_timeout", "pool_size", "tls", "reconnect_min", "reconnect_max",
        "on_store_error", "broadcast_purges", "broadcast_breaker", NULL};
    const struct ynode *b = NULL, *p;

    if (ymap_check(cx, v, "state", keys) != 0 || yopt_str(cx, v, "backend", &b) != 0)
        return -1;
    if (b && strcmp(b->str, "redis") == 0)
        st->backend = CFG_STATE_REDIS;
    else if (b && strcmp(b->str, "memory") != 0)
        return yerr(cx, b, "'backend' must be memory or redis, got '%.64s'", b->str);
    if (load_addresses(cx, v, st) != 0)
        return -1;
    if (yopt_u32(cx, v, "db", 0, 15, &st->db) != 0 || opt_strdup(cx, v, "user", &st->user) != 0 ||
        opt_strdup(cx, v, "password", &st->password) != 0 ||
        opt_strdup(cx, v, "prefix", &st->prefix) != 0 ||
        yopt_ms(cx, v, "connect_timeout", &st->connect_timeout_ms) != 0 ||
        yopt_ms(cx, v, "command_timeout", &st->command_timeout_ms) != 0 ||
        yopt_u32(cx, v, "pool_size", 1, CFG_STATE_POOL_MAX, &st->pool_size) != 0 ||
        config_load_client_tls(cx, v, "state", &st->tls) != 0 ||
        yopt_ms(cx, v, "reconnect_min", &st->reconnect_min_ms) != 0 ||
        yopt_ms(cx, v, "reconnect_max", &st->reconnect_max_ms) != 0 ||
        yopt_bool(cx, v, "broadcast_purges", &st->purge_broadcast) != 0 ||
        yopt_bool(cx, v, "broadcast_breaker", &st->breaker_broadcast) != 0)
        return -1;
    if ((p = ymap_get(v, "on_store_error")) && load_policies(cx, p, st) != 0)
        return -1;
    for (uint32_t i = 0; st->tls && i < st->naddrs; i++)
        if (st->addrs[i].unix_path)
            return yerr(cx, ymap_get(v, "tls"), "'tls' needs host:port addresses, not a unix "
                        "socket path");
    if (st->prefix && (strchr(st->prefix, '{') || strchr(st->prefix, '}')))
        return yerr(cx, ymap_get(v, "prefix"), "'prefix' must not contain '{' or '}' (weir "
                    "adds the hash tags)");
    if (!st->prefix && !(st->prefix = strdup("weir")))
        return yerr(cx, v, "out of memory");
    if (st->reconnect_max_ms < st->reconnect_min_ms)
        return yerr(cx, v, "'reconnect_max' is below 'reconnect_min'");
    if (st->backend == CFG_STATE_REDIS && !st->naddrs)
        return yerr(cx, v, "backend redis needs 'address' (or 'addresses')");
    return 0;
}

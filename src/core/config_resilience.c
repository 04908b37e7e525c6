/* config_resilience.c — the resilience settings of the configuration: an upstream group's
 * `retry`, `circuit_breaker` and `concurrency`, a route's `rate_limit` and `idempotency`, and
 * the load-shedding keys of `limits` (see docs/config.md, "Resilience").
 *
 * Part of the loader: main thread only. Defaults are stored before anything is read, so a
 * group or route without these sections still has every field set; every error leaves what
 * was allocated in the route for config_free. */
#include "core/config_resilience.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS (3600u * 1000u)
#define DAY_MS (24u * HOUR_MS)
#define IDEMPOTENCY_TTL_MAX_MS (168u * HOUR_MS) /* a week */
#define SHED_LAG_MAX_MS 60000u
#define BIG_COUNT 1000000u                      /* rates, bursts, limits, queues */
#define MAX_SIZE (1ull << 30)                   /* buffered bodies */

/* An optional duration within min_ms..max_ms (max_ms < 2^32); `range` words the bounds. */
static int opt_ms_in(struct ycx *cx, const struct ynode *map, const char *key, uint64_t min_ms,
                     uint64_t max_ms, const char *range, uint32_t *out)
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
    if (ms < min_ms || ms > max_ms)
        return yerr(cx, v, "'%s' must be %s, got '%.64s'", key, range, v->str);
    *out = (uint32_t)ms;
    return 0;
}

/* An optional percentage, "20%" or "20", within min..max. */
static int opt_pct(struct ycx *cx, const struct ynode *map, const char *key, uint32_t min,
                   uint32_t max, uint32_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    const char *end;
    uint64_t x;

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (yparse_u64(v->str, &end, &x) != 0 || (*end == '%' ? end[1] != '\0' : *end != '\0') ||
        x < min || x > max)
        return yerr(cx, v,
                    "'%s' must be a percentage in %" PRIu32 "..%" PRIu32
                    " (as 50%% or 50), got '%.64s'",
                    key, min, max, v->str);
    *out = (uint32_t)x;
    return 0;
}

/* "a > b" errors point at a's value when it was written, else at b's. */
static const struct ynode *either(const struct ynode *map, const char *a, const char *b)
{
    const struct ynode *v = ymap_get(map, a);

    return v ? v : ymap_get(map, b);
}

/* ---- retry ------------------------------------------------------------------------------ */

static int load_statuses(struct ycx *cx, const struct ynode *v, struct cfg_retry *r)
{
    if (yexpect(cx, v, YNODE_SEQ, "on_status") != 0)
        return -1;
    memset(r->statuses_mask, 0, sizeof(r->statuses_mask));
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *s = v->items[i];
        const char *end;
        uint64_t x;
        uint32_t bit;

        if (yscalar(cx, s, "on_status") != 0)
            return -1;
        if (yparse_u64(s->str, &end, &x) != 0 || *end != '\0' || x < 500 || x > 599)
            return yerr(cx, s, "invalid status '%.64s' in 'on_status' (expected 500..599)",
                        s->str);
        bit = (uint32_t)(x - 500);
        if (r->statuses_mask[bit / 32] & (1u << (bit % 32)))
            return yerr(cx, s, "duplicate status %" PRIu64 " in 'on_status'", x);
        r->statuses_mask[bit / 32] |= 1u << (bit % 32);
    }
    return 0;
}

static int load_backoff(struct ycx *cx, const struct ynode *v, const char *group,
                        struct cfg_retry *r)
{
    static const char *const keys[] = {"base", "max", NULL};
    char where[112];

    snprintf(where, sizeof(where), "upstreams.%.64s.retry.backoff", group);
    if (ymap_check(cx, v, where, keys) != 0 ||
        opt_ms_in(cx, v, "base", 0, DAY_MS - 1, "0 or less than 24h", &r->backoff_base_ms) != 0 ||
        opt_ms_in(cx, v, "max", 0, DAY_MS - 1, "0 or less than 24h", &r->backoff_max_ms) != 0)
        return -1;
    if (r->backoff_base_ms > r->backoff_max_ms)
        return yerr(cx, either(v, "base", "max"),
                    "'base' (%" PRIu32 "ms) must not be more than 'max' (%" PRIu32 "ms)",
                    r->backoff_base_ms, r->backoff_max_ms);
    return 0;
}

static int load_budget(struct ycx *cx, const struct ynode *v, const char *group,
                       struct cfg_retry *r)
{
    static const char *const keys[] = {"ratio", "window", "min_per_second", NULL};
    char where[112];

    snprintf(where, sizeof(where), "upstreams.%.64s.retry.budget", group);
    if (ymap_check(cx, v, where, keys) != 0 ||
        opt_pct(cx, v, "ratio", 0, 100, &r->budget_ratio_pct) != 0 ||
        opt_ms_in(cx, v, "window", 1000, 64000, "1s..64s", &r->budget_window_ms) != 0 ||
        yopt_u32(cx, v, "min_per_second", 0, 10000, &r->budget_min_per_s) != 0)
        return -1;
    if (r->budget_window_ms % 1000 != 0) {
        const struct ynode *w = ymap_get(v, "window");

        return yerr(cx, w, "'window' must be a whole number of seconds, got '%.64s'", w->str);
    }
    return 0;
}

static int load_retry(struct ycx *cx, const struct ynode *v, const char *group,
                      struct cfg_retry *r)
{
    static const char *const keys[] = {"attempts",         "backoff",    "on_status",
                                       "on_connect_error", "on_timeout", "max_body",
                                       "budget",           NULL};
    enum ysection_form form;
    const struct ynode *t;
    char where[112];

    snprintf(where, sizeof(where), "upstreams.%.64s.retry", group);
    if (ysection_form(cx, v, where, false, &form) != 0)
        return -1;
    if (form == YSECTION_OFF) {
        r->attempts = 1;
        return 0;
    }
    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_u32(cx, v, "attempts", 1, 10, &r->attempts) != 0 ||
        yopt_bool(cx, v, "on_connect_error", &r->on_connect_error) != 0 ||
        yopt_bool(cx, v, "on_timeout", &r->on_timeout) != 0 ||
        yopt_size(cx, v, "max_body", 0, MAX_SIZE, &r->max_body) != 0)
        return -1;
    if ((t = ymap_get(v, "on_status")) && load_statuses(cx, t, r) != 0)
        return -1;
    if ((t = ymap_get(v, "backoff")) && load_backoff(cx, t, group, r) != 0)
        return -1;
    if ((t = ymap_get(v, "budget")) && load_budget(cx, t, group, r) != 0)
        return -1;
    return 0;
}

/* ---- circuit breaker -------------------------------------------------------------------- */

static int load_failure_on(struct ycx *cx, const struct ynode *v, struct cfg_breaker *b)
{
    static const char *const names[] = {"connect_error", "timeout", "4xx", "5xx"};
    unsigned seen = 0;

    if (yexpect(cx, v, YNODE_SEQ, "failure_on") != 0)
        return -1;
    b->on_connect_error = false;
    b->on_timeout = false;
    b->status_classes = 0;
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *s = v->items[i];
        unsigned k = 0;

        if (yscalar(cx, s, "failure_on") != 0)
            return -1;
        while (k < 4 && strcmp(names[k], s->str) != 0)
            k++;
        if (k == 4)
            return yerr(cx, s,
                        "unknown failure '%.64s' in 'failure_on' (expected any of: "
                        "connect_error, timeout, 4xx, 5xx)",
                        s->str);
        if (seen & (1u << k))
            return yerr(cx, s, "duplicate '%s' in 'failure_on'", names[k]);
        seen |= 1u << k;
        if (k == 0)
            b->on_connect_error = true;
        else if (k == 1)
            b->on_timeout = true;
        else
            b->status_classes |= (uint8_t)(1u << (k + 2)); /* 4xx: bit 4, 5xx: bit 5 */
    }
    return 0;
}

/* `window` first: the range and the default of `size` depend on it. */
static int load_breaker_window(struct ycx *cx, const struct ynode *v, struct cfg_breaker *b)
{
    const struct ynode *w = NULL, *size = ymap_get(v, "size");
    uint32_t max;
    const char *end;
    uint64_t x;

    if (yopt_str(cx, v, "window", &w) != 0)
        return -1;
    if (w && strcmp(w->str, "time") == 0)
        b->window = CFG_BREAKER_TIME;
    else if (w && strcmp(w->str, "count") != 0)
        return yerr(cx, w, "invalid window '%.64s' (expected count or time)", w->str);
    max = b->window == CFG_BREAKER_TIME ? 3600 : 10000;
    b->window_size = b->window == CFG_BREAKER_TIME ? 60 : 100;
    if (!size)
        return 0;
    if (yscalar(cx, size, "size") != 0)
        return -1;
    if (yparse_u64(size->str, &end, &x) != 0 || *end != '\0' || x < 1 || x > max)
        return yerr(cx, size,
                    "'size' must be an integer in 1..%" PRIu32 " (%s, with window: %s), "
                    "got '%.64s'",
                    max, b->window == CFG_BREAKER_TIME ? "seconds" : "calls",
                    b->window == CFG_BREAKER_TIME ? "time" : "count", size->str);
    b->window_size = (uint32_t)x;
    return 0;
}

static int load_breaker(struct ycx *cx, const struct ynode *v, const char *group,
                        struct cfg_breaker *b)
{
    static const char *const keys[] = {"window",     "size",     "min_calls",  "failure_rate",
                                       "slow_rate",  "slow_call", "open",      "half_open_calls",
                                       "failure_on", "per_server", NULL};
    const struct ynode *min_calls, *t;
    enum ysection_form form;
    char where[112];

    snprintf(where, sizeof(where), "upstreams.%.64s.circuit_breaker", group);
    if (ysection_form(cx, v, where, true, &form) != 0)
        return -1;
    b->enabled = form != YSECTION_OFF;
    if (form != YSECTION_MAP)
        return 0;
    if (ymap_check(cx, v, where, keys) != 0 || load_breaker_window(cx, v, b) != 0 ||
        yopt_u32(cx, v, "min_calls", 1, BIG_COUNT, &b->min_calls) != 0 ||
        opt_pct(cx, v, "failure_rate", 1, 100, &b->failure_rate_pct) != 0 ||
        opt_pct(cx, v, "slow_rate", 1, 100, &b->slow_rate_pct) != 0 ||
        yopt_ms(cx, v, "slow_call", &b->slow_call_ms) != 0 ||
        yopt_ms(cx, v, "open", &b->open_ms) != 0 ||
        yopt_u32(cx, v, "half_open_calls", 1, 1000, &b->half_open_calls) != 0 ||
        yopt_bool(cx, v, "per_server", &b->per_server) != 0)
        return -1;
    if ((t = ymap_get(v, "failure_on")) && load_failure_on(cx, t, b) != 0)
        return -1;
    /* A count window never holds more than `size` calls: a larger min_calls could never be
     * reached. Left out, it follows a small window down. */
    if (b->window == CFG_BREAKER_COUNT && b->min_calls > b->window_size) {
        if (!(min_calls = ymap_get(v, "min_calls"))) {
            b->min_calls = b->window_size;
            return 0;
        }
        return yerr(cx, min_calls,
                    "'min_calls' (%" PRIu32 ") must not be more than 'size' (%" PRIu32
                    ") with window: count",
                    b->min_calls, b->window_size);
    }
    return 0;
}

/* ---- concurrency ------------------------------------------------------------------------ */

static int load_concurrency(struct ycx *cx, const struct ynode *v, const char *group,
                            struct cfg_concurrency *c)
{
    static const char *const keys[] = {"max",      "queue",     "queue_timeout",
                                       "adaptive", "min_limit", "max_limit", NULL};
    char where[112];

    snprintf(where, sizeof(where), "upstreams.%.64s.concurrency", group);
    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_u32(cx, v, "max", 0, BIG_COUNT, &c->max) != 0 ||
        yopt_u32(cx, v, "queue", 0, BIG_COUNT, &c->queue) != 0 ||
        yopt_ms(cx, v, "queue_timeout", &c->queue_timeout_ms) != 0 ||
        yopt_bool(cx, v, "adaptive", &c->adaptive) != 0 ||
        yopt_u32(cx, v, "min_limit", 1, BIG_COUNT, &c->min_limit) != 0 ||
        yopt_u32(cx, v, "max_limit", 1, BIG_COUNT, &c->max_limit) != 0)
        return -1;
    if (c->min_limit > c->max_limit)
        return yerr(cx, either(v, "min_limit", "max_limit"),
                    "'min_limit' (%" PRIu32 ") must not be more than 'max_limit' (%" PRIu32 ")",
                    c->min_limit, c->max_limit);
    return 0;
}

int config_load_group_resilience(struct ycx *cx, const struct ynode *group,
                                 struct cfg_upstream *u)
{
    const struct ynode *v;

    u->retry = (struct cfg_retry){.attempts = 2,
                                  .backoff_base_ms = 25,
                                  .backoff_max_ms = 1000,
                                  .statuses_mask = {(1u << 2) | (1u << 3) | (1u << 4)},
                                  .on_connect_error = true,
                                  .on_timeout = true,
                                  .max_body = 64u << 10,
                                  .budget_ratio_pct = 20,
                                  .budget_window_ms = 10000,
                                  .budget_min_per_s = 3};
    u->breaker = (struct cfg_breaker){.window = CFG_BREAKER_COUNT,
                                      .window_size = 100,
                                      .min_calls = 20,
                                      .failure_rate_pct = 50,
                                      .slow_rate_pct = 100,
                                      .slow_call_ms = 5000,
                                      .open_ms = 30000,
                                      .half_open_calls = 5,
                                      .on_connect_error = true,
                                      .on_timeout = true,
                                      .status_classes = 1u << 5,
                                      .per_server = true};
    u->concurrency = (struct cfg_concurrency){
        .queue_timeout_ms = 1000, .min_limit = 1, .max_limit = 1000};
    if ((v = ymap_get(group, "retry")) && load_retry(cx, v, u->name, &u->retry) != 0)
        return -1;
    if ((v = ymap_get(group, "circuit_breaker")) && load_breaker(cx, v, u->name, &u->breaker) != 0)
        return -1;
    if ((v = ymap_get(group, "concurrency")) &&
        load_concurrency(cx, v, u->name, &u->concurrency) != 0)
        return -1;
    return 0;
}

/* ---- rate limit ------------------------------------------------------------------------- */

/* "100/s", "600/m", "1000/h". */
static int load_rate_short(struct ycx *cx, const struct ynode *v, struct cfg_ratelimit *rl)
{
    const char *end;
    uint64_t rate;

    if (yparse_u64(v->str, &end, &rate) != 0 || end[0] != '/' ||
        !(end[1] == 's' || end[1] == 'm' || end[1] == 'h') || end[2] != '\0')
        return yerr(cx, v,
                    "invalid rate limit '%.64s' (use e.g. 100/s, 600/m or 1000/h, a mapping, "
                    "or off)",
                    v->str);
    if (rate < 1 || rate > BIG_COUNT)
        return yerr(cx, v, "invalid rate limit '%.64s': the rate must be 1..%u", v->str,
                    BIG_COUNT);
    rl->rate = (uint32_t)rate;
    rl->period_ms = end[1] == 's' ? 1000 : end[1] == 'm' ? 60000 : HOUR_MS;
    return 0;
}

/* `key: client_ip | client | route | header:NAME`. */
static int load_rate_key(struct ycx *cx, const struct ynode *v, struct cfg_ratelimit *rl)
{
    const char *name;

    if (strcmp(v->str, "client_ip") == 0) {
        rl->key = CFG_RL_CLIENT_IP;
        return 0;
    }
    if (strcmp(v->str, "route") == 0) {
        rl->key = CFG_RL_ROUTE;
        return 0;
    }
    if (strcmp(v->str, "client") == 0) {
        rl->key = CFG_RL_CLIENT;
        return 0;
    }
    if (strncmp(v->str, "header:", 7) != 0)
        return yerr(cx, v, "invalid key '%.64s' (expected client_ip, client, route or header:NAME)",
                    v->str);
    name = v->str + 7;
    if (!*name)
        return yerr(cx, v, "invalid key '%.64s': the header name is missing", v->str);
    if (!config_is_token(name))
        return yerr(cx, v, "invalid key '%.64s': '%.64s' is not a valid header name", v->str,
                    name);
    rl->key = CFG_RL_HEADER;
    return ystrdup(cx, v, name, &rl->header);
}

static int load_ratelimit(struct ycx *cx, const struct ynode *v, uint32_t idx,
                          struct cfg_ratelimit *rl)
{
    static const char *const keys[] = {"rate", "per", "burst", "key", "max_keys", NULL};
    const struct ynode *key = NULL;
    char where[48];

    snprintf(where, sizeof(where), "routes[%" PRIu32 "].rate_limit", idx);
    if (v->kind == YNODE_SCALAR && strcmp(v->str, "off") == 0)
        return 0;
    if (v->kind == YNODE_SCALAR && strcmp(ynode_describe(v), "a scalar") == 0) {
        if (load_rate_short(cx, v, rl) != 0)
            return -1;
        rl->enabled = true;
        return 0;
    }
    if (v->kind != YNODE_MAP)
        return yerr(cx, v, "expected a rate (as 100/s), a mapping or 'off' for '%s', found %s",
                    where, ynode_describe(v));
    if (ymap_check(cx, v, where, keys) != 0 || !ymap_need(cx, v, where, "rate") ||
        yopt_u32(cx, v, "rate", 1, BIG_COUNT, &rl->rate) != 0 ||
        yopt_ms(cx, v, "per", &rl->period_ms) != 0 ||
        yopt_u32(cx, v, "burst", 0, BIG_COUNT, &rl->burst) != 0 ||
        yopt_u32(cx, v, "max_keys", 1, 10u * BIG_COUNT, &rl->max_keys) != 0 ||
        yopt_str(cx, v, "key", &key) != 0)
        return -1;
    /* The limiter spaces requests period / rate apart, counted in microseconds. */
    if ((uint64_t)rl->period_ms * 1000 < rl->rate)
        return yerr(cx, ymap_get(v, "rate"),
                    "a rate of %" PRIu32 " per %" PRIu32 "ms is more than one request per "
                    "microsecond",
                    rl->rate, rl->period_ms);
    if (key && load_rate_key(cx, key, rl) != 0)
        return -1;
    rl->enabled = true;
    return 0;
}

/* ---- idempotency ------------------------------------------------------------------------ */

static int load_idempotency(struct ycx *cx, const struct ynode *v, uint32_t idx,
                            struct cfg_idempotency *id)
{
    static const char *const keys[] = {"header", "ttl", "max_body", "wait", "max_entries",
                                       NULL};
    const struct ynode *header = NULL;
    enum ysection_form form;
    char where[48];

    snprintf(where, sizeof(where), "routes[%" PRIu32 "].idempotency", idx);
    if (ysection_form(cx, v, where, true, &form) != 0)
        return -1;
    id->enabled = form != YSECTION_OFF;
    if (form != YSECTION_MAP)
        return 0;
    if (ymap_check(cx, v, where, keys) != 0 || yopt_str(cx, v, "header", &header) != 0 ||
        opt_ms_in(cx, v, "ttl", 1, IDEMPOTENCY_TTL_MAX_MS, "more than 0 and at most 168h",
                  &id->ttl_ms) != 0 ||
        yopt_size(cx, v, "max_body", 0, MAX_SIZE, &id->max_body) != 0 ||
        opt_ms_in(cx, v, "wait", 0, DAY_MS - 1, "0 or less than 24h", &id->wait_ms) != 0 ||
        yopt_u32(cx, v, "max_entries", 1, 10u * BIG_COUNT, &id->max_entries) != 0)
        return -1;
    if (header) {
        if (!config_is_token(header->str))
            return yerr(cx, header, "invalid header name '%.64s': not an HTTP token",
                        header->str);
        if (ystrdup(cx, header, header->str, &id->header) != 0)
            return -1;
    }
    return 0;
}

int config_load_route_resilience(struct ycx *cx, const struct ynode *route, uint32_t idx,
                                 struct cfg_route *r)
{
    const struct ynode *v;

    r->ratelimit = (struct cfg_ratelimit){
        .key = CFG_RL_CLIENT_IP, .period_ms = 1000, .max_keys = 100000};
    r->idempotency = (struct cfg_idempotency){
        .ttl_ms = DAY_MS, .max_body = 1u << 20, .wait_ms = 5000, .max_entries = 10000};
    if (ystrdup(cx, route, "Idempotency-Key", &r->idempotency.header) != 0)
        return -1;
    if ((v = ymap_get(route, "rate_limit")) && load_ratelimit(cx, v, idx, &r->ratelimit) != 0)
        return -1;
    if ((v = ymap_get(route, "idempotency")) &&
        load_idempotency(cx, v, idx, &r->idempotency) != 0)
        return -1;
    return 0;
}

void config_route_resilience_free(struct cfg_route *r)
{
    free(r->ratelimit.header);
    free(r->idempotency.header);
}

/* ---- load shedding ---------------------------------------------------------------------- */

int config_load_shedding(struct ycx *cx, const struct ynode *limits, struct cfg_limits *lim)
{
    const struct ynode *lag = ymap_get(limits, "shed_loop_lag");

    if (lag && lag->kind == YNODE_SCALAR && strcmp(lag->str, "off") == 0)
        lim->shed_loop_lag_ms = 0;
    else if (opt_ms_in(cx, limits, "shed_loop_lag", 0, SHED_LAG_MAX_MS, "0 (off) or up to 60s",
                       &lim->shed_loop_lag_ms) != 0)
        return -1;
    return yopt_u32(cx, limits, "shed_inflight", 0, UINT32_MAX, &lim->shed_inflight);
}

/* config_health.c — the `health` section of an upstream group: active checks (weir probes each
 * server on a timer) and passive ones (weir counts failures of real requests).
 *
 * Part of the loader: main thread only; every error leaves what was allocated in the group for
 * config_free. */
#include "core/config_health.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* `off`, or a mapping: 1 for a mapping, 0 for off, -1 on anything else. */
static int map_or_off(struct ycx *cx, const struct ynode *v, const char *where)
{
    if (v->kind == YNODE_SCALAR && strcmp(v->str, "off") == 0)
        return 0;
    if (v->kind == YNODE_MAP)
        return 1;
    return yerr(cx, v, "expected a mapping or 'off' for '%s', found %s", where,
                ynode_describe(v));
}

/* "200", "200-399" or "2xx" into lo..hi, all within 100..599. */
static int load_expect(struct ycx *cx, const struct ynode *v, struct cfg_health_active *a)
{
    const char *s = v->str, *end;
    uint64_t lo, hi;

    if (v->len == 3 && s[0] >= '1' && s[0] <= '5' && tolower((unsigned char)s[1]) == 'x' &&
        tolower((unsigned char)s[2]) == 'x') {
        lo = (uint64_t)(s[0] - '0') * 100;
        hi = lo + 99;
    } else {
        if (yparse_u64(s, &end, &lo) != 0)
            goto syntax;
        hi = lo;
        if (*end == '-' && yparse_u64(end + 1, &end, &hi) != 0)
            goto syntax;
        if (*end != '\0')
            goto syntax;
    }
    if (lo < 100 || hi > 599 || lo > 599 || hi < 100)
        return yerr(cx, v, "invalid expect '%.64s': statuses are 100..599", s);
    if (lo > hi)
        return yerr(cx, v, "invalid expect '%.64s': %" PRIu64 " is more than %" PRIu64, s, lo,
                    hi);
    a->status_min = (uint16_t)lo;
    a->status_max = (uint16_t)hi;
    return 0;
syntax:
    return yerr(cx, v, "invalid expect '%.64s' (use a status like 200, a range like 200-399 "
                       "or a class like 2xx)",
                s);
}

/* A Host header value: a name or an IPv4 address, or a bracketed IPv6 address, then an
 * optional ":port". */
static int check_host(struct ycx *cx, const struct ynode *v)
{
    const char *s = v->str, *p = s, *end;
    uint64_t port;

    if (*p == '[') {
        struct in6_addr a6;
        char buf[INET6_ADDRSTRLEN + 1];
        const char *close = strchr(p, ']');
        size_t n = close ? (size_t)(close - p - 1) : 0;

        if (!close || n == 0 || n >= sizeof(buf))
            return yerr(cx, v, "invalid host '%.64s': expected an IPv6 address in brackets", s);
        memcpy(buf, p + 1, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return yerr(cx, v, "invalid host '%.64s': not an IPv6 address", s);
        p = close + 1;
    } else {
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_')
            p++;
        if (p == s)
            return yerr(cx, v, "invalid host '%.64s': empty host name", s);
    }
    if (*p == ':') {
        if (yparse_u64(p + 1, &end, &port) != 0 || *end != '\0' || port < 1 || port > 65535)
            return yerr(cx, v, "invalid host '%.64s': the port must be a number in 1..65535", s);
    } else if (*p != '\0') {
        return yerr(cx, v, "invalid host '%.64s': unexpected character '%c'", s, *p);
    }
    return 0;
}

static int load_active(struct ycx *cx, const struct ynode *v, const char *where,
                       struct cfg_health_active *a)
{
    static const char *const keys[] = {"interval", "timeout", "method", "path", "host",
                                       "expect",   "rise",    "fall",   NULL};
    const struct ynode *method = NULL, *path = NULL, *host = NULL, *expect = NULL;

    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_ms(cx, v, "interval", &a->interval_ms) != 0 ||
        yopt_ms(cx, v, "timeout", &a->timeout_ms) != 0 || yopt_str(cx, v, "method", &method) != 0 ||
        yopt_str(cx, v, "path", &path) != 0 || yopt_str(cx, v, "host", &host) != 0 ||
        yopt_str(cx, v, "expect", &expect) != 0 || yopt_u32(cx, v, "rise", 1, 100, &a->rise) != 0 ||
        yopt_u32(cx, v, "fall", 1, 100, &a->fall) != 0)
        return -1;
    if (a->timeout_ms >= a->interval_ms) {
        const struct ynode *at = ymap_get(v, "timeout");

        return yerr(cx, at ? at : ymap_get(v, "interval"),
                    "'timeout' must be less than 'interval' (%" PRIu32 "ms >= %" PRIu32 "ms)",
                    a->timeout_ms, a->interval_ms);
    }
    if (method) {
        if (!config_is_token(method->str))
            return yerr(cx, method, "invalid method '%.64s': not an HTTP token", method->str);
        for (const char *p = method->str; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                return yerr(cx, method, "invalid method '%.64s': methods are upper-case",
                            method->str);
        if (ystrdup(cx, method, method->str, &a->method) != 0)
            return -1;
    }
    if (path) {
        if (path->str[0] != '/')
            return yerr(cx, path, "invalid path '%.64s': must start with '/'", path->str);
        for (const char *p = path->str; *p; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '#')
                return yerr(cx, path,
                            "invalid path '%.64s': no spaces, control or non-ASCII characters, "
                            "or '#'",
                            path->str);
        if (ystrdup(cx, path, path->str, &a->path) != 0)
            return -1;
    }
    if (host && (check_host(cx, host) != 0 || ystrdup(cx, host, host->str, &a->host) != 0))
        return -1;
    if (expect && load_expect(cx, expect, a) != 0)
        return -1;
    a->enabled = true;
    return 0;
}

static int load_passive(struct ycx *cx, const struct ynode *v, const char *where,
                        struct cfg_health_passive *p)
{
    static const char *const keys[] = {"failures", "window", "cooldown", "on_5xx", NULL};

    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_u32(cx, v, "failures", 1, 1000, &p->failures) != 0 ||
        yopt_ms(cx, v, "window", &p->window_ms) != 0 ||
        yopt_ms(cx, v, "cooldown", &p->cooldown_ms) != 0 ||
        yopt_bool(cx, v, "on_5xx", &p->on_5xx) != 0)
        return -1;
    return 0;
}

int config_load_health(struct ycx *cx, const struct ynode *group, struct cfg_upstream *u)
{
    static const char *const keys[] = {"active", "passive", NULL};
    const struct ynode *h = ymap_get(group, "health"), *v;
    char where[112];
    int on;

    u->active = (struct cfg_health_active){
        .interval_ms = 2000, .timeout_ms = 1000, .status_min = 200, .status_max = 399,
        .rise = 2, .fall = 3};
    u->passive = (struct cfg_health_passive){
        .enabled = true, .failures = 5, .window_ms = 10000, .cooldown_ms = 10000};
    if (ystrdup(cx, group, "GET", &u->active.method) != 0 ||
        ystrdup(cx, group, "/", &u->active.path) != 0)
        return -1;
    if (!h)
        return 0;
    snprintf(where, sizeof(where), "upstreams.%.64s.health", u->name);
    if (ymap_check(cx, h, where, keys) != 0)
        return -1;
    if ((v = ymap_get(h, "active"))) {
        snprintf(where, sizeof(where), "upstreams.%.64s.health.active", u->name);
        if ((on = map_or_off(cx, v, where)) < 0 ||
            (on && load_active(cx, v, where, &u->active) != 0))
            return -1;
    }
    if ((v = ymap_get(h, "passive"))) {
        snprintf(where, sizeof(where), "upstreams.%.64s.health.passive", u->name);
        if ((on = map_or_off(cx, v, where)) < 0 ||
            (on && load_passive(cx, v, where, &u->passive) != 0))
            return -1;
        u->passive.enabled = on == 1;
    }
    return 0;
}

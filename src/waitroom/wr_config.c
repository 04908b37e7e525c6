/* wr_config.c — the `waiting_room:` section of a route (see wr_config.h). Part of the config
 * loader: main thread only; every error names the value at fault (file:line:col). */
#include "waitroom/wr_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/config_yaml.h"
#include "waitroom/wr_cookie.h"


static const char *const room_keys[] = {
    "name", "max_active", "admit_per_minute", "session", "queueing", "status", "refresh",
    "abandon_after", "secret", "page", "event", "bypass", "rate_window", NULL};

void wr_config_free(void *conf)
{
    struct wr_conf *c = conf;
    if (!c)
        return;
    if (c->secret)
        memset(c->secret, 0, c->secret_len);
    free(c->secret);
    wr_mac_free(c->mac);
    free(c->page);
    for (uint32_t i = 0; i < c->nbypass; i++) {
        free(c->bypass[i].header);
        free(c->bypass[i].value);
        free(c->bypass[i].path);
    }
    free(c->bypass);
    free(c);
}

/* A file's text without its trailing newlines (a key or secret file). */
static int read_trimmed(struct ycx *cx, const struct ynode *n, const char *path, char **out,
                        size_t *len)
{
    if (yread_file(cx, n, path, out, len) != 0)
        return -1;
    while (*len && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r'))
        (*len)--;
    return 0;
}

/* A secret written inline or as ${file:/path} (trailing newlines dropped). */
static int load_secret_text(struct ycx *cx, const struct ynode *n, const char *what,
                            uint8_t **out, size_t *len)
{
    if (yscalar(cx, n, what) != 0)
        return -1;
    char *buf;
    size_t blen;
    if (!strncmp(n->str, "${file:", 7) && n->len > 8 && n->str[n->len - 1] == '}') {
        char path[4096];
        snprintf(path, sizeof(path), "%.*s", (int)(n->len - 8), n->str + 7);
        if (read_trimmed(cx, n, path, &buf, &blen) != 0)
            return -1;
    } else {
        blen = n->len;
        buf = malloc(blen + 1);
        if (!buf)
            return yerr(cx, n, "out of memory");
        memcpy(buf, n->str, blen);
    }
    *out = (uint8_t *)buf;
    *len = blen;
    return 0;
}

/* RFC 3339 in UTC: 2026-12-24T20:00:00Z. */
static int load_time(struct ycx *cx, const struct ynode *map, const char *key, int64_t *out)
{
    const struct ynode *n = NULL;
    if (yopt_str(cx, map, key, &n) != 0)
        return -1;
    if (!n)
        return 0;
    struct tm tm = {0};
    const char *end = strptime(n->str, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || strcmp(end, "Z") != 0)
        return yerr(cx, n, "'%s' must be a UTC time like 2026-12-24T20:00:00Z", key);
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
}

static int load_event(struct ycx *cx, const struct ynode *v, struct wr_conf *c)
{
    static const char *const keys[] = {"prequeue_start", "start", "end", NULL};
    if (ymap_check(cx, v, "waiting_room.event", keys) != 0)
        return -1;
    if (!ymap_need(cx, v, "waiting_room.event", "start") ||
        !ymap_need(cx, v, "waiting_room.event", "end"))
        return -1;
    c->event = true;
    c->prequeue_ms = INT64_MIN;
    if (load_time(cx, v, "prequeue_start", &c->prequeue_ms) != 0 ||
        load_time(cx, v, "start", &c->start_ms) != 0 || load_time(cx, v, "end", &c->end_ms) != 0)
        return -1;
    if (c->end_ms <= c->start_ms)
        return yerr(cx, ymap_get(v, "end"), "'end' must be after 'start'");
    if (c->prequeue_ms != INT64_MIN && c->prequeue_ms > c->start_ms)
        return yerr(cx, ymap_get(v, "prequeue_start"), "'prequeue_start' must not be after 'start'");
    return 0;
}

static int load_cidr(struct ycx *cx, const struct ynode *n, struct wr_bypass *b)
{
    if (yscalar(cx, n, "cidr") != 0)
        return -1;
    char buf[64];
    const char *slash = strchr(n->str, '/');
    size_t alen = slash ? (size_t)(slash - n->str) : n->len;
    if (alen >= sizeof(buf))
        return yerr(cx, n, "'%s' is not an address or CIDR block", n->str);
    memcpy(buf, n->str, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, b->addr) == 1)
        b->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, b->addr) == 1)
        b->family = AF_INET6;
    else
        return yerr(cx, n, "'%s' is not an address or CIDR block", n->str);
    uint32_t bits = b->family == AF_INET ? 32 : 128;
    b->prefix = bits;
    if (slash) {
        char *e;
        errno = 0;
        unsigned long v = strtoul(slash + 1, &e, 10);
        if (e == slash + 1 || *e || errno || v > bits)
            return yerr(cx, n, "'%s' has a bad prefix length", n->str);
        b->prefix = (uint32_t)v;
    }
    b->kind = WR_BYPASS_CIDR;
    return 0;
}

static int load_bypass_item(struct ycx *cx, const struct ynode *it, struct wr_bypass *b)
{
    static const char *const keys[] = {"header", "value", "value_file", "cidr", "path", NULL};
    if (yexpect(cx, it, YNODE_MAP, "a waiting_room.bypass entry") != 0 ||
        ymap_check(cx, it, "waiting_room.bypass", keys) != 0)
        return -1;
    const struct ynode *h = ymap_get(it, "header"), *cidr = ymap_get(it, "cidr"),
                       *path = ymap_get(it, "path");
    if ((h != NULL) + (cidr != NULL) + (path != NULL) != 1)
        return yerr(cx, it, "a bypass entry has exactly one of 'header', 'cidr', 'path'");
    if (cidr)
        return load_cidr(cx, cidr, b);
    if (path) {
        if (yscalar(cx, path, "path") != 0 || path->str[0] != '/')
            return yerr(cx, path, "'path' must start with '/'");
        b->kind = WR_BYPASS_PATH;
        return ystrdup(cx, path, path->str, &b->path);
    }
    if (yscalar(cx, h, "header") != 0)
        return -1;
    if (!config_is_token(h->str))
        return yerr(cx, h, "'%s' is not a header name", h->str);
    b->kind = WR_BYPASS_HEADER;
    if (ystrdup(cx, h, h->str, &b->header) != 0)
        return -1;
    const struct ynode *val = ymap_get(it, "value"), *vf = ymap_get(it, "value_file");
    if ((val != NULL) == (vf != NULL))
        return yerr(cx, it, "a header bypass needs one of 'value' or 'value_file'");
    if (val)
        return load_secret_text(cx, val, "value", &b->value, &b->value_len);
    if (yscalar(cx, vf, "value_file") != 0)
        return -1;
    char *buf;
    if (read_trimmed(cx, vf, vf->str, &buf, &b->value_len) != 0)
        return -1;
    b->value = (uint8_t *)buf;
    if (!b->value_len)
        return yerr(cx, vf, "'%s' is empty", vf->str);
    return 0;
}

static int load_bypass(struct ycx *cx, const struct ynode *v, struct wr_conf *c)
{
    if (yexpect(cx, v, YNODE_SEQ, "waiting_room.bypass") != 0)
        return -1;
    if (v->nitems > 64)
        return yerr(cx, v, "'bypass' has more than 64 entries");
    c->bypass = calloc(v->nitems ? v->nitems : 1, sizeof(*c->bypass));
    if (!c->bypass)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        c->nbypass = i + 1;
        if (load_bypass_item(cx, v->items[i], &c->bypass[i]) != 0)
            return -1;
    }
    return 0;
}

static int load_map(struct ycx *cx, const struct ynode *v, const char *where, struct wr_conf *c)
{
    if (ymap_check(cx, v, where, room_keys) != 0)
        return -1;
    const struct ynode *n = ymap_need(cx, v, where, "name");
    if (!n || yscalar(cx, n, "name") != 0)
        return -1;
    if (n->len > WR_NAME_MAX || strspn(n->str, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n->len)
        return yerr(cx, n, "'name' must be 1 to %d of [a-z0-9_-]", WR_NAME_MAX);
    memcpy(c->name, n->str, n->len + 1);
    if (yopt_u32(cx, v, "max_active", 1, 10000000, &c->max_active) != 0)
        return -1;
    const struct ynode *apm = ymap_get(v, "admit_per_minute");
    if (apm && apm->kind == YNODE_SCALAR && !strcmp(apm->str, "auto"))
        c->apm_auto = true;
    else if (yopt_u32(cx, v, "admit_per_minute", 1, 10000000, &c->admit_per_minute) != 0)
        return -1;
    if (!apm)
        c->admit_per_minute = c->max_active < 300 ? c->max_active : 300;
    if (c->apm_auto)
        c->admit_per_minute = c->max_active;
    else if (c->admit_per_minute > c->max_active)
        return yerr(cx, apm, "'admit_per_minute' (%u) must not exceed 'max_active' (%u)",
                    c->admit_per_minute, c->max_active);
    if (yopt_ms(cx, v, "session", &c->session_ms) != 0 ||
        yopt_ms(cx, v, "refresh", &c->refresh_ms) != 0 ||
        yopt_ms(cx, v, "abandon_after", &c->abandon_ms) != 0 ||
        yopt_ms(cx, v, "rate_window", &c->window_ms) != 0)
        return -1;
    if (c->window_ms < 1000 || c->window_ms > 60000)
        return yerr(cx, ymap_get(v, "rate_window"), "'rate_window' must be 1s to 60s");
    if (c->refresh_ms < 1000)
        return yerr(cx, ymap_get(v, "refresh"), "'refresh' must be at least 1s");
    if (c->abandon_ms < 2 * c->refresh_ms)
        return yerr(cx, ymap_get(v, "abandon_after") ? ymap_get(v, "abandon_after") : v,
                    "'abandon_after' must be at least twice 'refresh'");
    const struct ynode *q = NULL;
    if (yopt_str(cx, v, "queueing", &q) != 0)
        return -1;
    if (q) {
        static const char *const modes[] = {"fifo", "random", "passthrough", "reject"};
        int m = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(q->str, modes[i]))
                m = i;
        if (m < 0)
            return yerr(cx, q, "'queueing' must be fifo, random, passthrough or reject");
        c->queueing = (enum wr_mode)m;
    }
    uint32_t st = c->status;
    if (yopt_u32(cx, v, "status", 200, 429, &st) != 0)
        return -1;
    if (st != 200 && st != 202 && st != 429)
        return yerr(cx, ymap_get(v, "status"), "'status' must be 200, 202 or 429");
    c->status = (uint16_t)st;
    const struct ynode *sec = ymap_need(cx, v, where, "secret");
    if (!sec || load_secret_text(cx, sec, "secret", &c->secret, &c->secret_len) != 0)
        return -1;
    if (c->secret_len < 32)
        return yerr(cx, sec, "'secret' must be at least 32 bytes (it has %zu)", c->secret_len);
    if (!(c->mac = wr_mac_new(c->secret, c->secret_len)))
        return yerr(cx, sec, "cannot set up HMAC-SHA256 (OpenSSL)");
    const struct ynode *page = NULL;
    if (yopt_str(cx, v, "page", &page) != 0 ||
        (page && yread_file(cx, page, page->str, &c->page, &c->page_len) != 0))
        return -1;
    const struct ynode *ev = ymap_get(v, "event");
    if (ev && (yexpect(cx, ev, YNODE_MAP, "waiting_room.event") != 0 || load_event(cx, ev, c) != 0))
        return -1;
    const struct ynode *bp = ymap_get(v, "bypass");
    if (bp && load_bypass(cx, bp, c) != 0)
        return -1;
    return 0;
}

int wr_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    if (yexpect(cx, v, YNODE_MAP, where) != 0)
        return -1;
    struct wr_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    *c = (struct wr_conf){.max_active = 500, .session_ms = 300000, .refresh_ms = 20000,
                          .abandon_ms = 60000, .window_ms = 60000, .queueing = WR_FIFO, .status = 200};
    if (load_map(cx, v, where, c) != 0) {
        wr_config_free(c);
        return -1;
    }
    *conf = c;
    return 0;
}

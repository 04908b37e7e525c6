/* abnormal.c — see abnormal.h. Per request: one kv check (the penalty) and one hit per path
 * rule; per response one hit per status rule that matches.
 *
 * Two links share one `abnormal:` conf: abnormal_watch_module (before authentication) checks the
 * penalty of the client address and counts the statuses of the responses that the modules
 * between them (the authentication ones) made, which abnormal_module (after them, where the
 * subject is known) never sees; abnormal_module checks a subject's penalty and counts the
 * rest. */
#include "security/abnormal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/hash.h"
#include "core/config_types.h"
#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "security/audit.h"
#include "security/sec_common.h"
#include "security/sec_kv.h"

#define AB_MAX_RULES 8
#define AB_MAX_STATUSES 8
#define AB_KEY_MAX 320
#define PENALTY "abnormal access: try again later"

struct ab_rule {
    uint16_t statuses[AB_MAX_STATUSES];
    uint32_t nstatuses;          /* 0: a same_path rule */
    uint32_t max, window_ms;
};

struct ab_conf {
    struct ab_rule rules[AB_MAX_RULES];
    uint32_t nrules;
    uint32_t penalty_ms;
    uint16_t status;
    char *zone;
};

struct ab_ctx {
    struct sec_kv_wait w;
    bool checked;
    char key[AB_KEY_MAX];        /* abnormal|<zone>|<client> */
    size_t key_len;
};

static void ab_free(void *conf)
{
    struct ab_conf *c = conf;
    if (c)
        free(c->zone);
    free(c);
}

static int load_rule(struct ycx *cx, const struct ynode *v, struct ab_rule *r)
{
    static const char *const keys[] = {"status", "same_path", "max", "window", NULL};
    if (yexpect(cx, v, YNODE_MAP, "an abnormal.rules entry") != 0 ||
        ymap_check(cx, v, "abnormal.rules", keys) != 0)
        return -1;
    const struct ynode *st = ymap_get(v, "status");
    bool same = false;
    r->window_ms = 60000;
    if (yopt_bool(cx, v, "same_path", &same) != 0 ||
        !ymap_need(cx, v, "abnormal.rules", "max") ||
        yopt_u32(cx, v, "max", 1, 10000000, &r->max) != 0 || yopt_ms(cx, v, "window", &r->window_ms) != 0)
        return -1;
    if ((st != NULL) == same)
        return yerr(cx, v, "a rule has either 'status' or 'same_path: true'");
    if (!st)
        return 0;
    return sec_statuses_load(cx, st, "status", r->statuses, AB_MAX_STATUSES, &r->nstatuses);
}

static int ab_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"rules", "penalty", "status", "zone", NULL};
    if (yexpect(cx, v, YNODE_MAP, where) != 0 || ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct ab_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    c->penalty_ms = 300000;
    uint32_t status = 429;
    const struct ynode *rules = ymap_need(cx, v, where, "rules");
    if (!rules || yexpect(cx, rules, YNODE_SEQ, "rules") != 0 ||
        yopt_ms(cx, v, "penalty", &c->penalty_ms) != 0 ||
        yopt_u32(cx, v, "status", 400, 599, &status) != 0 || sec_zone_load(cx, v, &c->zone) != 0)
        goto fail;
    if (status != 429 && status != 403) {
        yerr(cx, ymap_get(v, "status"), "'status' is 429 or 403");
        goto fail;
    }
    c->status = (uint16_t)status;
    if (rules->nitems == 0 || rules->nitems > AB_MAX_RULES) {
        yerr(cx, rules, "'rules' lists 1 to %d rules", AB_MAX_RULES);
        goto fail;
    }
    for (uint32_t i = 0; i < rules->nitems; i++, c->nrules++)
        if (load_rule(cx, rules->items[i], &c->rules[i]) != 0)
            goto fail;
    *conf = c;
    return 0;
fail:
    ab_free(c);
    return -1;
}

/* Counts one event for rule i under `sub` (a path hash or 0); locks the client over max. */
static bool count(struct exchange *x, struct ab_ctx *ctx, const struct ab_conf *c, uint32_t i,
                  uint64_t sub, uint64_t now)
{
    struct sec_kv *s = x->link->shared;
    const struct ab_rule *r = &c->rules[i];
    char k[AB_KEY_MAX + 40];
    char tag[2 + 16] = {'r', (char)('0' + i)};
    for (int d = 0; d < 16; d++)
        tag[2 + d] = "0123456789abcdef"[(sub >> (60 - 4 * d)) & 15];
    struct str parts[] = {str_from(ctx->key, ctx->key_len), str_from(tag, sub ? 18 : 2)};
    size_t n = sec_kv_key(k, sizeof(k), parts, 2);
    struct kv_rule over = {.count = r->max + 1, .base_ms = c->penalty_ms,
                           .max_ms = c->penalty_ms};
    if (!kv_hit_lock(s->ops, s->st, str_from(k, n), str_from(ctx->key, ctx->key_len), 0, now,
                     r->window_ms, &over, NULL))
        return false;
    char rule[32], d[64];
    snprintf(rule, sizeof(rule), "abnormal.rules[%u]", i);
    snprintf(d, sizeof(d), "over %u in %u ms: penalty %u s", r->max, r->window_ms,
             (c->penalty_ms + 999) / 1000);
    audit_emit_exchange(x, "penalty", rule, d);
    return true;
}

/* The client's key, and its penalty looked up when `check` (else the watch link did it: the
 * address's). NEXT, WAIT for the kv store, or the refusal. */
static enum pipeline_verdict check_penalty(struct exchange *x, struct ab_ctx *ctx,
                                           const struct ab_conf *c, bool check, uint64_t now)
{
    if (!ctx->checked) {
        struct str who = str_cstr(x->client_id ? x->client_id
                                  : x->client_ip  ? x->client_ip
                                                  : "");
        struct str parts[] = {STR_LIT("abnormal"), str_cstr(c->zone ? c->zone : x->route->path),
                              x->client_id ? STR_LIT("sub") : STR_LIT("ip"),
                              str_from(who.ptr, who.len > 200 ? 200 : who.len)};
        ctx->key_len = sec_kv_key(ctx->key, sizeof(ctx->key), parts, 4);
        ctx->checked = true;
        if (check && !sec_kv_check(x->link->shared, &ctx->w, x,
                                   str_from(ctx->key, ctx->key_len), now))
            return PIPELINE_WAIT;
    }
    if (ctx->w.call.until_ms > now)
        return sec_refuse(x, c->status, PENALTY, ctx->w.call.until_ms, now);
    return PIPELINE_NEXT;
}

static enum pipeline_verdict ab_request(struct exchange *x, void *vctx)
{
    struct ab_ctx *ctx = vctx;
    const struct ab_conf *c = x->link->conf;
    uint64_t now = x->worker->loop->now_ms;
    enum pipeline_verdict v = check_penalty(x, ctx, c, x->client_id != NULL, now);
    if (v != PIPELINE_NEXT)
        return v;
    struct str path = x->req->target;
    const char *q = memchr(path.ptr, '?', path.len);
    if (q)
        path.len = (size_t)(q - path.ptr);
    uint64_t ph = 0;
    for (uint32_t i = 0; i < c->nrules; i++) {
        if (c->rules[i].nstatuses)
            continue;
        if (!ph)
            ph = lb_hash64(path.ptr, path.len, 0xab) | 1;
        if (count(x, ctx, c, i, ph, now))
            return sec_refuse(x, c->status, PENALTY, now + c->penalty_ms, now);
    }
    return PIPELINE_NEXT;
}

/* The conf of the route's abnormal_module link (the watch link has none of its own). */
static const struct ab_conf *watch_conf(const struct exchange *x)
{
    for (uint32_t i = 0; i < x->chain->n; i++)
        if (x->chain->links[i].m == &abnormal_module)
            return x->chain->links[i].conf;
    return NULL;
}

static const struct ab_conf *link_conf(const struct exchange *x)
{
    return x->link->m == &abnormal_module ? x->link->conf : watch_conf(x);
}

static void ab_response_head(struct exchange *x, void *vctx, struct response *r)
{
    struct ab_ctx *ctx = vctx;
    const struct ab_conf *c = link_conf(x);
    if (!ctx->key_len || !c || (x->has_reply && x->replier && r == &x->reply &&
                                (x->chain->links[x->replier - 1].m == &abnormal_module ||
                                 x->chain->links[x->replier - 1].m == &abnormal_watch_module)))
        return; /* a penalty is not counted again */
    if (x->link->m == &abnormal_watch_module && pipeline_ctx(x, &abnormal_module))
        return; /* abnormal_module ran: it counts this response */
    uint64_t now = x->worker->loop->now_ms;
    for (uint32_t i = 0; i < c->nrules; i++)
        for (uint32_t j = 0; j < c->rules[i].nstatuses; j++)
            if (c->rules[i].statuses[j] == r->status) {
                if (count(x, ctx, c, i, 0, now))
                    return;
                break;
            }
}

static void ab_end(struct exchange *x, void *vctx)
{
    struct ab_ctx *ctx = vctx;
    sec_kv_cancel(x->link->shared, &ctx->w);
}

static enum pipeline_verdict watch_request(struct exchange *x, void *vctx)
{
    const struct ab_conf *c = watch_conf(x);
    return c ? check_penalty(x, vctx, c, true, x->worker->loop->now_ms) : PIPELINE_NEXT;
}

static bool watch_enabled(const struct config *cfg, const struct cfg_route *route)
{
    (void)cfg;
    const struct pipeline_registry *reg = pipeline_registry();
    for (uint32_t i = 0; reg && i < reg->n && i < PIPELINE_REGISTRY_MAX; i++)
        if (reg->modules[i] == &abnormal_module)
            return route->ext[i] != NULL;
    return false;
}

const struct pipeline_module abnormal_watch_module = {
    .name = "abnormal_watch",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct ab_ctx),
    .enabled = watch_enabled,
    .shared_get = sec_shared_get,
    .shared_put = sec_shared_put,
    .on_request = watch_request,
    .on_response_head = ab_response_head,
    .on_end = ab_end,
};

const struct pipeline_module abnormal_module = {
    .name = "abnormal",
    .key = "abnormal",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct ab_ctx),
    .config_load = ab_load,
    .config_free = ab_free,
    .shared_get = sec_shared_get,
    .shared_put = sec_shared_put,
    .on_request = ab_request,
    .on_response_head = ab_response_head,
    .on_end = ab_end,
};

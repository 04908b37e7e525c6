/* lockout.c — see lockout.h. State in the security modules' kv store (sec_kv.h). Per request: at most two kv checks (address, account) and, on the response, at most
 * two hits; no lock is held across hooks. */
#include "security/lockout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/hash.h"
#include "core/config_types.h"
#include "core/config_yaml.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "security/audit.h"
#include "security/sec_common.h"
#include "security/sec_kv.h"

#define LO_MAX_STATUSES 8
#define LO_KEY_MAX 320

enum lo_source { LO_NONE = 0, LO_JSON, LO_FORM, LO_HEADER };

struct lo_conf {
    enum lo_source source;
    char *field;
    uint16_t statuses[LO_MAX_STATUSES];
    uint32_t nstatuses;
    uint32_t max_failures, window_ms, lock_ms, max_lock_ms;
    uint32_t account_failures, account_ips;
    bool doubling;
    uint16_t status;
    char *zone;
};

enum lo_step { STEP_BODY = 0, STEP_IP, STEP_ACCOUNT, STEP_DONE };

struct lo_ctx {
    struct sec_kv_wait w;
    uint8_t step;
    uint64_t until_ms;           /* the lock that refuses this request */
    char ipkey[LO_KEY_MAX], acctkey[LO_KEY_MAX];
    size_t ipkey_len, acctkey_len; /* acctkey_len 0: no account */
};

/* ---- config -------------------------------------------------------------------------------- */

static void lo_free(void *conf)
{
    struct lo_conf *c = conf;
    if (!c)
        return;
    free(c->field);
    free(c->zone);
    free(c);
}

static int load_account(struct ycx *cx, const struct ynode *v, struct lo_conf *c)
{
    static const char *const keys[] = {"json", "form", "header", NULL};
    if (yexpect(cx, v, YNODE_MAP, "lockout.account") != 0 ||
        ymap_check(cx, v, "lockout.account", keys) != 0)
        return -1;
    if (v->nitems != 2)
        return yerr(cx, v, "'lockout.account' takes one of 'json', 'form' or 'header'");
    const struct ynode *k = v->items[0], *val = v->items[1];
    if (yscalar(cx, val, k->str) != 0)
        return -1;
    c->source = strcmp(k->str, "json") == 0 ? LO_JSON : strcmp(k->str, "form") == 0 ? LO_FORM
                                                                                    : LO_HEADER;
    if (c->source == LO_HEADER && !config_is_token(val->str))
        return yerr(cx, val, "'%.64s' is not a header name", val->str);
    return ystrdup(cx, val, val->str, &c->field);
}

static int lo_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"account", "failure_status", "max_failures", "window",
                                       "lock", "max_lock", "doubling", "account_failures",
                                       "account_ips", "status", "zone", NULL};
    if (yexpect(cx, v, YNODE_MAP, where) != 0 || ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct lo_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    *c = (struct lo_conf){.statuses = {401, 403}, .nstatuses = 2, .max_failures = 5,
                          .window_ms = 300000, .lock_ms = 900000, .max_lock_ms = 86400000 - 1,
                          .doubling = true, .account_failures = 10, .account_ips = 3,
                          .status = 429};
    uint32_t status = 429;
    const struct ynode *a = ymap_get(v, "account"), *fs = ymap_get(v, "failure_status");
    if ((a && load_account(cx, a, c) != 0) ||
        (fs && sec_statuses_load(cx, fs, "failure_status", c->statuses, LO_MAX_STATUSES,
                                 &c->nstatuses) != 0) ||
        yopt_u32(cx, v, "max_failures", 1, 1000000, &c->max_failures) != 0 ||
        yopt_ms(cx, v, "window", &c->window_ms) != 0 || yopt_ms(cx, v, "lock", &c->lock_ms) != 0 ||
        yopt_ms(cx, v, "max_lock", &c->max_lock_ms) != 0 ||
        yopt_bool(cx, v, "doubling", &c->doubling) != 0 ||
        yopt_u32(cx, v, "account_failures", 1, 1000000, &c->account_failures) != 0 ||
        yopt_u32(cx, v, "account_ips", 1, KV_MEMBERS, &c->account_ips) != 0 ||
        yopt_u32(cx, v, "status", 400, 599, &status) != 0 || sec_zone_load(cx, v, &c->zone) != 0)
        goto fail;
    if (c->max_lock_ms < c->lock_ms) {
        yerr(cx, ymap_get(v, "max_lock"), "'max_lock' is shorter than 'lock'");
        goto fail;
    }
    c->status = (uint16_t)status;
    *conf = c;
    return 0;
fail:
    lo_free(c);
    return -1;
}

/* ---- account extraction ----------------------------------------------------------------------- */

static size_t skip_ws(struct str b, size_t i)
{
    while (i < b.len && (b.ptr[i] == ' ' || b.ptr[i] == '\t' || b.ptr[i] == '\n' || b.ptr[i] == '\r'))
        i++;
    return i;
}

/* Past the string that starts at b[i] == '"'; b.len when unterminated. */
static size_t skip_string(struct str b, size_t i)
{
    for (i++; i < b.len; i++) {
        if (b.ptr[i] == '\\')
            i++;
        else if (b.ptr[i] == '"')
            return i + 1;
    }
    return b.len;
}

struct str lockout_json_field(struct str b, struct str name)
{
    size_t i = skip_ws(b, 0);
    if (i >= b.len || b.ptr[i] != '{')
        return STR_LIT("");
    int depth = 0;
    bool want_key = false;
    for (; i < b.len; i++) {
        char ch = b.ptr[i];
        if (ch == '{' || ch == '[') {
            depth++;
            want_key = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            if (--depth <= 0)
                break;
        } else if (ch == ',' && depth == 1) {
            want_key = true;
        } else if (ch == '"') {
            size_t e = skip_string(b, i);
            if (depth == 1 && want_key) {
                want_key = false;
                struct str k = str_from(b.ptr + i + 1, e > i + 1 ? e - i - 2 : 0);
                size_t j = skip_ws(b, e);
                if (j < b.len && b.ptr[j] == ':' && str_eq(k, name)) {
                    j = skip_ws(b, j + 1);
                    if (j >= b.len || b.ptr[j] != '"')
                        return STR_LIT("");
                    size_t ve = skip_string(b, j);
                    if (ve == b.len && b.ptr[b.len - 1] != '"')
                        return STR_LIT("");
                    return str_from(b.ptr + j + 1, ve - j - 2);
                }
            }
            i = e - 1;
        }
    }
    return STR_LIT("");
}

struct str lockout_form_field(struct str b, struct str name)
{
    size_t i = 0;
    while (i < b.len) {
        size_t e = i;
        while (e < b.len && b.ptr[e] != '&')
            e++;
        struct str pair = str_from(b.ptr + i, e - i);
        if (pair.len > name.len && pair.ptr[name.len] == '=' &&
            str_eq(str_from(pair.ptr, name.len), name))
            return str_from(pair.ptr + name.len + 1, pair.len - name.len - 1);
        i = e + 1;
    }
    return STR_LIT("");
}

static struct str account_of(const struct exchange *x, const struct lo_conf *c)
{
    struct str name = str_cstr(c->field);
    switch (c->source) {
    case LO_HEADER: {
        int i = h1_find_header(x->req->headers, x->req->nheaders, name);
        return i >= 0 ? x->req->headers[i].value : STR_LIT("");
    }
    case LO_JSON:
        return x->body_ready ? lockout_json_field(x->body, name) : STR_LIT("");
    case LO_FORM:
        return x->body_ready ? lockout_form_field(x->body, name) : STR_LIT("");
    case LO_NONE:
    default:
        return STR_LIT("");
    }
}

static size_t make_key(char *out, const struct exchange *x, const struct lo_conf *c,
                       const char *kind, struct str v)
{
    struct str parts[] = {str_cstr(c->zone ? c->zone : x->route->path), str_cstr(kind),
                          str_from(v.ptr, v.len > 200 ? 200 : v.len)};
    return sec_kv_key(out, LO_KEY_MAX, parts, 3);
}

/* ---- request ---------------------------------------------------------------------------------- */

static bool has_body(const struct h1_request *req)
{
    return req->framing == H1_FRAME_CHUNKED ||
           (req->framing == H1_FRAME_LENGTH && req->content_length > 0);
}

static enum pipeline_verdict lo_request(struct exchange *x, void *vctx)
{
    struct lo_ctx *ctx = vctx;
    const struct lo_conf *c = x->link->conf;
    struct sec_kv *s = x->link->shared;
    uint64_t now = x->worker->loop->now_ms;
    for (;;) {
        if (ctx->w.answered) { /* a check's answer */
            ctx->w.answered = false;
            if (ctx->w.call.until_ms > now)
                return sec_refuse(x, c->status, "too many failed attempts: locked",
                                  ctx->w.call.until_ms, now);
            ctx->step++;
        }
        switch (ctx->step) {
        case STEP_BODY:
            if ((c->source == LO_JSON || c->source == LO_FORM) && has_body(x->req) &&
                !x->body_ready && x->req->framing == H1_FRAME_LENGTH &&
                x->req->content_length <= 65536) {
                enum pipeline_verdict v = pipeline_need_body(x);
                if (v == PIPELINE_WAIT)
                    return v;
            }
            ctx->ipkey_len = make_key(ctx->ipkey, x, c, "ip", str_cstr(x->client_ip));
            struct str acct = c->source ? account_of(x, c) : STR_LIT("");
            ctx->acctkey_len = acct.len ? make_key(ctx->acctkey, x, c, "account", acct) : 0;
            ctx->step = STEP_IP;
            break;
        case STEP_IP:
        case STEP_ACCOUNT: {
            if (ctx->step == STEP_ACCOUNT && !ctx->acctkey_len) {
                ctx->step = STEP_DONE;
                break;
            }
            struct str key = ctx->step == STEP_IP ? str_from(ctx->ipkey, ctx->ipkey_len)
                                                  : str_from(ctx->acctkey, ctx->acctkey_len);
            if (!sec_kv_check(s, &ctx->w, x, key, now))
                return PIPELINE_WAIT;
            break;
        }
        case STEP_DONE:
        default:
            return PIPELINE_NEXT;
        }
    }
}

/* ---- response --------------------------------------------------------------------------------- */

static bool is_failure(const struct lo_conf *c, uint16_t st)
{
    for (uint32_t i = 0; i < c->nstatuses; i++)
        if (c->statuses[i] == st)
            return true;
    return false;
}

static void locked_event(struct exchange *x, const char *rule, struct str key, uint32_t ttl)
{
    char d[LO_KEY_MAX + 48];
    snprintf(d, sizeof(d), "%.*s locked for %u s", (int)key.len, key.ptr, (ttl + 999) / 1000);
    audit_emit_exchange(x, "lockout", rule, d);
}

static void lo_response_head(struct exchange *x, void *vctx, struct response *r)
{
    struct lo_ctx *ctx = vctx;
    const struct lo_conf *c = x->link->conf;
    struct sec_kv *s = x->link->shared;
    if (!x->upstream_head || ctx->step != STEP_DONE)
        return;
    uint64_t now = x->worker->loop->now_ms;
    struct str ipk = str_from(ctx->ipkey, ctx->ipkey_len),
               ak = str_from(ctx->acctkey, ctx->acctkey_len);
    if (!is_failure(c, r->status)) {
        if (r->status < 400 && ak.len)
            s->ops->reset(s->st, ak);
        return;
    }
    struct kv_rule rule = {.count = c->max_failures, .base_ms = c->lock_ms,
                           .max_ms = c->max_lock_ms, .doubling = c->doubling};
    uint32_t ttl = kv_hit_lock(s->ops, s->st, ipk, ipk, 0, now, c->window_ms, &rule, NULL);
    if (ttl)
        locked_event(x, "lockout.ip", ipk, ttl);
    if (!ak.len)
        return;
    const char *ip = x->client_ip ? x->client_ip : "";
    rule.count = c->account_failures;
    rule.distinct = c->account_ips;
    ttl = kv_hit_lock(s->ops, s->st, ak, ak, lb_hash64(ip, strlen(ip), 0x10c7), now, c->window_ms,
                      &rule, NULL);
    if (ttl)
        locked_event(x, "lockout.account", ak, ttl);
}

static void lo_end(struct exchange *x, void *vctx)
{
    struct lo_ctx *ctx = vctx;
    sec_kv_cancel(x->link->shared, &ctx->w);
}

const struct pipeline_module lockout_module = {
    .name = "lockout",
    .key = "lockout",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct lo_ctx),
    .config_load = lo_load,
    .config_free = lo_free,
    .shared_get = sec_shared_get,
    .shared_put = sec_shared_put,
    .on_request = lo_request,
    .on_response_head = lo_response_head,
    .on_end = lo_end,
};

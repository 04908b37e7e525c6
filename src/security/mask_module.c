/* mask_module.c — see mask_module.h. */
#include "security/mask_module.h"

#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "security/jwt.h"
#include "security/jwt_config.h"
#include "security/mask_json.h"

#define REFUSAL "502 Bad Gateway: the response cannot be masked (too large or content-coded)\n"

struct mk_ctx {
    struct mask_json *m;         /* in the arena, once the response is JSON */
    bool refuse;                 /* the body is replaced by REFUSAL */
    size_t refused_off;          /* how much of it went out */
};

struct mk_conf {
    struct mask_json_conf j;
    struct jwt_pair *claims;     /* unless_claim / when_claim: all must hold */
    uint32_t nclaims;
    bool unless;                 /* unless_claim: not masked when they hold */
};

static void mk_free(void *conf)
{
    struct mk_conf *c = conf;
    if (c)
        jwt_pairs_free(c->claims, c->nclaims);
    free(c);
}

static int mk_load_claims(struct ycx *cx, const struct ynode *v, struct mk_conf *c)
{
    const struct ynode *unless = ymap_get(v, "unless_claim"), *when = ymap_get(v, "when_claim");
    if (unless && when)
        return yerr(cx, when, "'unless_claim' and 'when_claim' exclude each other");
    c->unless = unless != NULL;
    const char *key = unless ? "unless_claim" : "when_claim";
    if (jwt_pairs_load(cx, v, key, &c->claims, &c->nclaims, false) != 0)
        return -1;
    if ((unless || when) && !c->nclaims)
        return yerr(cx, unless ? unless : when, "'%s' names at least one claim", key);
    return 0;
}

static int mk_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"fields", "keep_tail", "keep_head", "max_body",
                                       "max_depth", "unless_claim", "when_claim", NULL};
    if (yexpect(cx, v, YNODE_MAP, where) != 0 || ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct mk_conf *mc = calloc(1, sizeof(*mc));
    if (!mc)
        return yerr(cx, v, "out of memory");
    struct mask_json_conf *c = &mc->j;
    c->keep_tail = 4;
    c->max_depth = 64;
    c->max_bytes = 8u << 20;
    const struct ynode *f = ymap_need(cx, v, where, "fields");
    if (!f || yexpect(cx, f, YNODE_SEQ, "fields") != 0 ||
        yopt_u32(cx, v, "keep_tail", 0, 64, &c->keep_tail) != 0 ||
        yopt_u32(cx, v, "keep_head", 0, 64, &c->keep_head) != 0 ||
        yopt_size(cx, v, "max_body", 1, 1u << 30, &c->max_bytes) != 0 ||
        yopt_u32(cx, v, "max_depth", 1, MASK_JSON_DEPTH_MAX, &c->max_depth) != 0 ||
        mk_load_claims(cx, v, mc) != 0)
        goto fail;
    if (f->nitems == 0) {
        yerr(cx, f, "'fields' lists at least one path");
        goto fail;
    }
    for (uint32_t i = 0; i < f->nitems; i++) {
        const char *why;
        if (yscalar(cx, f->items[i], "fields") != 0)
            goto fail;
        if (mask_json_add_path(c, f->items[i]->str, &why) != 0) {
            yerr(cx, f->items[i], "'%.64s': %s", f->items[i]->str, why);
            goto fail;
        }
    }
    *conf = mc;
    return 0;
fail:
    mk_free(mc);
    return -1;
}

static enum pipeline_verdict mk_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    /* the body must arrive as JSON text: no content coding from the upstream */
    struct str *d = arena_alloc(&x->arena, (x->nupstream_drop + 1) * sizeof(*d));
    if (!d) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    if (x->nupstream_drop)
        memcpy(d, x->upstream_drop, x->nupstream_drop * sizeof(*d));
    d[x->nupstream_drop] = STR_LIT("Accept-Encoding");
    x->upstream_drop = d;
    x->nupstream_drop++;
    return PIPELINE_NEXT;
}

static bool is_json(struct str ct)
{
    const char *semi = memchr(ct.ptr, ';', ct.len);
    struct str t = str_trim_ows(semi ? str_from(ct.ptr, (size_t)(semi - ct.ptr)) : ct);
    return str_eq_nocase(t, STR_LIT("application/json")) ||
           str_has_suffix_nocase(t, STR_LIT("+json"));
}

/* The token's claims (x->auth_claims, set by jwt) meet every pair; false without a token. */
static bool claims_hold(const struct exchange *x, const struct mk_conf *mc)
{
    if (!x->auth_claims.len)
        return false;
    json_t *cl = json_loadb(x->auth_claims.ptr, x->auth_claims.len, 0, NULL);
    bool ok = cl != NULL;
    for (uint32_t i = 0; ok && i < mc->nclaims; i++)
        ok = jwt_claim_has(json_object_get(cl, mc->claims[i].a), mc->claims[i].b);
    json_decref(cl);
    return ok;
}

static void mk_response_head(struct exchange *x, void *vctx, struct response *r)
{
    struct mk_ctx *ctx = vctx;
    const struct mk_conf *mc = x->link->conf;
    const struct mask_json_conf *c = &mc->j;
    if (r->no_body || !is_json(response_get(r, STR_LIT("Content-Type"))))
        return;
    if (mc->nclaims && claims_hold(x, mc) == mc->unless)
        return; /* this token may see the values */
    struct str ce = response_get(r, STR_LIT("Content-Encoding"));
    bool coded = ce.len && !str_eq_nocase(str_trim_ows(ce), STR_LIT("identity"));
    if (coded || (r->content_length >= 0 && (uint64_t)r->content_length > c->max_bytes)) {
        ctx->refuse = true;
        r->status = 502;
        r->reason = STR_NULL;
        response_remove(r, STR_LIT("Content-Encoding"));
        response_remove(r, STR_LIT("ETag"));
        response_set(r, &x->arena, STR_LIT("Content-Type"), STR_LIT("text/plain; charset=utf-8"));
        pipeline_transform_on(x, ctx);
        return;
    }
    void *mem = arena_alloc(&x->arena, mask_json_size(c));
    if (!mem) { /* cannot mask: refuse rather than leak */
        ctx->refuse = true;
        r->status = 502;
        r->reason = STR_NULL;
        pipeline_transform_on(x, ctx);
        return;
    }
    ctx->m = mask_json_init(mem, c);
    response_remove(r, STR_LIT("ETag")); /* not the upstream's bytes any more */
    pipeline_transform_on(x, ctx);
}

static int mk_body(struct exchange *x, void *vctx, const char **in, size_t *in_len, char *out,
                   size_t out_cap, size_t *out_len, bool fin)
{
    (void)x;
    struct mk_ctx *ctx = vctx;
    if (ctx->refuse) { /* the upstream's bytes are dropped; the refusal goes out in pieces */
        *in += *in_len;
        *in_len = 0;
        size_t left = sizeof(REFUSAL) - 1 - ctx->refused_off;
        size_t n = left < out_cap ? left : out_cap;
        memcpy(out, &REFUSAL[ctx->refused_off], n);
        ctx->refused_off += n;
        *out_len = n;
        return n < left ? 1 : 0;
    }
    return mask_json_feed(ctx->m, in, in_len, out, out_cap, out_len, fin);
}

const struct pipeline_module mask_module = {
    .name = "mask",
    .key = "mask",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct mk_ctx),
    .config_load = mk_load,
    .config_free = mk_free,
    .on_request = mk_request,
    .on_response_head = mk_response_head,
    .on_response_body = mk_body,
};

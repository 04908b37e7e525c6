/* compress_module.c — see compress_module.h. Config: `compress: on` (defaults), `off`, or a
 * mapping {codings, levels, min_length, types, memory, decompress, decompress_memory}; the
 * config is immutable and read by every worker without locks. */
#include "modules/compress/compress_module.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config_yaml.h"
#include "http/h1.h"
#include "modules/compress/codec.h"
#include "modules/compress/compress_config.h"
#include "modules/compress/compress_policy.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"

#define MAX_AE_VALUES 8
/* Idle encoders a worker keeps per coding of a route, reset for the next body: a new one costs
 * its allocation, page faults on every fresh page and cold caches (gzip level 6: 260 KiB);
 * a reused one is warm. The bound caps what idle workers hold (docs/internals/compress.md). */
#define POOL_PER_CODING 2

struct compress_conf {
    struct compress_config c;
    struct str *types;         /* owned copies when the config lists its own */
    size_t ntypes;
};

struct compress_xctx {
    struct str ae[MAX_AE_VALUES]; /* the request's Accept-Encoding values */
    size_t nae;
    struct compress_ctx *codec;
    int coding;                   /* the encoder's index in the config's codings */
    bool decoding;
    bool ended;
};

/* One worker's idle encoders for a route (its chain's local state). */
struct compress_pool {
    struct compress_ctx *idle[COMPRESS_MAX_CODINGS][POOL_PER_CODING];
    uint8_t n[COMPRESS_MAX_CODINGS];
};

/* ---- config ------------------------------------------------------------------------------ */

static void conf_free(void *p)
{
    struct compress_conf *cf = p;
    if (!cf)
        return;
    for (size_t i = 0; i < cf->ntypes; i++)
        free((void *)cf->types[i].ptr);
    free(cf->types);
    free(cf);
}

static bool scalar_is(const struct ynode *v, const char *a, const char *b)
{
    return v->kind == YNODE_SCALAR && (strcasecmp(v->str, a) == 0 || strcasecmp(v->str, b) == 0);
}

static int load_codings(struct ycx *cx, const struct ynode *v, struct compress_config *c)
{
    if (yexpect(cx, v, YNODE_SEQ, "codings") != 0)
        return -1;
    if (v->nitems == 0 || v->nitems > COMPRESS_MAX_CODINGS)
        return yerr(cx, v, "'codings' lists 1 to %d of gzip, br, zstd", COMPRESS_MAX_CODINGS);
    struct compress_config d;
    compress_config_defaults(&d);
    c->ncodings = 0;
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *it = v->items[i];
        if (yscalar(cx, it, "coding") != 0)
            return -1;
        const struct compress_codec_ops *ops = compress_codec_find(str_cstr(it->str));
        if (!ops)
            return yerr(cx, it, "unknown coding '%.32s' (gzip, br or zstd)", it->str);
        int level = ops->level_default;
        for (size_t k = 0; k < d.ncodings; k++)
            if (d.codings[k].ops == ops)
                level = d.codings[k].level;
        c->codings[c->ncodings++] = (struct compress_coding){.ops = ops, .level = level};
    }
    return 0;
}

static int load_levels(struct ycx *cx, const struct ynode *v, struct compress_config *c)
{
    if (ymap_check(cx, v, "compress.levels", NULL) != 0)
        return -1;
    for (uint32_t i = 0; i + 1 < v->nitems; i += 2) {
        const struct ynode *k = v->items[i], *val = v->items[i + 1];
        size_t j = 0;
        while (j < c->ncodings && strcasecmp(c->codings[j].ops->name, k->str) != 0)
            j++;
        if (j == c->ncodings)
            return yerr(cx, k, "'%.32s' is not among the enabled codings", k->str);
        const struct compress_codec_ops *ops = c->codings[j].ops;
        uint32_t level;
        const char *end;
        uint64_t n;
        if (yscalar(cx, val, "level") != 0)
            return -1;
        if (yparse_u64(val->str, &end, &n) != 0 || *end || n < (uint64_t)ops->level_min ||
            n > (uint64_t)ops->level_max)
            return yerr(cx, val, "the %s level is a number from %d to %d", ops->name,
                        ops->level_min, ops->level_max);
        level = (uint32_t)n;
        c->codings[j].level = (int)level;
    }
    return 0;
}

static int load_types(struct ycx *cx, const struct ynode *v, struct compress_conf *cf)
{
    if (yexpect(cx, v, YNODE_SEQ, "types") != 0)
        return -1;
    cf->types = calloc(v->nitems ? v->nitems : 1, sizeof(*cf->types));
    if (!cf->types)
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        char *s = NULL; /* ystrdup frees what it replaces */
        if (yscalar(cx, v->items[i], "type") != 0 || ystrdup(cx, v->items[i], v->items[i]->str, &s))
            return -1;
        cf->types[cf->ntypes++] = str_cstr(s);
    }
    cf->c.types = cf->types;
    cf->c.ntypes = cf->ntypes;
    return 0;
}

static int conf_load(struct ycx *cx, const struct ynode *v, const char *where, void **out)
{
    static const char *const keys[] = {"codings", "levels",     "min_length",        "types",
                                       "memory",  "decompress", "decompress_memory", NULL};
    if (v->kind == YNODE_SCALAR && scalar_is(v, "off", "false"))
        return 0; /* *out stays NULL: not on this route */
    struct compress_conf *cf = calloc(1, sizeof(*cf));
    if (!cf)
        return yerr(cx, v, "out of memory");
    compress_config_defaults(&cf->c);
    *out = cf;
    if (v->kind == YNODE_SCALAR) {
        if (!scalar_is(v, "on", "true"))
            return yerr(cx, v, "'%s' is on, off or a mapping", where);
        return 0;
    }
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    const struct ynode *n;
    uint64_t size;
    if ((n = ymap_get(v, "codings")) && load_codings(cx, n, &cf->c) != 0)
        return -1;
    if ((n = ymap_get(v, "levels")) && load_levels(cx, n, &cf->c) != 0)
        return -1;
    if ((n = ymap_get(v, "types")) && load_types(cx, n, cf) != 0)
        return -1;
    if (yopt_size(cx, v, "min_length", 0, UINT64_MAX, &cf->c.min_length) != 0 ||
        yopt_bool(cx, v, "decompress", &cf->c.decompress) != 0)
        return -1;
    size = cf->c.mem_limit;
    if (yopt_size(cx, v, "memory", 64 * 1024, 1u << 30, &size) != 0)
        return -1;
    cf->c.mem_limit = size;
    size = cf->c.decompress_mem_limit;
    if (yopt_size(cx, v, "decompress_memory", 64 * 1024, 1u << 30, &size) != 0)
        return -1;
    cf->c.decompress_mem_limit = size;
    const char *bad = compress_config_check(&cf->c);
    if (bad)
        return yerr(cx, v, "%s: %s", where, bad);
    return 0;
}

/* ---- the worker's encoder pool ----------------------------------------------------------- */

static void *pool_new(const void *conf, void *shared)
{
    (void)conf;
    (void)shared;
    return calloc(1, sizeof(struct compress_pool));
}

static void pool_free(void *p)
{
    struct compress_pool *pool = p;
    for (size_t j = 0; j < COMPRESS_MAX_CODINGS; j++)
        for (uint8_t k = 0; k < pool->n[j]; k++)
            compress_codec_destroy(pool->idle[j][k]);
    free(pool);
}

static struct compress_ctx *pool_take(struct compress_pool *pool, const struct compress_config *cfg,
                                      int j)
{
    if (pool->n[j])
        return pool->idle[j][--pool->n[j]];
    return cfg->codings[j].ops->enc_create(cfg->codings[j].level, cfg->mem_limit);
}

/* An encoder done with its body: kept for the next one when it can be reset and there is room. */
static void pool_give(struct compress_pool *pool, int j, struct compress_ctx *c)
{
    if (pool->n[j] < POOL_PER_CODING && c->ops->enc_reset && c->ops->enc_reset(c))
        pool->idle[j][pool->n[j]++] = c;
    else
        compress_codec_destroy(c);
}

/* ---- the exchange ------------------------------------------------------------------------ */

static enum pipeline_verdict cm_request(struct exchange *x, void *ctx)
{
    struct compress_xctx *c = ctx;
    const struct h1_request *r = x->req;
    for (uint32_t i = 0; i < r->nheaders && c->nae < MAX_AE_VALUES; i++)
        if (str_eq_nocase(r->headers[i].name, STR_LIT("Accept-Encoding")))
            c->ae[c->nae++] = r->headers[i].value;
    return PIPELINE_NEXT;
}

/* The policy's header list is the response's, copied (the same two slices per field). */
static int edit_headers(struct exchange *x, struct response *r, bool decode, struct str coding)
{
    struct compress_headers h = {
        .v = arena_alloc(&x->arena, (r->nheaders + 4) * sizeof(struct compress_header)),
        .n = r->nheaders,
        .cap = r->nheaders + 4,
        .scratch = arena_alloc(&x->arena, 512),
        .scratch_cap = 512,
    };
    if (!h.v || !h.scratch)
        return -1;
    for (uint32_t i = 0; i < r->nheaders; i++)
        h.v[i] = (struct compress_header){.name = r->headers[i].name, .value = r->headers[i].value};
    int rc = decode ? compress_policy_decode_headers(&h) : compress_policy_encode_headers(&h, coding);
    if (rc != 0)
        return -1;
    r->nheaders = 0;
    for (size_t i = 0; i < h.n; i++)
        if (response_add(r, &x->arena, h.v[i].name, h.v[i].value) != 0)
            return -1;
    return 0;
}

static void cm_response_head(struct exchange *x, void *ctx, struct response *r)
{
    struct compress_xctx *c = ctx;
    const struct compress_config *cfg = &((const struct compress_conf *)x->link->conf)->c;
    struct compress_header *hv = arena_alloc(&x->arena, (r->nheaders + 1) * sizeof(*hv));
    if (!hv)
        return;
    for (uint32_t i = 0; i < r->nheaders; i++)
        hv[i] = (struct compress_header){.name = r->headers[i].name, .value = r->headers[i].value};
    struct compress_facts f;
    compress_policy_facts(&f, x->req->method, r->status, hv, r->nheaders);
    /* The writer frames the body: the length is the response's, not a header. */
    f.content_length = r->content_length;
    if (r->no_body)
        f.head = true;
    enum compress_verdict v = compress_policy_decide(cfg, &f);
    if (v == COMPRESS_SKIP_ENCODED) {
        const struct compress_codec_ops *dec = compress_policy_decoder(cfg, &f, c->ae, c->nae);
        if (!dec || !(c->codec = dec->dec_create(cfg->decompress_mem_limit)))
            return;
        if (edit_headers(x, r, true, STR_NULL) != 0) {
            compress_codec_destroy(c->codec);
            c->codec = NULL;
            return;
        }
        c->decoding = true;
        pipeline_transform_on(x, ctx);
        return;
    }
    if (v != COMPRESS_ELIGIBLE)
        return;
    const struct compress_coding *coding = compress_policy_choose(cfg, c->ae, c->nae);
    if (!coding) {
        /* Identity this time, but the answer depended on Accept-Encoding. */
        struct compress_headers h = {
            .v = arena_alloc(&x->arena, (r->nheaders + 1) * sizeof(struct compress_header)),
            .n = r->nheaders, .cap = r->nheaders + 1,
            .scratch = arena_alloc(&x->arena, 256), .scratch_cap = 256};
        if (!h.v || !h.scratch)
            return;
        for (uint32_t i = 0; i < r->nheaders; i++)
            h.v[i] = (struct compress_header){.name = r->headers[i].name,
                                              .value = r->headers[i].value};
        if (compress_policy_vary(&h) != 0)
            return;
        r->nheaders = 0;
        for (size_t i = 0; i < h.n; i++)
            response_add(r, &x->arena, h.v[i].name, h.v[i].value);
        return;
    }
    c->coding = (int)(coding - cfg->codings);
    c->codec = pool_take(x->link->local, cfg, c->coding);
    if (!c->codec)
        return; /* out of memory: sent as it is */
    if (edit_headers(x, r, false, str_cstr(coding->ops->name)) != 0) {
        pool_give(x->link->local, c->coding, c->codec);
        c->codec = NULL;
        return;
    }
    pipeline_transform_on(x, ctx);
}

static int cm_body(struct exchange *x, void *ctx, const char **in, size_t *in_len, char *out,
                   size_t out_cap, size_t *out_len, bool fin)
{
    (void)x;
    struct compress_xctx *c = ctx;
    *out_len = 0;
    if (c->ended) {
        /* Finished: a decoder may see bytes after the end of the coded stream; drop them. */
        *in += *in_len;
        *in_len = 0;
        return 0;
    }
    struct compress_io io = {.in = (const unsigned char *)*in, .in_len = *in_len,
                             .out = (unsigned char *)out, .out_cap = out_cap};
    enum compress_status st;
    if (c->decoding)
        st = c->codec->ops->decode(c->codec, &io);
    else
        st = c->codec->ops->encode(c->codec, &io, fin ? COMPRESS_FLUSH_FINISH : COMPRESS_FLUSH_NONE);
    *in += io.in_used;
    *in_len -= io.in_used;
    *out_len = io.out_len;
    switch (st) {
    case COMPRESS_OK:
        if (c->decoding && fin && !*in_len)
            return -1; /* the coded stream was cut short */
        return *in_len ? 1 : 0;
    case COMPRESS_MORE:
        return 1;
    case COMPRESS_END:
        c->ended = true;
        *in += *in_len;
        *in_len = 0;
        return 0;
    case COMPRESS_ERROR:
        break;
    }
    return -1;
}

static void cm_end(struct exchange *x, void *ctx)
{
    struct compress_xctx *c = ctx;
    if (c->codec && !c->decoding)
        pool_give(x->link->local, c->coding, c->codec);
    else
        compress_codec_destroy(c->codec);
    c->codec = NULL;
}

const struct pipeline_module compress_module = {
    .name = "compress",
    .key = "compress",
    .global = true,
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct compress_xctx),
    .config_load = conf_load,
    .config_free = conf_free,
    .local_new = pool_new,
    .local_free = pool_free,
    .on_request = cm_request,
    .on_response_head = cm_response_head,
    .on_response_body = cm_body,
    .on_end = cm_end,
};

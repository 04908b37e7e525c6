/* cors.c — see cors.h. */
#include "security/cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"

struct cors_ctx {
    struct str origin;           /* the request's Origin when allowed, else empty */
    bool seen;                   /* the request had an Origin */
};

static void cors_free(void *conf)
{
    struct cors_conf *c = conf;
    if (!c)
        return;
    for (uint32_t i = 0; i < c->norigins; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c->methods);
    free(c->headers);
    free(c->expose);
    free(c);
}

/* A list of tokens joined with ", " (absent: dflt). */
static int load_list(struct ycx *cx, const struct ynode *map, const char *key, const char *dflt,
                     char **out)
{
    const struct ynode *v = ymap_get(map, key);
    if (!v)
        return ystrdup(cx, map, dflt, out);
    if (yexpect(cx, v, YNODE_SEQ, key) != 0)
        return -1;
    size_t len = 1;
    for (uint32_t i = 0; i < v->nitems; i++) {
        if (yscalar(cx, v->items[i], key) != 0)
            return -1;
        if (!config_is_token(v->items[i]->str))
            return yerr(cx, v->items[i], "'%.64s' is not a token", v->items[i]->str);
        len += v->items[i]->len + 2;
    }
    char *s = malloc(len);
    if (!s)
        return yerr(cx, v, "out of memory");
    s[0] = '\0';
    for (uint32_t i = 0; i < v->nitems; i++) {
        if (i)
            strcat(s, ", ");
        strcat(s, v->items[i]->str);
    }
    *out = s;
    return 0;
}

static int cors_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"origins", "methods", "headers", "expose",
                                       "credentials", "max_age", NULL};
    if (yexpect(cx, v, YNODE_MAP, where) != 0 || ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct cors_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    c->max_age = 600;
    const struct ynode *o = ymap_need(cx, v, where, "origins");
    if (!o || yexpect(cx, o, YNODE_SEQ, "origins") != 0 ||
        yopt_bool(cx, v, "credentials", &c->credentials) != 0 ||
        yopt_u32(cx, v, "max_age", 0, 86400, &c->max_age) != 0 ||
        load_list(cx, v, "methods", "GET, HEAD, POST", &c->methods) != 0 ||
        load_list(cx, v, "headers", "Content-Type", &c->headers) != 0 ||
        load_list(cx, v, "expose", "", &c->expose) != 0)
        goto fail;
    c->origins = calloc(o->nitems + 1, sizeof(*c->origins));
    if (!c->origins) {
        yerr(cx, o, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < o->nitems; i++) {
        const struct ynode *it = o->items[i];
        if (yscalar(cx, it, "origins") != 0)
            goto fail;
        if (strcmp(it->str, "*") == 0) {
            if (c->credentials) {
                yerr(cx, it, "origin '*' cannot be combined with credentials: true "
                             "(list the origins)");
                goto fail;
            }
            c->any = true;
        } else if (strncmp(it->str, "http://", 7) && strncmp(it->str, "https://", 8)) {
            yerr(cx, it, "origin '%.64s' must be scheme://host[:port]", it->str);
            goto fail;
        }
        if (ystrdup(cx, it, it->str, &c->origins[c->norigins++]) != 0)
            goto fail;
    }
    *conf = c;
    return 0;
fail:
    cors_free(c);
    return -1;
}

static bool host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.';
}

static bool pattern_match(const char *p, struct str o)
{
    const char *star = strstr(p, "://*.");
    if (!star)
        return str_eq_nocase(o, str_cstr(p));
    struct str pre = str_from(p, (size_t)(star - p) + 3), suf = str_cstr(star + 4);
    if (o.len <= pre.len + suf.len || !str_eq_nocase(str_from(o.ptr, pre.len), pre) ||
        !str_has_suffix_nocase(o, suf))
        return false;
    for (size_t i = pre.len; i < o.len - suf.len; i++)
        if (!host_char(o.ptr[i]))
            return false;
    return true;
}

bool cors_origin_allowed(const struct cors_conf *c, struct str origin)
{
    if (!origin.len)
        return false;
    if (c->any)
        return true;
    for (uint32_t i = 0; i < c->norigins; i++)
        if (pattern_match(c->origins[i], origin))
            return true;
    return false;
}

static struct str header(const struct exchange *x, const char *name)
{
    int i = h1_find_header(x->req->headers, x->req->nheaders, str_cstr(name));
    return i >= 0 ? x->req->headers[i].value : STR_NULL;
}

static int allow_fields(struct exchange *x, struct response *r, const struct cors_conf *c,
                        struct str origin)
{
    struct arena *a = &x->arena;
    if (response_set(r, a, STR_LIT("Access-Control-Allow-Origin"),
                     c->any && !c->credentials ? STR_LIT("*") : origin) != 0)
        return -1;
    if (c->credentials &&
        response_set(r, a, STR_LIT("Access-Control-Allow-Credentials"), STR_LIT("true")) != 0)
        return -1;
    return 0;
}

static enum pipeline_verdict cors_request(struct exchange *x, void *vctx)
{
    struct cors_ctx *ctx = vctx;
    const struct cors_conf *c = x->link->conf;
    struct str origin = header(x, "Origin");
    ctx->seen = origin.ptr != NULL;
    if (cors_origin_allowed(c, origin))
        ctx->origin = origin;
    if (x->req->method_id != H1_M_OPTIONS || !origin.ptr ||
        !header(x, "Access-Control-Request-Method").ptr)
        return PIPELINE_NEXT;
    if (!ctx->origin.len)
        return pipeline_reply(x, 403, "origin not allowed");
    struct response *r = &x->reply;
    struct arena *a = &x->arena;
    if (response_init(r, a, 204, 8) != 0 || allow_fields(x, r, c, origin) != 0 ||
        response_add(r, a, STR_LIT("Access-Control-Allow-Methods"), str_cstr(c->methods)) != 0 ||
        (c->headers[0] &&
         response_add(r, a, STR_LIT("Access-Control-Allow-Headers"), str_cstr(c->headers)) != 0) ||
        response_addf(r, a, STR_LIT("Access-Control-Max-Age"), "%u", c->max_age) != 0) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    r->no_body = true;
    r->content_length = 0;
    x->has_reply = true;
    return PIPELINE_RESPOND;
}

/* Appends Origin to Vary unless it is there (or Vary is *). */
static void add_vary(struct exchange *x, struct response *r)
{
    struct str v = response_get(r, STR_LIT("Vary"));
    if (!v.ptr) {
        response_add(r, &x->arena, STR_LIT("Vary"), STR_LIT("Origin"));
        return;
    }
    if (h1_list_has_token(v, STR_LIT("Origin")) || h1_list_has_token(v, STR_LIT("*")))
        return;
    char *s = arena_alloc(&x->arena, v.len + 9);
    if (!s)
        return;
    memcpy(s, v.ptr, v.len);
    memcpy(s + v.len, ", Origin", 8);
    response_set(r, &x->arena, STR_LIT("Vary"), str_from(s, v.len + 8));
}

static void cors_response_head(struct exchange *x, void *vctx, struct response *r)
{
    struct cors_ctx *ctx = vctx;
    const struct cors_conf *c = x->link->conf;
    add_vary(x, r);
    if (r == &x->reply && x->has_reply && r->status == 204 &&
        response_find(r, STR_LIT("Access-Control-Allow-Methods")) >= 0)
        return; /* our own preflight answer */
    if (!ctx->origin.len) {
        response_remove(r, STR_LIT("Access-Control-Allow-Origin"));
        response_remove(r, STR_LIT("Access-Control-Allow-Credentials"));
        return;
    }
    allow_fields(x, r, c, ctx->origin);
    if (c->expose[0])
        response_set(r, &x->arena, STR_LIT("Access-Control-Expose-Headers"), str_cstr(c->expose));
}

const struct pipeline_module cors_module = {
    .name = "cors",
    .key = "cors",
    .global = true,
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct cors_ctx),
    .config_load = cors_load,
    .config_free = cors_free,
    .on_request = cors_request,
    .on_response_head = cors_response_head,
};

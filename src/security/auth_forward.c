/* auth_forward.c — see auth_forward.h. */
#include "security/auth_forward.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"
#include "pipeline/upstream_edit.h"
#include "security/auth_common.h"

#define ANSWER_MAX (64u << 10)
#define SUBREQ_MAX 16384

struct fa_conf {
    char *host, *path;
    char **req_headers, **copy_headers;
    uint32_t nreq, ncopy;
    uint32_t timeout_ms;
    bool allow_on_timeout;
};

/* One sub-request: owned by the exchange until it ends, then by the callback if the answer
 * has not come (abandoned). */
struct fa_call {
    struct exchange *x;
    bool abandoned, done;
    uint16_t status;
    char *fields;          /* "Name: value\r\n" lines kept from the answer */
    size_t fields_len;
    char *body;
    size_t body_len;
};

struct fa_ctx {
    struct fa_call *call;
    bool started;
};

static void free_list(char **l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static void fa_free(void *conf)
{
    struct fa_conf *c = conf;
    if (!c)
        return;
    free(c->host);
    free(c->path);
    free_list(c->req_headers, c->nreq);
    free_list(c->copy_headers, c->ncopy);
    free(c);
}

static int header_list(struct ycx *cx, const struct ynode *v, const char *key, char ***out,
                       uint32_t *n, const char *const *dflt)
{
    const struct ynode *l = ymap_get(v, key);
    uint32_t cap = l ? l->nitems : 2;
    if (l && yexpect(cx, l, YNODE_SEQ, key) != 0)
        return -1;
    if (!(*out = calloc(cap + 1, sizeof(char *))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < cap; i++) {
        const char *s = l ? l->items[i]->str : dflt ? dflt[i] : NULL;
        if (!s)
            break;
        if (l && (yscalar(cx, l->items[i], key) != 0))
            return -1;
        if (!config_is_token(s))
            return yerr(cx, l ? l->items[i] : v, "'%s' is not a header name", s);
        if (ystrdup(cx, l ? l->items[i] : v, s, &(*out)[(*n)++]) != 0)
            return -1;
    }
    return 0;
}

static int fa_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"url", "request_headers", "copy_headers", "timeout",
                                       "on_timeout", NULL};
    static const char *const dflt[] = {"Authorization", "Cookie", NULL};
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct fa_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    c->timeout_ms = 2000;
    const struct ynode *url = ymap_need(cx, v, where, "url"), *ot = NULL;
    if (!url || yscalar(cx, url, "url") != 0 || yopt_ms(cx, v, "timeout", &c->timeout_ms) != 0 ||
        yopt_str(cx, v, "on_timeout", &ot) != 0 ||
        header_list(cx, v, "request_headers", &c->req_headers, &c->nreq, dflt) != 0 ||
        header_list(cx, v, "copy_headers", &c->copy_headers, &c->ncopy, NULL) != 0)
        goto fail;
    if (ot && strcmp(ot->str, "deny") && strcmp(ot->str, "allow")) {
        yerr(cx, ot, "on_timeout is deny or allow");
        goto fail;
    }
    c->allow_on_timeout = ot && !strcmp(ot->str, "allow");
    const char *host = url->str + 7, *slash = strchr(host, '/');
    if (strncmp(url->str, "http://", 7) || strpbrk(url->str, " \t\r\n") ||
        slash == host || !*host) {
        yerr(cx, url, "url must be http://host/path (sent through weir's own routes)");
        goto fail;
    }
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    if (!(c->host = strndup(host, hl)) || !(c->path = strdup(slash ? slash : "/"))) {
        yerr(cx, url, "out of memory");
        goto fail;
    }
    *conf = c;
    return 0;
fail:
    fa_free(c);
    return -1;
}

static bool keep_field(const struct fa_conf *c, struct str name)
{
    if (str_eq_nocase(name, STR_LIT("Content-Type")) ||
        str_eq_nocase(name, STR_LIT("WWW-Authenticate")) ||
        str_eq_nocase(name, STR_LIT("Location")))
        return true;
    for (uint32_t i = 0; i < c->ncopy; i++)
        if (str_eq_nocase(name, str_cstr(c->copy_headers[i])))
            return true;
    return false;
}

static void call_free(struct fa_call *call)
{
    free(call->fields);
    free(call->body);
    free(call);
}

/* The answer (on the exchange's worker). The conf is reached through the exchange, which is
 * alive unless abandoned. */
static void fa_done(void *arg, const struct fetch_reply *r)
{
    struct fa_call *call = arg;
    if (call->abandoned) {
        call_free(call);
        return;
    }
    const struct fa_conf *c = NULL;
    for (uint32_t i = 0; i < call->x->chain->n; i++)
        if (call->x->chain->links[i].m == &forward_auth_module)
            c = call->x->chain->links[i].conf;
    call->status = r->status;
    size_t need = 0;
    for (uint32_t i = 0; r->head && i < r->head->nheaders; i++)
        need += r->head->headers[i].name.len + r->head->headers[i].value.len + 4;
    call->fields = malloc(need + 1);
    call->body = malloc(r->body.len + 1);
    if (call->fields && call->body && c) {
        for (uint32_t i = 0; r->head && i < r->head->nheaders; i++) {
            const struct h1_header *h = &r->head->headers[i];
            if (!keep_field(c, h->name))
                continue;
            call->fields_len += (size_t)sprintf(call->fields + call->fields_len, "%.*s: %.*s\r\n",
                                                (int)h->name.len, h->name.ptr, (int)h->value.len,
                                                h->value.ptr);
        }
        memcpy(call->body, r->body.ptr, r->body.len);
        call->body_len = r->body.len;
    } else {
        call->status = 0;
    }
    call->done = true;
    pipeline_resume(call->x);
}

/* The value of a kept field, or STR_NULL. */
static struct str answer_field(const struct fa_call *call, struct str name)
{
    const char *p = call->fields, *end = call->fields + call->fields_len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && str_eq_nocase(str_from(p, (size_t)(colon - p)), name))
            return str_from(colon + 2, (size_t)(eol - colon - 2));
        p = eol + 2;
    }
    return STR_NULL;
}

static enum pipeline_verdict start(struct exchange *x, struct fa_ctx *ctx, const struct fa_conf *c)
{
    ctx->started = true;
    char *req = arena_alloc(&x->arena, SUBREQ_MAX);
    if (!req || !x->worker->fetch_reply)
        return PIPELINE_NEXT; /* decided below as "no answer" */
    int n = snprintf(req, SUBREQ_MAX,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nX-Forwarded-Method: %.*s\r\n"
                     "X-Forwarded-Uri: %.*s\r\nX-Forwarded-For: %s\r\n",
                     c->path, c->host, (int)x->req->method.len, x->req->method.ptr,
                     (int)x->req->target.len, x->req->target.ptr, x->client_ip);
    for (uint32_t i = 0; i < c->nreq && n > 0 && n < SUBREQ_MAX; i++)
        for (uint32_t k = 0; k < x->req->nheaders; k++)
            if (str_eq_nocase(x->req->headers[k].name, str_cstr(c->req_headers[i])) &&
                n > 0 && n < SUBREQ_MAX)
                n += snprintf(req + n, SUBREQ_MAX - (size_t)n, "%s: %.*s\r\n", c->req_headers[i],
                              (int)x->req->headers[k].value.len, x->req->headers[k].value.ptr);
    if (n > 0 && n < SUBREQ_MAX)
        n += snprintf(req + n, SUBREQ_MAX - (size_t)n, "Connection: close\r\n\r\n");
    if (n <= 0 || n >= SUBREQ_MAX)
        return PIPELINE_NEXT;
    struct fa_call *call = calloc(1, sizeof(*call));
    if (!call)
        return PIPELINE_NEXT;
    call->x = x;
    if (x->worker->fetch_reply(x->worker, req, (size_t)n, ANSWER_MAX + 16384, fa_done, call) != 0) {
        free(call);
        return PIPELINE_NEXT;
    }
    ctx->call = call;
    return pipeline_wait_until(x, x->worker->loop->now_ms + c->timeout_ms);
}

static enum pipeline_verdict answer(struct exchange *x, struct fa_call *call,
                                    const struct fa_conf *c)
{
    if (call->status >= 200 && call->status < 300) {
        for (uint32_t i = 0; i < c->ncopy; i++) {
            struct str name = str_cstr(c->copy_headers[i]);
            struct str v = answer_field(call, name);
            if (upstream_edit_drop(x, name) != 0 ||
                (v.ptr && upstream_edit_add(x, name, v) != 0))
                return PIPELINE_FAIL;
        }
        return auth_allow(x);
    }
    struct response *r = &x->reply;
    char *body = arena_alloc(&x->arena, call->body_len + 1);
    if (!body || response_init(r, &x->arena, call->status, 6) != 0)
        return PIPELINE_FAIL;
    memcpy(body, call->body, call->body_len);
    response_set_body(r, body, call->body_len > ANSWER_MAX ? ANSWER_MAX : call->body_len);
    static const char *const pass[] = {"Content-Type", "WWW-Authenticate", "Location"};
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        struct str v = answer_field(call, str_cstr(pass[i]));
        char *copy = v.ptr ? auth_arena_cstr(x, v) : NULL;
        if (v.ptr && (!copy || response_add(r, &x->arena, str_cstr(pass[i]), str_cstr(copy)) != 0))
            return PIPELINE_FAIL;
    }
    if (response_add(r, &x->arena, STR_LIT("Cache-Control"), STR_LIT("no-store")) != 0)
        return PIPELINE_FAIL;
    x->has_reply = true;
    return PIPELINE_RESPOND;
}

static enum pipeline_verdict fa_request(struct exchange *x, void *vctx)
{
    struct fa_ctx *ctx = vctx;
    const struct fa_conf *c = x->link->conf;
    if (!ctx->started) {
        enum pipeline_verdict v = start(x, ctx, c);
        if (v == PIPELINE_WAIT)
            return v;
    }
    struct fa_call *call = ctx->call;
    if (call && call->done && call->status) {
        ctx->call = NULL;
        enum pipeline_verdict v = answer(x, call, c);
        call_free(call);
        return v;
    }
    if (call && !call->done) /* the timeout: the answer, if it comes, is dropped */
        call->abandoned = true;
    else if (call)
        call_free(call);
    ctx->call = NULL;
    if (c->allow_on_timeout)
        return PIPELINE_NEXT;
    return auth_deny(x, 503, NULL, "the authentication service did not answer");
}

static void fa_end(struct exchange *x, void *vctx)
{
    (void)x;
    struct fa_ctx *ctx = vctx;
    if (!ctx->call)
        return;
    if (ctx->call->done)
        call_free(ctx->call);
    else
        ctx->call->abandoned = true;
    ctx->call = NULL;
}

const struct pipeline_module forward_auth_module = {
    .name = "forward_auth",
    .key = "forward_auth",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct fa_ctx),
    .config_load = fa_load,
    .config_free = fa_free,
    .on_request = fa_request,
    .on_end = fa_end,
};

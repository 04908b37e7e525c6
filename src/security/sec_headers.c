/* sec_headers.c — see sec_headers.h. */
#include "security/sec_headers.h"

#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"

static void sh_free(void *conf)
{
    struct sec_headers_conf *c = conf;
    if (!c)
        return;
    free(c->hsts);
    free(c->content_type_options);
    free(c->referrer_policy);
    free(c->frame_options);
    free(c->csp);
    free(c);
}

/* A field value: the default when absent, none for `off`. */
static int load_value(struct ycx *cx, const struct ynode *map, const char *key, const char *dflt,
                      char **out)
{
    const struct ynode *v = map ? ymap_get(map, key) : NULL;
    if (!v)
        return ystrdup(cx, map, dflt, out);
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (strcmp(v->str, "off") == 0 || (v->plain && strcmp(v->str, "false") == 0))
        return 0;
    for (const char *p = v->str; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return yerr(cx, v, "'%s' holds a control character", key);
    return ystrdup(cx, v, v->str, out);
}

static int sh_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"hsts", "content_type_options", "referrer_policy",
                                       "frame_options", "csp", "override", NULL};
    enum ysection_form form;
    if (ysection_form(cx, v, where, true, &form) != 0)
        return -1;
    const struct ynode *m = form == YSECTION_MAP ? v : NULL;
    if (m && ymap_check(cx, m, where, keys) != 0)
        return -1;
    struct sec_headers_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    if (form == YSECTION_OFF) {
        *conf = c; /* nothing set, nothing removed */
        return 0;
    }
    const struct ynode *csp = m ? ymap_get(m, "csp") : NULL;
    if (load_value(cx, m, "hsts", "max-age=31536000", &c->hsts) != 0 ||
        load_value(cx, m, "content_type_options", "nosniff", &c->content_type_options) != 0 ||
        load_value(cx, m, "referrer_policy", "strict-origin-when-cross-origin",
                   &c->referrer_policy) != 0 ||
        load_value(cx, m, "frame_options", "DENY", &c->frame_options) != 0 ||
        (m && yopt_bool(cx, m, "override", &c->override) != 0))
        goto fail;
    if (csp) {
        if (yscalar(cx, csp, "csp") != 0)
            goto fail;
        if (strcmp(csp->str, "pass") == 0)
            c->csp_mode = SEC_CSP_PASS;
        else if (strcmp(csp->str, "off") == 0)
            c->csp_mode = SEC_CSP_OFF;
        else if (load_value(cx, m, "csp", "", &c->csp) != 0)
            goto fail;
        else
            c->csp_mode = SEC_CSP_SET;
    }
    *conf = c;
    return 0;
fail:
    sh_free(c);
    return -1;
}

static void put(struct exchange *x, struct response *r, bool override, struct str name,
                const char *value)
{
    if (!value || (!override && response_find(r, name) >= 0))
        return;
    response_set(r, &x->arena, name, str_cstr(value));
}

static void sh_response_head(struct exchange *x, void *ctx, struct response *r)
{
    (void)ctx;
    const struct sec_headers_conf *c = x->link->conf;
    if (x->tls)
        put(x, r, c->override, STR_LIT("Strict-Transport-Security"), c->hsts);
    put(x, r, c->override, STR_LIT("X-Content-Type-Options"), c->content_type_options);
    put(x, r, c->override, STR_LIT("Referrer-Policy"), c->referrer_policy);
    put(x, r, c->override, STR_LIT("X-Frame-Options"), c->frame_options);
    if (c->csp_mode == SEC_CSP_OFF)
        response_remove(r, STR_LIT("Content-Security-Policy"));
    else if (c->csp_mode == SEC_CSP_SET)
        put(x, r, c->override, STR_LIT("Content-Security-Policy"), c->csp);
}

static enum pipeline_verdict sh_request(struct exchange *x, void *ctx)
{
    (void)x;
    (void)ctx;
    return PIPELINE_NEXT; /* only so that the response hook runs */
}

const struct pipeline_module sec_headers_module = {
    .name = "security_headers",
    .key = "security_headers",
    .global = true,
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = sh_load,
    .config_free = sh_free,
    .on_request = sh_request,
    .on_response_head = sh_response_head,
};

/* trusted_proxy.c — see trusted_proxy.h. */
#include "security/trusted_proxy.h"

#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "security/cidr_list.h"

#define TP_TRUSTED 1

static void tp_free(void *conf)
{
    struct trusted_proxy_conf *c = conf;
    if (!c)
        return;
    cidr_trie_free(&c->proxies);
    free(c->header);
    free(c);
}

static int tp_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"from", "depth", "header", NULL};
    struct trusted_proxy_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    cidr_trie_init(&c->proxies);
    c->depth = 1;
    const struct ynode *from = v, *h = NULL;
    if (v->kind == YNODE_MAP) {
        if (ymap_check(cx, v, where, keys) != 0 || !(from = ymap_need(cx, v, where, "from")) ||
            yopt_u32(cx, v, "depth", 1, 32, &c->depth) != 0 || yopt_str(cx, v, "header", &h) != 0)
            goto fail;
        if (h && !config_is_token(h->str)) {
            yerr(cx, h, "'%.64s' is not a header name", h->str);
            goto fail;
        }
    }
    if (cidr_list_load(cx, from, where, &c->proxies, TP_TRUSTED) != 0 ||
        ystrdup(cx, h ? h : v, h ? h->str : "X-Forwarded-For", &c->header) != 0)
        goto fail;
    *conf = c;
    return 0;
fail:
    tp_free(c);
    return -1;
}

static bool trusted(const struct trusted_proxy_conf *c, struct str ip)
{
    struct cidr_addr a;
    return cidr_parse_ip(ip.ptr, ip.len, &a) && (cidr_trie_lookup(&c->proxies, &a) & TP_TRUSTED);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The rightmost list entry of v[0, *end), trimmed; *end moves to its comma (or 0). */
static struct str take_last(const char *v, size_t *end)
{
    size_t e = *end, s = e;
    while (s > 0 && v[s - 1] != ',')
        s--;
    *end = s ? s - 1 : 0;
    size_t b = s;
    while (b < e && is_blank(v[b]))
        b++;
    while (e > b && is_blank(v[e - 1]))
        e--;
    return (struct str){.ptr = v + b, .len = e - b};
}

struct str trusted_proxy_client(const struct trusted_proxy_conf *c, struct str peer,
                                const struct h1_header *h, uint32_t nh)
{
    struct str cur = peer, name = str_cstr(c->header);
    uint32_t hops = 0;
    /* Several header lines are one list in order: walk the last line first. */
    for (uint32_t i = nh; i-- > 0 && hops < c->depth;) {
        if (!str_eq_nocase(h[i].name, name))
            continue;
        size_t end = h[i].value.len;
        bool more = true;
        while (more && hops < c->depth) {
            if (!trusted(c, cur))
                return cur;
            more = end > 0;
            struct str e = take_last(h[i].value.ptr, &end);
            if (!e.len && !more)
                break; /* an empty line adds nothing */
            struct cidr_addr a;
            if (!cidr_parse_ip(e.ptr, e.len, &a))
                return cur; /* garbage: the proxy that passed it is the client */
            cur = e;
            hops++;
        }
    }
    return cur;
}

static enum pipeline_verdict tp_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct trusted_proxy_conf *c = x->link->conf;
    struct str peer = str_cstr(x->client_ip);
    struct str ip = trusted_proxy_client(c, peer, x->req->headers, x->req->nheaders);
    if (ip.ptr == peer.ptr)
        return PIPELINE_NEXT;
    char *s = arena_alloc(&x->arena, ip.len + 1);
    if (!s) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    memcpy(s, ip.ptr, ip.len);
    s[ip.len] = '\0';
    x->client_ip = s;
    return PIPELINE_NEXT;
}

const struct pipeline_module trusted_proxy_module = {
    .name = "trusted_proxies",
    .key = "trusted_proxies",
    .global = true,
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = tp_load,
    .config_free = tp_free,
    .on_request = tp_request,
};

/* ip_rules.c — see ip_rules.h. */
#include "security/ip_rules.h"

#include <stdlib.h>
#include <string.h>

#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "security/audit.h"
#include "security/cidr_list.h"

int ip_rules_load(struct ycx *cx, const struct ynode *v, const char *where, struct ip_rules *r)
{
    static const char *const keys[] = {"allow", "deny", "status", NULL};
    cidr_trie_init(&r->trie);
    r->status = 403;
    uint32_t status = 403;
    if (yexpect(cx, v, YNODE_MAP, where) != 0 || ymap_check(cx, v, where, keys) != 0 ||
        yopt_u32(cx, v, "status", 400, 599, &status) != 0)
        return -1;
    r->status = (uint16_t)status;
    const struct ynode *allow = ymap_get(v, "allow"), *deny = ymap_get(v, "deny");
    if (allow && cidr_list_load(cx, allow, "allow", &r->trie, IP_RULES_ALLOW) != 0)
        return -1;
    r->has_allow = allow && (allow->kind == YNODE_SCALAR || allow->nitems > 0);
    if (deny && cidr_list_load(cx, deny, "deny", &r->trie, IP_RULES_DENY) != 0)
        return -1;
    return 0;
}

void ip_rules_fini(struct ip_rules *r)
{
    cidr_trie_free(&r->trie);
}

enum ip_rules_result ip_rules_check(const struct ip_rules *r, const char *ip, size_t n)
{
    struct cidr_addr a;
    if (!cidr_parse_ip(ip, n, &a))
        return r->has_allow ? IP_RULES_NOT_ALLOWED : IP_RULES_PASS;
    uint8_t f = cidr_trie_lookup(&r->trie, &a);
    if (f & IP_RULES_DENY)
        return IP_RULES_DENIED;
    if (r->has_allow && !(f & IP_RULES_ALLOW))
        return IP_RULES_NOT_ALLOWED;
    return IP_RULES_PASS;
}

void ip_rules_conf_free(void *conf)
{
    if (!conf)
        return;
    ip_rules_fini(conf);
    free(conf);
}

int ip_rules_conf_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    struct ip_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return yerr(cx, v, "out of memory");
    if (ip_rules_load(cx, v, where, r) != 0) {
        ip_rules_conf_free(r);
        return -1;
    }
    *conf = r;
    return 0;
}

static enum pipeline_verdict ipr_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct ip_rules *r = x->link->conf;
    const char *ip = x->client_ip ? x->client_ip : "";
    enum ip_rules_result res = ip_rules_check(r, ip, strlen(ip));
    if (res == IP_RULES_PASS)
        return PIPELINE_NEXT;
    const char *rule = res == IP_RULES_DENIED ? "ip_rules.deny" : "ip_rules.allow";
    audit_emit_exchange(x, "ip_denied", rule, NULL);
    return pipeline_reply(x, r->status, "the client address is not allowed here");
}

const struct pipeline_module ip_rules_module = {
    .name = "ip_rules",
    .key = "ip_rules",
    .global = true,
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = ip_rules_conf_load,
    .config_free = ip_rules_conf_free,
    .on_request = ipr_request,
};

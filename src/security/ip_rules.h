/* ip_rules.h — the `ip_rules:` key, per route (or at the top level as every route's default)
 * and per listener: allow and deny lists of IPv4/IPv6 CIDR blocks over the client's address
 * (the socket's peer, or what trusted_proxies resolved).
 *
 *   ip_rules:
 *     allow: ["10.0.0.0/8", "2001:db8::/32"]   # absent or empty: everyone not denied
 *     deny: ["10.6.6.0/24"]
 *     status: 403                               # the refusal's status
 *
 * Deny wins: an address inside any deny block is refused even when a more specific allow
 * block holds it too. With an allow list, an address in none of its blocks is refused. An
 * address that does not parse (none should) is refused when there is an allow list. Both
 * lists live in one cidr_trie (flags ALLOW | DENY), so a check is one O(128) walk. */
#ifndef WEIR_SECURITY_IP_RULES_H
#define WEIR_SECURITY_IP_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/module.h"
#include "security/cidr_trie.h"

struct ycx;
struct ynode;

#define IP_RULES_ALLOW 1u
#define IP_RULES_DENY 2u

struct ip_rules {
    struct cidr_trie trie;
    bool has_allow;
    uint16_t status;             /* default 403 */
};

enum ip_rules_result { IP_RULES_PASS = 0, IP_RULES_DENIED, IP_RULES_NOT_ALLOWED };

/* Loads an ip_rules mapping into *r (zeroed by the caller). Config loader. 0 or -1. */
int ip_rules_load(struct ycx *cx, const struct ynode *v, const char *where, struct ip_rules *r);
void ip_rules_fini(struct ip_rules *r);
/* The same as an allocated conf (route key and listener key loaders). */
int ip_rules_conf_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
void ip_rules_conf_free(void *conf);
/* The verdict for an address string (n bytes). Any thread. */
enum ip_rules_result ip_rules_check(const struct ip_rules *r, const char *ip, size_t n);

extern const struct pipeline_module ip_rules_module;

#endif

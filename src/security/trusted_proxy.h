/* trusted_proxy.h — the `trusted_proxies:` key (top level, or per route): which peers may tell
 * weir the client's address in X-Forwarded-For, and how many hops of it to believe.
 *
 * Without it the client is the socket's peer and X-Forwarded-For is never read. With it, the
 * module (first in the access phase) walks from the peer right-to-left over X-Forwarded-For:
 * while the current hop is a trusted proxy and fewer than `depth` hops were taken, the next
 * entry to the left becomes the current hop. The first untrusted hop is the client, and
 * x->client_ip is set to it for every later module (ip_rules, lockout, rate limits). A
 * client-sent header therefore only counts when it arrived through a trusted proxy, and only
 * the entries those proxies appended. An entry that is not an address stops the walk at the
 * proxy that passed it. */
#ifndef WEIR_SECURITY_TRUSTED_PROXY_H
#define WEIR_SECURITY_TRUSTED_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/module.h"
#include "security/cidr_trie.h"

struct h1_header;

struct trusted_proxy_conf {
    struct cidr_trie proxies;
    uint32_t depth;              /* hops of X-Forwarded-For believed at most; default 1 */
    char *header;                /* default "X-Forwarded-For" */
};

/* The client's address for a peer and its request headers: a pointer to the peer string or
 * into a header value, and its length. Pure; exposed for tests and benches. */
struct str trusted_proxy_client(const struct trusted_proxy_conf *c, struct str peer,
                                const struct h1_header *h, uint32_t nh);

extern const struct pipeline_module trusted_proxy_module;

#endif

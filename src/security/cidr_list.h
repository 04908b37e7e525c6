/* cidr_list.h — loading a YAML list of CIDR blocks into a cidr_trie with one flag, with
 * file:line:col errors. Shared by ip_rules and trusted_proxy (config loader, main thread). */
#ifndef WEIR_SECURITY_CIDR_LIST_H
#define WEIR_SECURITY_CIDR_LIST_H

#include <stdint.h>

#include "security/cidr_trie.h"

struct ycx;
struct ynode;

/* v: a sequence of scalars ("10.0.0.0/8", "::1", ...), or a single scalar. 0 or -1. */
int cidr_list_load(struct ycx *cx, const struct ynode *v, const char *what, struct cidr_trie *t,
                   uint8_t flag);

#endif

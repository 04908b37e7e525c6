/* cidr_trie.h — a path-compressed binary radix trie of IPv4/IPv6 CIDR prefixes, each carrying
 * a small set of flags (allow, deny, trusted ...). IPv4 is kept as IPv4-mapped IPv6
 * (::ffff:a.b.c.d/96+n), so "10.0.0.1" and "::ffff:10.0.0.1" are the same address.
 *
 * A lookup returns the OR of the flags of every prefix that contains the address (the caller
 * decides what "deny wins" means); it walks at most one node per distinguishing bit, so it is
 * O(prefix bits) — at most 129 nodes — whatever the number of prefixes. Built on the main
 * thread by the config loader, then immutable: lookups from any thread need no lock. */
#ifndef WEIR_SECURITY_CIDR_TRIE_H
#define WEIR_SECURITY_CIDR_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr_node;

struct cidr_trie {
    struct cidr_node *nodes;     /* nodes[0] is the root (the /0 prefix) */
    uint32_t n, cap;
    uint32_t nprefixes;
};

/* A 128-bit address, most significant byte first (network order). */
struct cidr_addr {
    uint8_t b[16];
};

void cidr_trie_init(struct cidr_trie *t);
void cidr_trie_free(struct cidr_trie *t);
/* Adds `flags` to the prefix addr/len (len 0..128 in the 128-bit space). 0, or -1 when out
 * of memory. */
int cidr_trie_add(struct cidr_trie *t, const struct cidr_addr *a, uint32_t len, uint8_t flags);
/* The OR of the flags of every prefix containing a; 0 when none (or the trie is empty). */
uint8_t cidr_trie_lookup(const struct cidr_trie *t, const struct cidr_addr *a);

/* Parses "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" into the 128-bit space (v4 mapped, the prefix
 * length moved by 96). 0, or -1 with *why set. */
int cidr_parse(const char *s, struct cidr_addr *a, uint32_t *len, const char **why);
/* Parses an address (no prefix) as a client address: v4, v6 or v4-mapped v6; surrounding
 * blanks are not accepted. `n` bytes of s (not NUL-terminated). true on success. */
bool cidr_parse_ip(const char *s, size_t n, struct cidr_addr *a);

#endif

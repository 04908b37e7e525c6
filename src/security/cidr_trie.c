/* cidr_trie.c — see cidr_trie.h. Nodes live in one growing array and point to each other by
 * index, so the trie is a single allocation to free and stays compact (16 + 12 bytes a node). */
#include "security/cidr_trie.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef unsigned __int128 u128;

struct cidr_node {
    u128 key;                    /* the prefix, bits past len zero */
    uint32_t child[2];           /* node indexes; 0 = none (the root is never a child) */
    uint8_t len;                 /* prefix length 0..128 */
    uint8_t flags;               /* 0 for a branching node that is no prefix of its own */
};

static u128 to_u128(const struct cidr_addr *a)
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = v << 8 | a->b[i];
    return v;
}

static u128 mask(u128 k, uint32_t len)
{
    return len == 0 ? 0 : k & (~(u128)0 << (128 - len));
}

/* Bit `i` (0 = the most significant) of k; i < 128. */
static unsigned bit(u128 k, uint32_t i)
{
    return (unsigned)(k >> (127 - i)) & 1u;
}

static uint32_t common_len(u128 a, u128 b, uint32_t max)
{
    u128 d = a ^ b;
    uint32_t n;
    if (!d)
        n = 128;
    else {
        uint64_t hi = (uint64_t)(d >> 64);
        n = hi ? (uint32_t)__builtin_clzll(hi) : 64 + (uint32_t)__builtin_clzll((uint64_t)d);
    }
    return n < max ? n : max;
}

void cidr_trie_init(struct cidr_trie *t)
{
    memset(t, 0, sizeof(*t));
}

void cidr_trie_free(struct cidr_trie *t)
{
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

static uint32_t new_node(struct cidr_trie *t, u128 key, uint32_t len, uint8_t flags)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        struct cidr_node *nn = realloc(t->nodes, (size_t)cap * sizeof(*nn));
        if (!nn)
            return 0;
        t->nodes = nn;
        t->cap = cap;
    }
    t->nodes[t->n] = (struct cidr_node){.key = mask(key, len), .len = (uint8_t)len,
                                        .flags = flags};
    return t->n++;
}

int cidr_trie_add(struct cidr_trie *t, const struct cidr_addr *a, uint32_t len, uint8_t flags)
{
    if (len > 128)
        return -1;
    if (!t->n && new_node(t, 0, 0, 0) != 0)
        return -1;
    u128 key = mask(to_u128(a), len);
    uint32_t cur = 0;
    for (;;) {
        struct cidr_node *c = &t->nodes[cur];
        if (c->len == len) {
            if (!c->flags && flags)
                t->nprefixes++;
            c->flags |= flags;
            return 0;
        }
        unsigned b = bit(key, c->len);
        uint32_t ci = c->child[b];
        if (!ci) {
            uint32_t leaf = new_node(t, key, len, flags);
            if (!leaf)
                return -1;
            t->nodes[cur].child[b] = leaf;
            t->nprefixes++;
            return 0;
        }
        struct cidr_node *ch = &t->nodes[ci];
        uint32_t common = common_len(key, ch->key, len < ch->len ? len : ch->len);
        if (common == ch->len) { /* the child is a prefix of the new one: go down */
            cur = ci;
            continue;
        }
        u128 chkey = ch->key;
        if (common == len) { /* the new prefix sits between cur and the child */
            uint32_t n = new_node(t, key, len, flags);
            if (!n)
                return -1;
            t->nodes[n].child[bit(chkey, len)] = ci;
            t->nodes[cur].child[b] = n;
            t->nprefixes++;
            return 0;
        }
        /* they part at `common`: a branching node above both */
        uint32_t m = new_node(t, key, common, 0);
        uint32_t leaf = m ? new_node(t, key, len, flags) : 0;
        if (!leaf)
            return -1;
        t->nodes[m].child[bit(key, common)] = leaf;
        t->nodes[m].child[bit(chkey, common)] = ci;
        t->nodes[cur].child[b] = m;
        t->nprefixes++;
        return 0;
    }
}

uint8_t cidr_trie_lookup(const struct cidr_trie *t, const struct cidr_addr *a)
{
    if (!t->n)
        return 0;
    u128 k = to_u128(a);
    const struct cidr_node *c = &t->nodes[0];
    uint8_t flags = c->flags;
    while (c->len < 128) {
        uint32_t ci = c->child[bit(k, c->len)];
        if (!ci)
            break;
        c = &t->nodes[ci];
        if (mask(k, c->len) != c->key)
            break;
        flags |= c->flags;
    }
    return flags;
}

static bool parse_addr(const char *buf, struct cidr_addr *a, bool *v4)
{
    uint8_t v4b[4];
    if (inet_pton(AF_INET, buf, v4b) == 1) {
        memset(a->b, 0, 10);
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, v4b, 4);
        *v4 = true;
        return true;
    }
    *v4 = false;
    return inet_pton(AF_INET6, buf, a->b) == 1;
}

bool cidr_parse_ip(const char *s, size_t n, struct cidr_addr *a)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (!n || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    bool v4;
    return parse_addr(buf, a, &v4);
}

int cidr_parse(const char *s, struct cidr_addr *a, uint32_t *len, const char **why)
{
    char buf[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    bool v4;
    if (!n || n >= sizeof(buf)) {
        *why = "not an address";
        return -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!parse_addr(buf, a, &v4)) {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    uint32_t max = v4 ? 32 : 128, l = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3) {
            *why = "bad prefix length";
            return -1;
        }
        l = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9') {
                *why = "bad prefix length";
                return -1;
            }
            l = l * 10 + (uint32_t)(*p - '0');
        }
        if (l > max) {
            *why = v4 ? "prefix length over 32" : "prefix length over 128";
            return -1;
        }
    }
    *len = v4 ? 96 + l : l;
    return 0;
}

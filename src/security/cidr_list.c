/* cidr_list.c — see cidr_list.h. */
#include "security/cidr_list.h"

#include "core/config_yaml.h"

static int load_one(struct ycx *cx, const struct ynode *n, const char *what, struct cidr_trie *t,
                    uint8_t flag)
{
    struct cidr_addr a;
    uint32_t len;
    const char *why;
    if (yscalar(cx, n, what) != 0)
        return -1;
    if (cidr_parse(n->str, &a, &len, &why) != 0)
        return yerr(cx, n, "'%.64s' in '%s' is not a CIDR block: %s", n->str, what, why);
    if (cidr_trie_add(t, &a, len, flag) != 0)
        return yerr(cx, n, "out of memory");
    return 0;
}

int cidr_list_load(struct ycx *cx, const struct ynode *v, const char *what, struct cidr_trie *t,
                   uint8_t flag)
{
    if (v->kind == YNODE_SCALAR)
        return load_one(cx, v, what, t, flag);
    if (yexpect(cx, v, YNODE_SEQ, what) != 0)
        return -1;
    for (uint32_t i = 0; i < v->nitems; i++)
        if (load_one(cx, v->items[i], what, t, flag) != 0)
            return -1;
    return 0;
}

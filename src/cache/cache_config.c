/* cache_config.c — see cache_config.h. Main thread (the config loader). */
#include "cache/cache_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/config.h"
#include "core/config_yaml.h"

#define MAX_NAMES 32

static void free_names(char **l, uint32_t n)
{
    for (uint32_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void cache_config_free(void *conf)
{
    struct cache_conf *c = conf;
    if (!c)
        return;
    free(c->tag_header);
    free(c->prewarm_file);
    free_names(c->key.ignore_params, c->key.nignore);
    free_names(c->key.headers, c->key.nheaders);
    free_names(c->key.cookies, c->key.ncookies);
    free(c);
}

/* A list of names (or one name), each a token. */
static int load_names(struct ycx *cx, const struct ynode *map, const char *key, char ***out,
                      uint32_t *n)
{
    const struct ynode *v = ymap_get(map, key);
    if (!v)
        return 0;
    const struct ynode *const *items = &v;
    uint32_t count = 1;
    if (v->kind == YNODE_SEQ) {
        items = (const struct ynode *const *)v->items;
        count = v->nitems;
    } else if (yscalar(cx, v, key) != 0) {
        return -1;
    }
    if (count > MAX_NAMES)
        return yerr(cx, v, "'%s' lists more than %d names", key, MAX_NAMES);
    char **l = calloc(count ? count : 1, sizeof(*l));
    if (!l)
        return yerr(cx, v, "out of memory");
    *out = l;
    for (uint32_t i = 0; i < count; i++) {
        if (yscalar(cx, items[i], key) != 0)
            return -1;
        if (!items[i]->len || strpbrk(items[i]->str, " \t\r\n,;=&?"))
            return yerr(cx, items[i], "'%s': '%.40s' is not a name", key, items[i]->str);
        if (ystrdup(cx, items[i], items[i]->str, &l[i]) != 0)
            return -1;
        *n = i + 1;
    }
    return 0;
}

/* A duration in whole seconds ("0" allowed where zero means off). */
static int opt_seconds(struct ycx *cx, const struct ynode *map, const char *key, bool zero_ok,
                       int64_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (zero_ok && (strcmp(v->str, "0") == 0 || strcasecmp(v->str, "off") == 0)) {
        *out = 0;
        return 0;
    }
    uint64_t ms;
    if (config_parse_duration_ms(v->str, &ms) != 0 || ms < 1000 || ms > 365ull * 86400 * 1000)
        return yerr(cx, v, "'%s' is a duration from 1s to 365d (like 30s, 10m, 1h)%s", key,
                    zero_ok ? ", or 0" : "");
    *out = (int64_t)(ms / 1000);
    return 0;
}

int cache_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **out)
{
    static const char *const keys[] = {"max_size",    "max_object",    "policy",
                                       "default_ttl", "heuristic_max", "x_cache",
                                       "coalesce",    "coalesce_wait", "pass_ttl",
                                       "tag_header",  "key",           "prewarm_file",
                                       NULL};
    static const char *const key_keys[] = {"ignore_query", "headers", "cookies", NULL};
    enum ysection_form form;
    if (ysection_form(cx, v, where, true, &form) != 0)
        return -1;
    if (form == YSECTION_OFF)
        return 0;
    struct cache_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    *out = c;
    c->max_size = 256ull << 20;
    c->max_object = 8ull << 20;
    c->policy = CACHE_POLICY_DEFAULT;
    c->heuristic_max = 86400;
    c->x_cache = true;
    c->coalesce = true;
    c->coalesce_wait_ms = 10000;
    c->pass_ttl = 10;
    if (!(c->tag_header = strdup("Cache-Tag")))
        return yerr(cx, v, "out of memory");
    if (form == YSECTION_ON)
        return 0;
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    const struct ynode *n;
    if (yopt_size(cx, v, "max_size", 64 * 1024, 1ull << 46, &c->max_size) != 0 ||
        yopt_size(cx, v, "max_object", 1, 1ull << 40, &c->max_object) != 0 ||
        opt_seconds(cx, v, "default_ttl", true, &c->default_ttl) != 0 ||
        opt_seconds(cx, v, "heuristic_max", true, &c->heuristic_max) != 0 ||
        opt_seconds(cx, v, "pass_ttl", true, &c->pass_ttl) != 0 ||
        yopt_bool(cx, v, "x_cache", &c->x_cache) != 0 ||
        yopt_bool(cx, v, "coalesce", &c->coalesce) != 0 ||
        yopt_ms(cx, v, "coalesce_wait", &c->coalesce_wait_ms) != 0)
        return -1;
    if ((n = ymap_get(v, "policy"))) {
        if (yscalar(cx, n, "policy") != 0)
            return -1;
        if (!(c->policy = cache_policy_find(n->str)))
            return yerr(cx, n, "unknown cache policy '%.32s' (s3fifo, tinylfu, lru, lfu or fifo)",
                        n->str);
    }
    if ((n = ymap_get(v, "tag_header"))) {
        if (yscalar(cx, n, "tag_header") != 0 || !config_is_token(n->str))
            return yerr(cx, n, "'tag_header' is a header name");
        free(c->tag_header);
        c->tag_header = NULL;
        if (ystrdup(cx, n, n->str, &c->tag_header) != 0)
            return -1;
    }
    if ((n = ymap_get(v, "prewarm_file"))) {
        if (yscalar(cx, n, "prewarm_file") != 0)
            return -1;
        if (access(n->str, R_OK) != 0)
            return yerr(cx, n, "prewarm_file '%.200s' cannot be read: %s", n->str, strerror(errno));
        if (ystrdup(cx, n, n->str, &c->prewarm_file) != 0)
            return -1;
    }
    /* The store is split in 16 shards and an object lives in one: a max_object the operator
     * wrote must fit; the default shrinks to fit a small max_size. */
    if (c->max_object > c->max_size / 16) {
        const struct ynode *mo = ymap_get(v, "max_object");
        if (mo)
            return yerr(cx, mo, "max_object (%llu) is more than a 16th of max_size (%llu): the "
                                "store is split in 16 shards and an object lives in one",
                        (unsigned long long)c->max_object, (unsigned long long)c->max_size);
        c->max_object = c->max_size / 16;
    }
    if ((n = ymap_get(v, "key"))) {
        if (ymap_check(cx, n, "cache.key", key_keys) != 0 ||
            load_names(cx, n, "ignore_query", &c->key.ignore_params, &c->key.nignore) != 0 ||
            load_names(cx, n, "headers", &c->key.headers, &c->key.nheaders) != 0 ||
            load_names(cx, n, "cookies", &c->key.cookies, &c->key.ncookies) != 0)
            return -1;
    }
    return 0;
}

/* sec_common.c — see sec_common.h. */
#include "security/sec_common.h"

#include <string.h>

#include "core/config_yaml.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "security/sec_kv.h"

int sec_statuses_load(struct ycx *cx, const struct ynode *v, const char *what, uint16_t *out,
                      uint32_t max, uint32_t *n)
{
    if (yexpect(cx, v, YNODE_SEQ, what) != 0)
        return -1;
    if (v->nitems == 0 || v->nitems > max)
        return yerr(cx, v, "'%s' lists 1 to %u statuses", what, max);
    *n = 0;
    for (uint32_t i = 0; i < v->nitems; i++) {
        uint64_t st;
        const char *end;
        if (yscalar(cx, v->items[i], what) != 0)
            return -1;
        if (yparse_u64(v->items[i]->str, &end, &st) != 0 || *end || st < 200 || st > 599)
            return yerr(cx, v->items[i], "'%.16s' is not a status 200..599", v->items[i]->str);
        out[(*n)++] = (uint16_t)st;
    }
    return 0;
}

int sec_zone_load(struct ycx *cx, const struct ynode *map, char **out)
{
    const struct ynode *z = NULL;
    if (yopt_str(cx, map, "zone", &z) != 0)
        return -1;
    if (!z)
        return 0;
    if (strchr(z->str, '|') || z->len > 64)
        return yerr(cx, z, "'zone' has at most 64 characters and no '|'");
    return ystrdup(cx, z, z->str, out);
}

enum pipeline_verdict sec_refuse(struct exchange *x, uint16_t status, const char *detail,
                                 uint64_t until_ms, uint64_t now_ms)
{
    enum pipeline_verdict v = pipeline_reply(x, status, detail);
    if (v == PIPELINE_RESPOND) {
        uint64_t s = until_ms > now_ms ? (until_ms - now_ms + 999) / 1000 : 1;
        response_remove(&x->reply, STR_LIT("Retry-After"));
        if (response_addf(&x->reply, &x->arena, STR_LIT("Retry-After"), "%llu",
                          (unsigned long long)(s ? s : 1)) != 0)
            return PIPELINE_FAIL;
    }
    return v;
}

void *sec_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)route;
    (void)conf;
    return sec_kv_get();
}

void sec_shared_put(void *shared)
{
    sec_kv_put(shared);
}

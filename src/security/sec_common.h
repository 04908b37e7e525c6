/* sec_common.h — what the lock-out and abnormal-access modules share besides their store:
 * config pieces (status lists, the key zone) and the locked-out reply. */
#ifndef WEIR_SECURITY_SEC_COMMON_H
#define WEIR_SECURITY_SEC_COMMON_H

#include <stdint.h>

#include "pipeline/module.h"

struct cfg_route;

/* A YAML list of 1..max statuses (200..599) into out[*n]. Config loader. 0 or -1. */
int sec_statuses_load(struct ycx *cx, const struct ynode *v, const char *what, uint16_t *out,
                      uint32_t max, uint32_t *n);
/* The optional `zone` key of map (at most 64 characters, no '|') into *out. 0 or -1. */
int sec_zone_load(struct ycx *cx, const struct ynode *map, char **out);
/* `status` with `detail` and Retry-After: the seconds until `until_ms` (at least 1). */
enum pipeline_verdict sec_refuse(struct exchange *x, uint16_t status, const char *detail,
                                 uint64_t until_ms, uint64_t now_ms);
/* shared_get / shared_put of both modules: the process's security kv store (sec_kv.h). */
void *sec_shared_get(const struct cfg_route *route, const void *conf);
void sec_shared_put(void *shared);

#endif

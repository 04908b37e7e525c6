/* config_health.h — internal to the config loader: an upstream group's `health` section.
 *
 * Split from config_upstream.c only to keep files small; same rules: main thread only, 0 on
 * success, -1 after writing the first error into the context. */
#ifndef WEIR_CORE_CONFIG_HEALTH_H
#define WEIR_CORE_CONFIG_HEALTH_H

#include "core/config.h"
#include "core/config_yaml.h"

/* Fills u->active and u->passive from the `health` key of the group mapping `group` (which
 * ymap_check has already accepted), defaults first, so the strings active.method and
 * active.path are set even when active checks are off. u->name must already be set. On error
 * what was allocated stays in u for config_free. */
int config_load_health(struct ycx *cx, const struct ynode *group, struct cfg_upstream *u);

#endif

/* config_state.h — internal to the config loader: the `state:` section (issue 15), which
 * picks the state-store backend (memory, or Redis shared by several weir instances) and each
 * feature's policy when the store does not answer. Main thread only; 0, or -1 after writing the
 * first error ("file:line:col: ...") into the context. */
#ifndef WEIR_CORE_CONFIG_STATE_H
#define WEIR_CORE_CONFIG_STATE_H

#include "core/config.h"
#include "core/config_yaml.h"

/* Stores the defaults (memory backend) into *st. Allocates nothing. */
void config_state_defaults(struct cfg_state *st);
/* Fills *st from the `state` mapping v; on error what was allocated stays for
 * config_state_free. */
int config_load_state(struct ycx *cx, const struct ynode *v, struct cfg_state *st);
void config_state_free(struct cfg_state *st);

#endif

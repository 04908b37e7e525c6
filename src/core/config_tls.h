/* config_tls.h — internal to the config loader: a listener's `tls` and `redirect_https`, an
 * upstream group's and the state store's `tls`. Only the shape and readability of files is checked here; the PEM
 * contents are checked when the TLS layer builds its contexts (tls/tls_gen.h), which names
 * the file when one is wrong. Same rules as the other loader files: main thread only, 0 on
 * success, -1 after writing the first error into the context. */
#ifndef WEIR_CORE_CONFIG_TLS_H
#define WEIR_CORE_CONFIG_TLS_H

#include "core/config.h"
#include "core/config_yaml.h"

/* The listener mapping `item` (already accepted by ymap_check): `tls` and `redirect_https`. */
int config_load_listener_tls(struct ycx *cx, const struct ynode *item, const char *where,
                             struct cfg_listener *l);
/* The `tls` of mapping `parent` (an upstream group, `state`), when present: true, false or
 * the client keys (verify, ca, sni, client_cert, client_key, ciphers, session_reuse); *out
 * stays NULL when absent or false. */
int config_load_client_tls(struct ycx *cx, const struct ynode *parent, const char *where,
                           struct cfg_tls_upstream **out);
/* The group mapping `group`: its `tls`, when present. */
int config_load_upstream_tls(struct ycx *cx, const struct ynode *group, const char *where,
                             struct cfg_upstream *u);

void config_tls_server_free(struct cfg_tls_server *t);
void config_tls_upstream_free(struct cfg_tls_upstream *t);

#endif

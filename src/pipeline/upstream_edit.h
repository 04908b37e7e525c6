/* upstream_edit.h — edits of the request a route sends upstream (exchange.h upstream_drop /
 * upstream_add), appended to what earlier modules asked for rather than replacing it: an
 * authentication module drops a client's copy of X-User and adds its own, the next one adds
 * its client id, a token's query parameter is taken out of the target. Arena memory; the
 * exchange's thread; on_request only. */
#ifndef WEIR_PIPELINE_UPSTREAM_EDIT_H
#define WEIR_PIPELINE_UPSTREAM_EDIT_H

#include "pipeline/exchange.h"

/* The upstream request leaves out every field of this name (name is not copied: static or
 * config memory that outlives the exchange). 0 or -1 (out of memory). */
int upstream_edit_drop(struct exchange *x, struct str name);
/* Adds "name: value" (both copied). -1 when out of memory or when the value holds a control
 * character other than tab (CR, LF, NUL: a header injection) — nothing is added then. */
int upstream_edit_add(struct exchange *x, struct str name, struct str value);
/* Takes every query parameter called name ("name=..." or a bare "name") out of the target sent
 * upstream (the client's, or what an earlier edit left): "/a?x=1&token=t&y=2" → "/a?x=1&y=2",
 * "/a?token=t" → "/a". 0 (also when there was none), or -1 (out of memory). */
int upstream_edit_drop_query(struct exchange *x, struct str name);

#endif

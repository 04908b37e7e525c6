/* mask_module.h — the `mask:` key: sensitive JSON fields masked in response bodies, at the
 * gateway ("mask on the server side, not in the client"), streaming (mask_json.h).
 *
 *   mask:
 *     fields: ["$.users[*].phone", "$.card.number"]
 *     keep_tail: 4        # characters kept at the end (default 4)
 *     keep_head: 0        # and at the start (010-****-5678 is keep_head 3)
 *     max_body: 8MiB      # larger bodies are refused, never sent unmasked
 *     max_depth: 64
 *     unless_claim: {role: admin}   # or when_claim: decided per token (jwt's x->auth_claims)
 *
 * Applies to JSON responses (application/json, any +json type). Fail closed: a body whose
 * Content-Length is over max_body, or that comes content-coded (the module already asks the
 * upstream for identity), is answered 502 instead; one that turns out over max_body, deeper
 * than max_depth or not JSON while it streams is cut where it went wrong (the client sees a
 * truncated response: nothing past that point, and no unmasked value, leaves). */
#ifndef WEIR_SECURITY_MASK_MODULE_H
#define WEIR_SECURITY_MASK_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module mask_module;

#endif

/* revocation_admin.h — the revocation list on the admin listener (docs/security.md):
 *   POST /revoke?jti=<id>[&ttl=<seconds>]   revoke one token by its jti
 *   POST /revoke?sub=<subject>[&ttl=...]    revoke every token of a subject
 *   GET  /revoke                            the live entries, JSON
 * ttl defaults to 86400 s (keep it at least the tokens' lifetime). Values are
 * percent-decoded. Admin thread. */
#ifndef WEIR_ADMIN_REVOCATION_ADMIN_H
#define WEIR_ADMIN_REVOCATION_ADMIN_H

#include <stdbool.h>

#include "admin/abuf.h"
#include "core/str.h"

/* Writes a JSON (or text) body into b and returns the status. */
int revocation_admin(bool post, struct str query, struct abuf *b);

#endif

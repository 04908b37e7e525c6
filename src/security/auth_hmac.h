/* auth_hmac.h — the `hmac_auth:` route key: requests signed with a shared secret
 * (HMAC-SHA256), for integrity and for server-to-server callers. The client sends
 *   X-Signature-Key: <key id>
 *   X-Signature-Timestamp: <Unix seconds>
 *   X-Signature: <hex HMAC-SHA256 of the canonical string under that key's secret>
 * where the canonical string is, each line ending in \n but the last:
 *   METHOD, the path (as sent, without the query), the query's parameters sorted bytewise
 *   and joined with &, the timestamp, one "name:value" line per configured header (name in
 *   lower case, value trimmed; an absent header gives "name:"), and the hex SHA-256 of the
 *   body (of nothing, for a request without one).
 * Refused with 401 (WWW-Authenticate: HMAC-SHA256): an unknown key, a bad signature, a
 * timestamp more than `skew` (300 s) away from weir's clock, or a signature seen within the
 * window (replay; the window remembers signatures until their timestamp + skew). The body is
 * read whole first (the host's need_body; a body it will not keep is refused). The key id goes
 * to x->client_id. */
#ifndef WEIR_SECURITY_AUTH_HMAC_H
#define WEIR_SECURITY_AUTH_HMAC_H

#include <stddef.h>

#include "pipeline/module.h"

extern const struct pipeline_module hmac_module;

struct exchange;
/* The canonical string of a request (for tests and clients): its length, or -1 when it does
 * not fit cap or the query has too many parameters. */
long hmac_canonical(const struct exchange *x, const char *ts, char *const *headers,
                    unsigned nheaders, struct str body, char *out, size_t cap);

#endif

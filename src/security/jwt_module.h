/* jwt_module.h — the `jwt:` route key: bearer tokens checked at the gateway (docs/security.md).
 *
 * Per request: the token (Authorization: Bearer, or a configured header, cookie or query
 * parameter); its SHA-256 looked up in the verified-token cache; on a miss: parse (jwt.c), the
 * key by kid and algorithm (jwt_keys.c; a JWKS URL is fetched and this request waits for it,
 * at most jwks_timeout), the signature, the time claims with leeway, iss / aud / required
 * claims, then `require` (403 when unmet); the outcome cached until exp. Every request, hit or
 * miss: the revocation list (jti, sub), the claim headers (client copies dropped) and the
 * token's removal unless forward_token. Failures are 401 with WWW-Authenticate: Bearer
 * error="invalid_token". */
#ifndef WEIR_SECURITY_JWT_MODULE_H
#define WEIR_SECURITY_JWT_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module jwt_module;

#endif

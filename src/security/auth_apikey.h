/* auth_apikey.h — the `api_key:` route key: a key in a request header (X-API-Key by default)
 * or a query parameter, checked against SHA-256 hashes in the config (the keys themselves are
 * never stored). Every configured hash is compared, in constant time (CRYPTO_memcmp), so the
 * time taken says nothing about which or how much matched. A match names a client: its id goes
 * upstream in client_header (a client's own copy dropped) and into x->client_id, where a
 * later module (a rate limit keyed on the client) can read it. The key's header is not
 * forwarded unless forward_key. Missing or unknown key: 401. */
#ifndef WEIR_SECURITY_AUTH_APIKEY_H
#define WEIR_SECURITY_AUTH_APIKEY_H

#include "pipeline/module.h"

extern const struct pipeline_module apikey_module;

#endif

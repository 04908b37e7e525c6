/* auth_forward.h — the `forward_auth:` route key: ask an authentication service. For each
 * request weir sends a sub-request without body to `url` (through its own routes, like the
 * JWKS fetch: the URL's host must match a weir route whose upstream is the service) carrying
 * X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-For and the listed request fields
 * (Authorization and Cookie by default). A 2xx answer lets the request through with the listed
 * response fields (copy_headers) added upstream, a client's own copies dropped; any other
 * answer goes to the client as it is (status, body up to 64 KiB, Content-Type,
 * WWW-Authenticate, Location). No answer within `timeout` (2 s), or none at all: 503, unless
 * on_timeout: allow. The request waits (PIPELINE_WAIT) while the service thinks; a client that
 * leaves meanwhile leaves the answer to be dropped. */
#ifndef WEIR_SECURITY_AUTH_FORWARD_H
#define WEIR_SECURITY_AUTH_FORWARD_H

#include "pipeline/module.h"

extern const struct pipeline_module forward_auth_module;

#endif

/* cors.h — the `cors:` key, per route (or top level as every route's default): cross-origin
 * requests answered and marked by the gateway (docs/security.md, "CORS").
 *
 *   cors:
 *     origins: ["https://app.example.com", "https://(star).example.com"]  (or ["(star)"])
 *     methods: [GET, HEAD, POST]        # default; answered to a preflight
 *     headers: [Content-Type]           # request headers a preflight may ask for (default)
 *     expose: []                        # Access-Control-Expose-Headers
 *     credentials: false                # Access-Control-Allow-Credentials: true
 *     max_age: 600                      # seconds a browser keeps a preflight
 *
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered here: 204
 * with the Allow-* fields for an allowed origin, 403 otherwise; it never reaches the
 * upstream. On other requests the response gets Vary: Origin (appended) and, for an allowed
 * origin, Access-Control-Allow-Origin with that origin (an upstream's own value is replaced).
 * `*` is only ever sent for origins ["*"] without credentials: with credentials the origin is
 * echoed, never `*` (the config loader refuses the combination outright). */
#ifndef WEIR_SECURITY_CORS_H
#define WEIR_SECURITY_CORS_H

#include <stdbool.h>

#include "core/str.h"
#include "pipeline/module.h"

struct cors_conf {
    char **origins;
    uint32_t norigins;
    bool any;                    /* origins: ["*"] */
    bool credentials;
    char *methods, *headers, *expose;  /* joined with ", " */
    uint32_t max_age;
};

/* Whether the origin is allowed (exact, or a "scheme://(star).domain" pattern, (star) = *). */
bool cors_origin_allowed(const struct cors_conf *c, struct str origin);

extern const struct pipeline_module cors_module;

#endif

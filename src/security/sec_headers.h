/* sec_headers.h — the `security_headers:` key, per route (or top level as every route's
 * default): response fields that tell browsers to be careful, set in on_response_head on every
 * response of the route (proxied or made by weir).
 *
 *   security_headers:
 *     hsts: "max-age=31536000"          # Strict-Transport-Security, over TLS only; off: none
 *     content_type_options: nosniff     # X-Content-Type-Options; off: none
 *     referrer_policy: strict-origin-when-cross-origin
 *     frame_options: DENY               # X-Frame-Options
 *     csp: pass                         # Content-Security-Policy: pass (the upstream's, the
 *                                       # default), off (removed), or a policy that is set
 *     override: false                   # true: replace the upstream's values too
 *
 * Written `security_headers: on` it takes the defaults above. Without override a field the
 * upstream sent is kept (the application may know better); with it, ours replace it. */
#ifndef WEIR_SECURITY_SEC_HEADERS_H
#define WEIR_SECURITY_SEC_HEADERS_H

#include <stdbool.h>

#include "pipeline/module.h"

enum sec_csp { SEC_CSP_PASS = 0, SEC_CSP_OFF, SEC_CSP_SET };

struct sec_headers_conf {
    char *hsts, *content_type_options, *referrer_policy, *frame_options; /* NULL = off */
    enum sec_csp csp_mode;
    char *csp;
    bool override;
};

extern const struct pipeline_module sec_headers_module;

#endif

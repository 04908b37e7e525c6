/* registry.c — see registry.h. Order is the request order; responses run it backwards. */
#include "modules/registry.h"

#include "cache/cache_module.h"
#include "core/config.h"
#include "modules/compress/compress_module.h"
#include "modules/concurrency/concurrency.h"
#include "modules/idempotency/idempotency.h"
#include "modules/ratelimit/ratelimit_module.h"
#include "modules/request_buffering/request_buffering.h"
#include "modules/shed/shed.h"
#include "modules/static/static_module.h"
#include "security/abnormal.h"
#include "security/auth_apikey.h"
#include "security/auth_basic.h"
#include "security/auth_forward.h"
#include "security/auth_hmac.h"
#include "security/cors.h"
#include "security/ip_rules.h"
#include "security/jwt_module.h"
#include "security/lockout.h"
#include "security/mask_module.h"
#include "security/sec_headers.h"
#include "security/trusted_proxy.h"
#include "waitroom/wr_module.h"

static const struct pipeline_module *const modules[] = {
    /* access: the client's address first (trusted proxies), then who may come in at all */
    &trusted_proxy_module,
    &ip_rules_module,
    /* response hooks run backwards: these two mark every response of the modules after them */
    &sec_headers_module,
    &cors_module, /* preflights answered before anything spends a token on them */
    &lockout_module, /* a locked client is refused before the upstream is asked */
    &abnormal_watch_module, /* an address's penalty; counts the refusals of authentication */
    /* access: compression reads Accept-Encoding first so that its response hook runs last,
     * on every response (a refusal's included) */
    &compress_module,
    &mask_module, /* after compress: its transform sees the upstream's JSON, compress its output */
    /* who the client is, before it may take a place in a queue */
    &apikey_module,
    &basic_module,
    &hmac_module,
    &jwt_module,
    &forward_auth_module,
    &abnormal_module, /* after authentication: it keys on the subject when there is one */
    &waitroom_module, /* waiters are answered before anything spends a token on them */
    /* limit: cheapest refusal first; the body is read before anything holds a resource */
    &shed_module,
    &ratelimit_module,
    &request_buffering_module,
    &idempotency_module,
    &concurrency_module,
    &cache_module, /* cache: answers from the store, or goes on to the upstream */
    &static_module, /* content: terminal handlers last */
};

const struct pipeline_registry modules_registry = {
    .modules = modules,
    .n = sizeof(modules) / sizeof(modules[0]),
};

void modules_register(void)
{
    pipeline_registry_set(&modules_registry);
    config_listener_rules_set(ip_rules_conf_load, ip_rules_conf_free);
}

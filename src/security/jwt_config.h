/* jwt_config.h — a route's `jwt:` section (docs/config.md, docs/security.md). Loaded by the
 * config loader (main thread), immutable after; every error is file:line:col. */
#ifndef WEIR_SECURITY_JWT_CONFIG_H
#define WEIR_SECURITY_JWT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "security/jwks.h"

struct ycx;
struct ynode;

enum jwt_source { JWT_FROM_BEARER = 0, JWT_FROM_HEADER, JWT_FROM_COOKIE, JWT_FROM_QUERY };

struct jwt_pair {
    char *a, *b;            /* claims_to_headers: claim, header; require: claim, value */
};

#define JWT_FINGERPRINT_LEN 32

struct jwt_conf {
    /* SHA-256 over the section as written and the inline keys' material (a secret_file's
     * text included): equal sections share their keys and token cache across reloads. */
    uint8_t fingerprint[JWT_FINGERPRINT_LEN];
    enum jwt_source from;
    char *from_name;        /* header, cookie or query parameter name */
    struct jwks inline_keys;
    char *jwks_file;
    char *jwks_url;         /* as written */
    char *jwks_request;     /* the GET request for it (pipeline_worker.fetch_reply) */
    uint32_t jwks_refresh_min_ms, jwks_max_age_ms, jwks_timeout_ms;
    uint32_t leeway_s;
    bool require_exp;
    bool forward_token;
    uint32_t cache_size;    /* 0: no cache */
    char *realm;
    char **issuers, **audiences, **required;
    uint32_t nissuers, naudiences, nrequired;
    struct jwt_pair *require;     /* claim must equal / contain value, else 403 */
    uint32_t nrequire;
    struct jwt_pair *to_headers;
    uint32_t nto_headers;
};

/* The map at key (absent: 0 with nothing set) as claim: value pairs into *out, *n (free with
 * jwt_pairs_free, also after an error); header_values: each value must be a header name. */
int jwt_pairs_load(struct ycx *cx, const struct ynode *map, const char *key,
                   struct jwt_pair **out, uint32_t *n, bool header_values);
void jwt_pairs_free(struct jwt_pair *p, uint32_t n);
int jwt_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
void jwt_config_free(void *conf);

#endif

/* jwt_config.c — see jwt_config.h. */
#include "security/jwt_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/config.h"
#include "core/config_yaml.h"
#include "security/auth_common.h"

static const char *const jwt_keys[] = {
    "keys", "jwks_file", "jwks_url", "jwks_refresh_min", "jwks_max_age", "jwks_timeout",
    "leeway", "require_exp", "issuers", "audiences", "required_claims", "require",
    "claims_to_headers", "token_from", "forward_token", "cache_size", "realm", NULL};

static void free_list(char **l, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

void jwt_pairs_free(struct jwt_pair *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(p[i].a);
        free(p[i].b);
    }
    free(p);
}

void jwt_config_free(void *conf)
{
    struct jwt_conf *c = conf;
    if (!c)
        return;
    free(c->from_name);
    jwks_free(&c->inline_keys);
    free(c->jwks_file);
    free(c->jwks_url);
    free(c->jwks_request);
    free(c->realm);
    free_list(c->issuers, c->nissuers);
    free_list(c->audiences, c->naudiences);
    free_list(c->required, c->nrequired);
    jwt_pairs_free(c->require, c->nrequire);
    jwt_pairs_free(c->to_headers, c->nto_headers);
    free(c);
}

static int str_list(struct ycx *cx, const struct ynode *map, const char *key, char ***out,
                    uint32_t *n)
{
    const struct ynode *v = ymap_get(map, key);
    if (!v)
        return 0;
    if (v->kind == YNODE_SCALAR) { /* one value may stand alone */
        if (yscalar(cx, v, key) != 0 || !(*out = calloc(1, sizeof(char *))))
            return -1;
        *n = 1;
        return ystrdup(cx, v, v->str, &(*out)[0]);
    }
    if (yexpect(cx, v, YNODE_SEQ, key) != 0)
        return -1;
    if (!(*out = calloc(v->nitems ? v->nitems : 1, sizeof(char *))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        if (yscalar(cx, v->items[i], key) != 0 || ystrdup(cx, v->items[i], v->items[i]->str,
                                                          &(*out)[i]) != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

int jwt_pairs_load(struct ycx *cx, const struct ynode *map, const char *key,
                   struct jwt_pair **out, uint32_t *n, bool header_values)
{
    const struct ynode *v = ymap_get(map, key);
    if (!v)
        return 0;
    if (ymap_check(cx, v, key, NULL) != 0)
        return -1;
    if (!(*out = calloc(v->nitems / 2 + 1, sizeof(**out))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i += 2) {
        const struct ynode *k = v->items[i], *val = v->items[i + 1];
        if (yscalar(cx, val, key) != 0)
            return -1;
        if (header_values && !config_is_token(val->str))
            return yerr(cx, val, "'%s' is not a header name", val->str);
        struct jwt_pair *p = &(*out)[*n];
        if (ystrdup(cx, k, k->str, &p->a) != 0 || ystrdup(cx, val, val->str, &p->b) != 0)
            return -1;
        (*n)++;
    }
    return 0;
}

/* Duration with 0 allowed ("0", "30s", "2m"). */
static int opt_seconds(struct ycx *cx, const struct ynode *map, const char *key, uint32_t *out)
{
    const struct ynode *v = NULL;
    if (yopt_str(cx, map, key, &v) != 0)
        return -1;
    if (!v)
        return 0;
    uint64_t ms;
    if (!strcmp(v->str, "0")) {
        *out = 0;
        return 0;
    }
    if (config_parse_duration_ms(v->str, &ms) != 0 || ms > 86400000)
        return yerr(cx, v, "'%s' must be a duration such as 30s (at most 24h)", key);
    *out = (uint32_t)(ms / 1000);
    return 0;
}

/* The text of `secret` / `pem`, or of `secret_file` / `pem_file`. */
static int key_text(struct ycx *cx, const struct ynode *m, const char *inline_key,
                    const char *file_key, char **out, size_t *len, const struct ynode **at)
{
    const struct ynode *in = NULL, *file = NULL;
    if (yopt_str(cx, m, inline_key, &in) != 0 || yopt_str(cx, m, file_key, &file) != 0)
        return -1;
    if (in && file)
        return yerr(cx, file, "'%s' and '%s' exclude each other", inline_key, file_key);
    *at = in ? in : file;
    if (file) {
        if (yread_file(cx, file, file->str, out, len) != 0)
            return -1;
        while (*len && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r'))
            (*out)[--*len] = '\0';
        return 0;
    }
    if (in) {
        *len = in->len;
        return ystrdup(cx, in, in->str, out);
    }
    return 0;
}

static int load_key(struct ycx *cx, const struct ynode *m, struct jwt_key *k)
{
    static const char *const keys[] = {"kid", "alg", "secret", "secret_file", "pem", "pem_file",
                                       NULL};
    if (ymap_check(cx, m, "jwt.keys[]", keys) != 0)
        return -1;
    const struct ynode *alg = ymap_need(cx, m, "jwt.keys[]", "alg"), *kid = NULL;
    if (!alg || yscalar(cx, alg, "alg") != 0 || yopt_str(cx, m, "kid", &kid) != 0)
        return -1;
    k->alg = jwt_alg_parse(alg->str, alg->len);
    if (k->alg == JWT_ALG_NONE)
        return yerr(cx, alg, "unknown algorithm '%s' (HS256/384/512, RS256/384/512, PS256, "
                             "ES256/384, EdDSA; never none)", alg->str);
    if (kid && ystrdup(cx, kid, kid->str, &k->kid) != 0)
        return -1;
    char *text = NULL;
    size_t len = 0;
    const struct ynode *at = NULL;
    if (jwt_alg_is_hmac(k->alg)) {
        if (key_text(cx, m, "secret", "secret_file", &text, &len, &at) != 0)
            return -1;
        if (!text)
            return yerr(cx, m, "an %s key needs 'secret' or 'secret_file'", alg->str);
        k->secret = (uint8_t *)text;
        k->secret_len = len;
    } else {
        if (key_text(cx, m, "pem", "pem_file", &text, &len, &at) != 0)
            return -1;
        if (!text)
            return yerr(cx, m, "an %s key needs 'pem' or 'pem_file'", alg->str);
        k->pkey = jwks_pem_public(text, len);
        free(text);
        if (!k->pkey)
            return yerr(cx, at, "not a PEM public key or certificate");
    }
    const char *why = jwt_key_check(k);
    if (why)
        return yerr(cx, at ? at : m, "%s", why);
    jwt_key_prepare(k);
    return 0;
}

/* http://host[:port]/path → a GET through weir's own front door. */
static int jwks_url(struct ycx *cx, const struct ynode *v, struct jwt_conf *c)
{
    if (strncmp(v->str, "http://", 7) != 0)
        return yerr(cx, v, "jwks_url must be http://host/path (it is fetched through weir's "
                           "own routes: TLS to the issuer is the route's upstream's business)");
    const char *host = v->str + 7, *slash = strchr(host, '/');
    size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
    if (!hlen || strpbrk(v->str, " \r\n\t"))
        return yerr(cx, v, "jwks_url has no host or contains white space");
    char *req = malloc(v->len + 128);
    if (!req)
        return yerr(cx, v, "out of memory");
    snprintf(req, v->len + 128,
             "GET %s HTTP/1.1\r\nHost: %.*s\r\nAccept: application/json\r\n"
             "Connection: close\r\n\r\n", slash ? slash : "/", (int)hlen, host);
    c->jwks_request = req;
    return ystrdup(cx, v, v->str, &c->jwks_url);
}

static int token_from(struct ycx *cx, const struct ynode *v, struct jwt_conf *c)
{
    static const char *const keys[] = {"header", "cookie", "query", NULL};
    if (ymap_check(cx, v, "jwt.token_from", keys) != 0)
        return -1;
    if (v->nitems != 2)
        return yerr(cx, v, "token_from takes one of header, cookie, query");
    const struct ynode *k = v->items[0], *val = v->items[1];
    if (yscalar(cx, val, k->str) != 0)
        return -1;
    c->from = !strcmp(k->str, "header") ? JWT_FROM_HEADER
            : !strcmp(k->str, "cookie") ? JWT_FROM_COOKIE : JWT_FROM_QUERY;
    if (c->from == JWT_FROM_HEADER && !config_is_token(val->str))
        return yerr(cx, val, "'%s' is not a header name", val->str);
    return ystrdup(cx, val, val->str, &c->from_name);
}

static int load_map(struct ycx *cx, const struct ynode *v, const char *where, struct jwt_conf *c)
{
    if (ymap_check(cx, v, where, jwt_keys) != 0)
        return -1;
    const struct ynode *keys = ymap_get(v, "keys"), *n = NULL;
    if (keys) {
        if (yexpect(cx, keys, YNODE_SEQ, "keys") != 0)
            return -1;
        if (!(c->inline_keys.keys = calloc(keys->nitems + 1, sizeof(struct jwt_key))))
            return yerr(cx, keys, "out of memory");
        for (uint32_t i = 0; i < keys->nitems; i++) {
            c->inline_keys.n++;
            if (load_key(cx, keys->items[i], &c->inline_keys.keys[i]) != 0)
                return -1;
        }
    }
    if (yopt_str(cx, v, "jwks_file", &n) != 0)
        return -1;
    if (n) {
        char *text;
        size_t len;
        struct jwks probe;
        char err[160];
        if (yread_file(cx, n, n->str, &text, &len) != 0)
            return -1;
        int rc = jwks_parse(text, len, &probe, err, sizeof(err));
        free(text);
        if (rc != 0)
            return yerr(cx, n, "'%s': %s", n->str, err);
        jwks_free(&probe);
        if (ystrdup(cx, n, n->str, &c->jwks_file) != 0)
            return -1;
    }
    n = NULL;
    if (yopt_str(cx, v, "jwks_url", &n) != 0 || (n && jwks_url(cx, n, c) != 0))
        return -1;
    if (!c->inline_keys.n && !c->jwks_file && !c->jwks_url)
        return yerr(cx, v, "jwt needs keys, jwks_file or jwks_url");
    if (yopt_ms(cx, v, "jwks_refresh_min", &c->jwks_refresh_min_ms) != 0 ||
        yopt_ms(cx, v, "jwks_max_age", &c->jwks_max_age_ms) != 0 ||
        yopt_ms(cx, v, "jwks_timeout", &c->jwks_timeout_ms) != 0 ||
        opt_seconds(cx, v, "leeway", &c->leeway_s) != 0 ||
        yopt_bool(cx, v, "require_exp", &c->require_exp) != 0 ||
        yopt_bool(cx, v, "forward_token", &c->forward_token) != 0 ||
        yopt_u32(cx, v, "cache_size", 0, 1u << 24, &c->cache_size) != 0 ||
        str_list(cx, v, "issuers", &c->issuers, &c->nissuers) != 0 ||
        str_list(cx, v, "audiences", &c->audiences, &c->naudiences) != 0 ||
        str_list(cx, v, "required_claims", &c->required, &c->nrequired) != 0 ||
        jwt_pairs_load(cx, v, "require", &c->require, &c->nrequire, false) != 0 ||
        jwt_pairs_load(cx, v, "claims_to_headers", &c->to_headers, &c->nto_headers, true) != 0)
        return -1;
    n = NULL;
    if (yopt_str(cx, v, "realm", &n) != 0)
        return -1;
    if (n && (strchr(n->str, '"') || strchr(n->str, '\\')))
        return yerr(cx, n, "realm must not contain quotes or backslashes");
    if (ystrdup(cx, n ? n : v, n ? n->str : "weir", &c->realm) != 0)
        return -1;
    const struct ynode *tf = ymap_get(v, "token_from");
    return tf ? token_from(cx, tf, c) : 0;
}

/* The node as text into the digest: kinds and lengths delimit, so no two trees read alike. */
static void digest_node(EVP_MD_CTX *md, const struct ynode *n)
{
    char tag[32];
    int tl = snprintf(tag, sizeof(tag), "%d:%zu:%u:", (int)n->kind, n->len, n->nitems);
    EVP_DigestUpdate(md, tag, (size_t)tl);
    if (n->str)
        EVP_DigestUpdate(md, n->str, n->len);
    for (uint32_t i = 0; i < n->nitems; i++)
        digest_node(md, n->items[i]);
}

static int fingerprint(struct ycx *cx, const struct ynode *v, struct jwt_conf *c)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    if (ok)
        digest_node(md, v);
    for (uint32_t i = 0; ok && i < c->inline_keys.n; i++) {
        const struct jwt_key *k = &c->inline_keys.keys[i];
        unsigned char *der = NULL;
        int dl = k->pkey ? i2d_PUBKEY(k->pkey, &der) : 0;
        ok = dl >= 0 && EVP_DigestUpdate(md, k->secret ? (void *)k->secret : (void *)der,
                                         k->secret ? k->secret_len : (size_t)dl) == 1;
        OPENSSL_free(der);
    }
    ok = ok && EVP_DigestFinal_ex(md, c->fingerprint, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : yerr(cx, v, "out of memory");
}

int jwt_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    if (yexpect(cx, v, YNODE_MAP, where) != 0)
        return -1;
    struct jwt_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    *c = (struct jwt_conf){.jwks_refresh_min_ms = 10000, .jwks_max_age_ms = 300000,
                           .jwks_timeout_ms = 3000, .leeway_s = 30, .require_exp = true,
                           .cache_size = 10000};
    if (load_map(cx, v, where, c) != 0 || fingerprint(cx, v, c) != 0) {
        jwt_config_free(c);
        return -1;
    }
    *conf = c;
    return 0;
}

/* auth_apikey.c — see auth_apikey.h. */
#include "security/auth_apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "core/config.h"
#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"
#include "pipeline/upstream_edit.h"
#include "security/auth_common.h"
#include "security/token_cache.h"

struct apikey_entry {
    char *client;
    uint8_t hash[SHA256_DIGEST_LENGTH];
};

struct apikey_conf {
    char *header;          /* NULL when the key comes in the query */
    char *query;
    char *client_header;
    bool forward_key;
    char *challenge;
    struct apikey_entry *keys;
    uint32_t nkeys;
};

static void apikey_free(void *conf)
{
    struct apikey_conf *c = conf;
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nkeys; i++)
        free(c->keys[i].client);
    free(c->keys);
    free(c->header);
    free(c->query);
    free(c->client_header);
    free(c->challenge);
    free(c);
}

static int load_keys(struct ycx *cx, const struct ynode *v, struct apikey_conf *c)
{
    static const char *const keys[] = {"client", "sha256", NULL};
    if (yexpect(cx, v, YNODE_SEQ, "api_key.keys") != 0)
        return -1;
    if (!v->nitems)
        return yerr(cx, v, "api_key.keys is empty");
    if (!(c->keys = calloc(v->nitems, sizeof(*c->keys))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *m = v->items[i], *client, *hash;
        if (ymap_check(cx, m, "api_key.keys[]", keys) != 0 ||
            !(client = ymap_need(cx, m, "api_key.keys[]", "client")) ||
            !(hash = ymap_need(cx, m, "api_key.keys[]", "sha256")) ||
            yscalar(cx, client, "client") != 0 || yscalar(cx, hash, "sha256") != 0)
            return -1;
        struct apikey_entry *e = &c->keys[c->nkeys];
        if (auth_hex_decode(hash->str, hash->len, e->hash, sizeof(e->hash)) != 0)
            return yerr(cx, hash, "sha256 must be 64 hex digits (sha256sum of the key)");
        for (const char *p = client->str; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return yerr(cx, client, "the client id holds a control character");
        if (ystrdup(cx, client, client->str, &e->client) != 0)
            return -1;
        c->nkeys++;
    }
    return 0;
}

static int apikey_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"header", "query", "keys", "client_header",
                                       "forward_key", "realm", NULL};
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct apikey_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    const struct ynode *header = NULL, *query = NULL, *ch = NULL, *realm = NULL;
    const struct ynode *kl = ymap_need(cx, v, where, "keys");
    if (!kl || yopt_str(cx, v, "header", &header) != 0 || yopt_str(cx, v, "query", &query) != 0 ||
        yopt_str(cx, v, "client_header", &ch) != 0 || yopt_str(cx, v, "realm", &realm) != 0 ||
        yopt_bool(cx, v, "forward_key", &c->forward_key) != 0 || load_keys(cx, kl, c) != 0)
        goto fail;
    if (header && query) {
        yerr(cx, query, "api_key takes 'header' or 'query', not both");
        goto fail;
    }
    if ((header && !config_is_token(header->str)) || (ch && !config_is_token(ch->str))) {
        yerr(cx, header && !config_is_token(header->str) ? header : ch, "not a header name");
        goto fail;
    }
    if (realm && strpbrk(realm->str, "\"\\")) {
        yerr(cx, realm, "realm must not contain quotes or backslashes");
        goto fail;
    }
    char chall[300];
    snprintf(chall, sizeof(chall), "APIKey realm=\"%s\"", realm ? realm->str : "weir");
    if ((query ? ystrdup(cx, query, query->str, &c->query)
               : ystrdup(cx, v, header ? header->str : "X-API-Key", &c->header)) != 0 ||
        ystrdup(cx, v, ch ? ch->str : "X-Client-Id", &c->client_header) != 0 ||
        ystrdup(cx, v, chall, &c->challenge) != 0)
        goto fail;
    *conf = c;
    return 0;
fail:
    apikey_free(c);
    return -1;
}

static enum pipeline_verdict apikey_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct apikey_conf *c = x->link->conf;
    struct str key = c->header ? auth_header(x, str_cstr(c->header))
                               : auth_query_param(x, c->query);
    if (!key.ptr || !key.len)
        return auth_deny(x, 401, c->challenge, "an API key is required");
    uint8_t h[SHA256_DIGEST_LENGTH];
    token_cache_hash(key.ptr, key.len, h);
    const struct apikey_entry *found = NULL;
    for (uint32_t i = 0; i < c->nkeys; i++) /* all of them: constant time */
        if (CRYPTO_memcmp(h, c->keys[i].hash, sizeof(h)) == 0)
            found = &c->keys[i];
    if (!found)
        return auth_deny(x, 401, c->challenge, "the API key is not valid");
    x->client_id = found->client;
    if (upstream_edit_drop(x, str_cstr(c->client_header)) != 0 ||
        upstream_edit_add(x, str_cstr(c->client_header), str_cstr(found->client)) != 0 ||
        (!c->forward_key && c->header && upstream_edit_drop(x, str_cstr(c->header)) != 0) ||
        (!c->forward_key && !c->header && upstream_edit_drop_query(x, str_cstr(c->query)) != 0)) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    return auth_allow(x);
}

const struct pipeline_module apikey_module = {
    .name = "api_key",
    .key = "api_key",
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = apikey_load,
    .config_free = apikey_free,
    .on_request = apikey_request,
};

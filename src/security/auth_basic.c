/* auth_basic.c — see auth_basic.h. */
#include "security/auth_basic.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/config.h"
#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"
#include "pipeline/upstream_edit.h"
#include "security/auth_common.h"
#include "security/token_cache.h"

#define OK_CACHE_S 60
#define CRED_MAX 1024

struct basic_user {
    char *name;
    char *hash;
};

struct basic_conf {
    struct basic_user *users;
    uint32_t nusers;
    char *challenge;
    char *user_header;
    bool forward_credentials;
};

struct basic_local {
    struct crypt_data cd;
    struct token_cache *ok;
};

static void basic_free(void *conf)
{
    struct basic_conf *c = conf;
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nusers; i++) {
        free(c->users[i].name);
        free(c->users[i].hash);
    }
    free(c->users);
    free(c->challenge);
    free(c->user_header);
    free(c);
}

static bool supported_hash(const char *h)
{
    return !strncmp(h, "$2y$", 4) || !strncmp(h, "$2b$", 4) || !strncmp(h, "$2a$", 4) ||
           !strncmp(h, "$6$", 3) || !strncmp(h, "$5$", 3);
}

static int load_htpasswd(struct ycx *cx, const struct ynode *n, struct basic_conf *c)
{
    char *text;
    size_t len;
    if (yread_file(cx, n, n->str, &text, &len) != 0)
        return -1;
    uint32_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    int rc = 0;
    if (!(c->users = calloc(lines, sizeof(*c->users)))) {
        free(text);
        return yerr(cx, n, "out of memory");
    }
    uint32_t lineno = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (!l || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (!colon || colon == line || !supported_hash(colon + 1)) {
            rc = yerr(cx, n, "%s line %u: not user:hash with a bcrypt ($2y$) or SHA-crypt ($6$, "
                             "$5$) hash", n->str, lineno);
            break;
        }
        *colon = '\0';
        struct basic_user *u = &c->users[c->nusers];
        if (!(u->name = strdup(line)) || !(u->hash = strdup(colon + 1))) {
            rc = yerr(cx, n, "out of memory");
            break;
        }
        c->nusers++;
    }
    if (!rc && !c->nusers)
        rc = yerr(cx, n, "'%s' has no users", n->str);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

static int basic_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"htpasswd", "realm", "user_header",
                                       "forward_credentials", NULL};
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct basic_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    const struct ynode *file = ymap_need(cx, v, where, "htpasswd"), *realm = NULL, *uh = NULL;
    if (!file || yscalar(cx, file, "htpasswd") != 0 || yopt_str(cx, v, "realm", &realm) != 0 ||
        yopt_str(cx, v, "user_header", &uh) != 0 ||
        yopt_bool(cx, v, "forward_credentials", &c->forward_credentials) != 0 ||
        load_htpasswd(cx, file, c) != 0)
        goto fail;
    if (realm && strpbrk(realm->str, "\"\\")) {
        yerr(cx, realm, "realm must not contain quotes or backslashes");
        goto fail;
    }
    if (uh && !config_is_token(uh->str)) {
        yerr(cx, uh, "not a header name");
        goto fail;
    }
    char chall[300];
    snprintf(chall, sizeof(chall), "Basic realm=\"%s\", charset=\"UTF-8\"",
             realm ? realm->str : "weir");
    if (ystrdup(cx, v, chall, &c->challenge) != 0 ||
        (uh && ystrdup(cx, uh, uh->str, &c->user_header) != 0))
        goto fail;
    *conf = c;
    return 0;
fail:
    basic_free(c);
    return -1;
}

static void *basic_local_new(const void *conf, void *shared)
{
    (void)conf;
    (void)shared;
    struct basic_local *l = calloc(1, sizeof(*l));
    if (l && !(l->ok = token_cache_new(1024))) {
        free(l);
        l = NULL;
    }
    return l;
}

static void basic_local_free(void *local)
{
    struct basic_local *l = local;
    if (!l)
        return;
    token_cache_free(l->ok);
    OPENSSL_cleanse(&l->cd, sizeof(l->cd));
    free(l);
}

static bool check_password(struct basic_local *l, const char *hash, const char *pw)
{
    const char *out = crypt_rn(pw, hash, &l->cd, sizeof(l->cd));
    size_t n = strlen(hash);
    return out && strlen(out) == n && CRYPTO_memcmp(out, hash, n) == 0;
}

static enum pipeline_verdict basic_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct basic_conf *c = x->link->conf;
    struct basic_local *l = x->link->local;
    struct str v = auth_header(x, STR_LIT("Authorization"));
    if (!v.ptr || v.len < 7 || strncasecmp(v.ptr, "Basic ", 6) != 0)
        return auth_deny(x, 401, c->challenge, "credentials are required");
    struct str b = str_from(v.ptr + 6, v.len - 6);
    while (b.len && b.ptr[0] == ' ')
        b = str_from(b.ptr + 1, b.len - 1);
    uint8_t cred[CRED_MAX + 4];
    int n = b.len && b.len <= (CRED_MAX / 3) * 4 && b.len % 4 == 0
                ? EVP_DecodeBlock(cred, (const uint8_t *)b.ptr, (int)b.len) : -1;
    if (n > 0) /* EVP_DecodeBlock counts the padding as zero bytes */
        n -= (b.ptr[b.len - 1] == '=') + (b.ptr[b.len - 2] == '=');
    const char *colon = n > 0 ? memchr(cred, ':', (size_t)n) : NULL;
    if (!colon || memchr(cred, '\0', (size_t)n))
        return auth_deny(x, 401, c->challenge, "malformed Basic credentials");
    cred[n] = '\0';
    size_t ulen = (size_t)(colon - (const char *)cred);
    uint8_t h[SHA256_DIGEST_LENGTH];
    token_cache_hash(cred, (size_t)n, h);
    int64_t now = (int64_t)time(NULL);
    char mark;
    bool ok = token_cache_get(l->ok, h, now, (uint64_t)(uintptr_t)c, &mark, 1) >= 0;
    const struct basic_user *user = NULL;
    for (uint32_t i = 0; i < c->nusers && !user; i++)
        if (strlen(c->users[i].name) == ulen && !memcmp(c->users[i].name, cred, ulen))
            user = &c->users[i];
    if (!ok) {
        /* an unknown user costs a real check too */
        ok = check_password(l, user ? user->hash : c->users[0].hash, (const char *)colon + 1) &&
             user;
        if (ok)
            token_cache_put(l->ok, h, now + OK_CACHE_S, (uint64_t)(uintptr_t)c, "1", 1);
    }
    OPENSSL_cleanse(cred, sizeof(cred));
    if (!ok || !user)
        return auth_deny(x, 401, c->challenge, "the user name or password is wrong");
    x->client_id = user->name;
    if ((c->user_header && (upstream_edit_drop(x, str_cstr(c->user_header)) != 0 ||
                            upstream_edit_add(x, str_cstr(c->user_header),
                                              str_cstr(user->name)) != 0)) ||
        (!c->forward_credentials && upstream_edit_drop(x, STR_LIT("Authorization")) != 0)) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    return auth_allow(x);
}

const struct pipeline_module basic_module = {
    .name = "basic_auth",
    .key = "basic_auth",
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = basic_load,
    .config_free = basic_free,
    .local_new = basic_local_new,
    .local_free = basic_local_free,
    .on_request = basic_request,
};

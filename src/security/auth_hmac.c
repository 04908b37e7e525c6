/* auth_hmac.c — see auth_hmac.h. */
#include "security/auth_hmac.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "core/config_yaml.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "security/auth_common.h"
#include "security/token_cache.h"

#define CANON_MAX 16384
#define QUERY_PARAMS_MAX 64
#define CHALLENGE "HMAC-SHA256"

struct hmac_key {
    char *id;
    uint8_t *secret;
    size_t secret_len;
};

struct hmac_conf {
    struct hmac_key *keys;
    uint32_t nkeys;
    char **headers;
    uint32_t nheaders;
    uint32_t skew_s;
    uint32_t replay_size;
};

static void hmac_conf_free(void *conf)
{
    struct hmac_conf *c = conf;
    if (!c)
        return;
    for (uint32_t i = 0; i < c->nkeys; i++) {
        free(c->keys[i].id);
        if (c->keys[i].secret)
            OPENSSL_cleanse(c->keys[i].secret, c->keys[i].secret_len);
        free(c->keys[i].secret);
    }
    free(c->keys);
    for (uint32_t i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c);
}

static int load_keys(struct ycx *cx, const struct ynode *v, struct hmac_conf *c)
{
    static const char *const keys[] = {"id", "secret", "secret_file", NULL};
    if (yexpect(cx, v, YNODE_SEQ, "hmac_auth.keys") != 0)
        return -1;
    if (!v->nitems)
        return yerr(cx, v, "hmac_auth.keys is empty");
    if (!(c->keys = calloc(v->nitems, sizeof(*c->keys))))
        return yerr(cx, v, "out of memory");
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *m = v->items[i], *id, *sec = NULL, *file = NULL;
        if (ymap_check(cx, m, "hmac_auth.keys[]", keys) != 0 ||
            !(id = ymap_need(cx, m, "hmac_auth.keys[]", "id")) || yscalar(cx, id, "id") != 0 ||
            yopt_str(cx, m, "secret", &sec) != 0 || yopt_str(cx, m, "secret_file", &file) != 0)
            return -1;
        struct hmac_key *k = &c->keys[c->nkeys++];
        if (ystrdup(cx, id, id->str, &k->id) != 0)
            return -1;
        char *text = NULL;
        size_t len = 0;
        if (sec && file)
            return yerr(cx, file, "'secret' and 'secret_file' exclude each other");
        if (!sec && !file)
            return yerr(cx, m, "a key needs 'secret' or 'secret_file'");
        if (file) {
            if (yread_file(cx, file, file->str, &text, &len) != 0)
                return -1;
            while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                len--;
        } else if (ystrdup(cx, sec, sec->str, &text) != 0) {
            return -1;
        } else {
            len = sec->len;
        }
        k->secret = (uint8_t *)text;
        k->secret_len = len;
        if (len < 32)
            return yerr(cx, sec ? sec : file, "the secret must be at least 32 bytes");
    }
    return 0;
}

static int hmac_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf)
{
    static const char *const keys[] = {"keys", "headers", "skew", "replay_cache", NULL};
    if (ymap_check(cx, v, where, keys) != 0)
        return -1;
    struct hmac_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return yerr(cx, v, "out of memory");
    c->replay_size = 100000;
    uint32_t skew_ms = 300000;
    const struct ynode *kl = ymap_need(cx, v, where, "keys"), *hl = ymap_get(v, "headers");
    if (!kl || load_keys(cx, kl, c) != 0 || yopt_ms(cx, v, "skew", &skew_ms) != 0 ||
        yopt_u32(cx, v, "replay_cache", 1024, 1u << 24, &c->replay_size) != 0)
        goto fail;
    c->skew_s = (skew_ms + 999) / 1000;
    if (hl) {
        if (yexpect(cx, hl, YNODE_SEQ, "hmac_auth.headers") != 0 ||
            !(c->headers = calloc(hl->nitems + 1, sizeof(char *))))
            goto fail;
        for (uint32_t i = 0; i < hl->nitems; i++) {
            const struct ynode *h = hl->items[i];
            if (yscalar(cx, h, "hmac_auth.headers") != 0)
                goto fail;
            if (!config_is_token(h->str)) {
                yerr(cx, h, "'%s' is not a header name", h->str);
                goto fail;
            }
            if (ystrdup(cx, h, h->str, &c->headers[c->nheaders]) != 0)
                goto fail;
            for (char *p = c->headers[c->nheaders]; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            c->nheaders++;
        }
    }
    *conf = c;
    return 0;
fail:
    hmac_conf_free(c);
    return -1;
}

/* The replay window: shared by every worker, keyed by the section. */
struct hmac_shared {
    struct token_cache *seen;
};

static int shared_init(void *obj, const void *key)
{
    const struct hmac_conf *c = key;
    struct hmac_shared *s = obj;
    s->seen = token_cache_new(c->replay_size);
    return s->seen ? 0 : -1;
}

static void shared_fini(void *obj)
{
    token_cache_free(((struct hmac_shared *)obj)->seen);
}

static const struct pipeline_shared_type hmac_shared_type = {
    .name = "hmac_auth", .size = sizeof(struct hmac_shared), .init = shared_init,
    .fini = shared_fini};

static void *hmac_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)route;
    return pipeline_shared_get(&hmac_shared_type, conf);
}

static void hmac_shared_put(void *shared)
{
    if (shared)
        pipeline_shared_put(shared);
}

static int cmp_param(const void *a, const void *b)
{
    const struct str *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->ptr, y->ptr, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Appends; false when full. */
static bool put(char *out, size_t cap, size_t *o, const char *p, size_t n)
{
    if (*o + n > cap)
        return false;
    memcpy(out + *o, p, n);
    *o += n;
    return true;
}

long hmac_canonical(const struct exchange *x, const char *ts, char *const *headers,
                    unsigned nheaders, struct str body, char *out, size_t cap)
{
    struct str t = x->req->target;
    const char *q = memchr(t.ptr, '?', t.len);
    size_t o = 0, plen = q ? (size_t)(q - t.ptr) : t.len;
    struct str params[QUERY_PARAMS_MAX];
    size_t np = 0;
    for (const char *p = q ? q + 1 : NULL, *end = t.ptr + t.len; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp ? amp : end;
        if (e > p) {
            if (np == QUERY_PARAMS_MAX)
                return -1;
            params[np++] = str_from(p, (size_t)(e - p));
        }
        p = amp ? amp + 1 : NULL;
    }
    qsort(params, np, sizeof(params[0]), cmp_param);
    bool ok = put(out, cap, &o, x->req->method.ptr, x->req->method.len) &&
              put(out, cap, &o, "\n", 1) && put(out, cap, &o, t.ptr, plen) &&
              put(out, cap, &o, "\n", 1);
    for (size_t i = 0; i < np && ok; i++)
        ok = (i == 0 || put(out, cap, &o, "&", 1)) &&
             put(out, cap, &o, params[i].ptr, params[i].len);
    ok = ok && put(out, cap, &o, "\n", 1) && put(out, cap, &o, ts, strlen(ts)) &&
         put(out, cap, &o, "\n", 1);
    for (unsigned i = 0; i < nheaders && ok; i++) {
        struct str v = auth_header(x, str_cstr(headers[i]));
        while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t'))
            v = str_from(v.ptr + 1, v.len - 1);
        while (v.len && (v.ptr[v.len - 1] == ' ' || v.ptr[v.len - 1] == '\t'))
            v.len--;
        ok = put(out, cap, &o, headers[i], strlen(headers[i])) && put(out, cap, &o, ":", 1) &&
             (!v.len || put(out, cap, &o, v.ptr, v.len)) && put(out, cap, &o, "\n", 1);
    }
    uint8_t d[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    token_cache_hash(body.ptr ? body.ptr : "", body.len, d);
    auth_hex_encode(d, sizeof(d), hex);
    ok = ok && put(out, cap, &o, hex, 2 * SHA256_DIGEST_LENGTH);
    return ok ? (long)o : -1;
}

static enum pipeline_verdict hmac_request(struct exchange *x, void *ctx)
{
    (void)ctx;
    const struct hmac_conf *c = x->link->conf;
    struct hmac_shared *sh = x->link->shared;
    struct str kid = auth_header(x, STR_LIT("X-Signature-Key"));
    struct str tsv = auth_header(x, STR_LIT("X-Signature-Timestamp"));
    struct str sig = auth_header(x, STR_LIT("X-Signature"));
    if (!kid.len || !tsv.len || !sig.len)
        return auth_deny(x, 401, CHALLENGE, "the request is not signed");
    const struct hmac_key *key = NULL;
    for (uint32_t i = 0; i < c->nkeys && !key; i++)
        if (str_eq(kid, str_cstr(c->keys[i].id)))
            key = &c->keys[i];
    uint8_t want[SHA256_DIGEST_LENGTH];
    if (!key || auth_hex_decode(sig.ptr, sig.len, want, sizeof(want)) != 0)
        return auth_deny(x, 401, CHALLENGE, "unknown key or malformed signature");
    char ts[24];
    int64_t t = 0;
    if (tsv.len >= sizeof(ts))
        return auth_deny(x, 401, CHALLENGE, "bad timestamp");
    for (size_t i = 0; i < tsv.len; i++) {
        if (tsv.ptr[i] < '0' || tsv.ptr[i] > '9')
            return auth_deny(x, 401, CHALLENGE, "bad timestamp");
        t = t * 10 + (tsv.ptr[i] - '0');
    }
    memcpy(ts, tsv.ptr, tsv.len);
    ts[tsv.len] = '\0';
    int64_t now = (int64_t)time(NULL);
    if (t > now + c->skew_s || t < now - c->skew_s)
        return auth_deny(x, 401, CHALLENGE, "the timestamp is outside the allowed clock skew");
    const struct h1_request *r = x->req;
    bool has_body = r->framing == H1_FRAME_CHUNKED ||
                    (r->framing == H1_FRAME_LENGTH && r->content_length > 0);
    if (has_body && !x->body_ready) {
        enum pipeline_verdict v = pipeline_need_body(x);
        if (v == PIPELINE_WAIT)
            return v;
        if (!x->body_ready)
            return auth_deny(x, 413, NULL, "the body is too large to check its signature");
    }
    char *canon = arena_alloc(&x->arena, CANON_MAX);
    long n = canon ? hmac_canonical(x, ts, c->headers, c->nheaders,
                                    has_body ? x->body : STR_NULL, canon, CANON_MAX)
                   : -1;
    if (n < 0)
        return auth_deny(x, 401, CHALLENGE, "the request is too large to sign");
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    if (!HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const uint8_t *)canon,
              (size_t)n, mac, &ml) || ml != sizeof(want) ||
        CRYPTO_memcmp(mac, want, sizeof(want)) != 0)
        return auth_deny(x, 401, CHALLENGE, "the signature does not match");
    uint8_t seen[SHA256_DIGEST_LENGTH];
    token_cache_hash(want, sizeof(want), seen);
    if (!token_cache_claim(sh->seen, seen, t + c->skew_s + 1, now))
        return auth_deny(x, 401, CHALLENGE, "the signature was already used (replay)");
    x->client_id = key->id;
    return auth_allow(x);
}

const struct pipeline_module hmac_module = {
    .name = "hmac_auth",
    .key = "hmac_auth",
    .phase = PIPELINE_PHASE_ACCESS,
    .config_load = hmac_load,
    .config_free = hmac_conf_free,
    .shared_get = hmac_shared_get,
    .shared_put = hmac_shared_put,
    .on_request = hmac_request,
};

/* jwt_module.c — see jwt_module.h. */
#include "security/jwt_module.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "core/config_types.h"
#include "http/h1.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "pipeline/upstream_edit.h"
#include "security/auth_common.h"
#include "security/jwt.h"
#include "security/jwt_config.h"
#include "security/jwt_keys.h"
#include "security/revocation.h"
#include "security/token_cache.h"

#define JWKS_POLL_MS 20
#define REC_MAX TOKEN_CACHE_DATA_MAX

/* The outcome of one verification, as the cache keeps it: verdict, sub, jti, the claim headers
 * ("Name: value\r\n" lines) (each u16 length + bytes), then the claims as compact JSON (for
 * x->auth_claims) to the end. */
enum { V_OK = 0, V_FORBIDDEN = 1 };

struct jwt_ctx {
    uint64_t wait_until_ms;      /* waiting for a JWKS fetch, until then */
    bool waited;                 /* one wait per request */
};

/* --- shared state: one jwt_keys per distinct section, for every worker and generation ---
 *
 * Keyed by the section's fingerprint (jwt_conf.fingerprint), not by the conf's address: a
 * reload that leaves a `jwt:` section as it was finds the keys fetched and the tokens verified
 * under the old generation (the new chains are built before the old ones go). A changed section
 * starts afresh, since what the cache's records hold depends on all of it. The list's mutex is
 * taken when chains are built and freed, never per request. */

struct jwt_shared {
    struct jwt_shared *next;
    uint8_t fingerprint[JWT_FINGERPRINT_LEN];
    uint32_t refs;
    struct jwt_keys *k;
};

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct jwt_shared *shared_list;

static void *jwt_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)route;
    const struct jwt_conf *c = conf;
    pthread_mutex_lock(&shared_mu);
    struct jwt_shared *s = shared_list;
    while (s && memcmp(s->fingerprint, c->fingerprint, JWT_FINGERPRINT_LEN) != 0)
        s = s->next;
    if (!s && (s = calloc(1, sizeof(*s)))) {
        if (!(s->k = jwt_keys_new(c))) {
            free(s);
            s = NULL;
        } else {
            memcpy(s->fingerprint, c->fingerprint, JWT_FINGERPRINT_LEN);
            s->next = shared_list;
            shared_list = s;
        }
    }
    if (s)
        s->refs++;
    pthread_mutex_unlock(&shared_mu);
    return s;
}

static void jwt_shared_put(void *shared)
{
    struct jwt_shared *s = shared;
    if (!s)
        return;
    pthread_mutex_lock(&shared_mu);
    bool last = --s->refs == 0;
    for (struct jwt_shared **p = &shared_list; last && *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&shared_mu);
    if (last) {
        jwt_keys_put(s->k);
        free(s);
    }
}

/* --- the token --- */

/* name=value in a "; "-separated Cookie list (every Cookie field). */
static struct str cookie_value(const struct exchange *x, const char *name)
{
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < x->req->nheaders; i++) {
        if (!str_eq_nocase(x->req->headers[i].name, STR_LIT("Cookie")))
            continue;
        struct str v = x->req->headers[i].value;
        size_t p = 0;
        while (p < v.len) {
            while (p < v.len && (v.ptr[p] == ' ' || v.ptr[p] == ';'))
                p++;
            size_t s = p;
            while (p < v.len && v.ptr[p] != ';')
                p++;
            if (p - s > nl && !memcmp(v.ptr + s, name, nl) && v.ptr[s + nl] == '=')
                return str_from(v.ptr + s + nl + 1, p - s - nl - 1);
        }
    }
    return STR_NULL;
}

static struct str find_token(const struct exchange *x, const struct jwt_conf *c)
{
    switch (c->from) {
    case JWT_FROM_HEADER:
        return auth_header(x, str_cstr(c->from_name));
    case JWT_FROM_COOKIE:
        return cookie_value(x, c->from_name);
    case JWT_FROM_QUERY:
        return auth_query_param(x, c->from_name);
    case JWT_FROM_BEARER:
    default: {
        struct str v = auth_header(x, STR_LIT("Authorization"));
        if (v.len < 7 || strncasecmp(v.ptr, "Bearer ", 7) != 0)
            return STR_NULL;
        v = str_from(v.ptr + 7, v.len - 7);
        while (v.len && v.ptr[0] == ' ')
            v = str_from(v.ptr + 1, v.len - 1);
        return v;
    }
    }
}

/* Removes the token from what goes upstream: the field it came in, the cookie (the Cookie
 * fields are rebuilt without it) or the query parameter (the target is rewritten). */
static int strip_token(struct exchange *x, const struct jwt_conf *c)
{
    switch (c->from) {
    case JWT_FROM_BEARER:
        return upstream_edit_drop(x, STR_LIT("Authorization"));
    case JWT_FROM_HEADER:
        return upstream_edit_drop(x, str_cstr(c->from_name));
    case JWT_FROM_COOKIE: {
        size_t nl = strlen(c->from_name), cap = 0;
        for (uint32_t i = 0; i < x->req->nheaders; i++)
            if (str_eq_nocase(x->req->headers[i].name, STR_LIT("Cookie")))
                cap += x->req->headers[i].value.len + 2;
        char *out = arena_alloc(&x->arena, cap + 1);
        size_t o = 0;
        if (!out || upstream_edit_drop(x, STR_LIT("Cookie")) != 0)
            return -1;
        for (uint32_t i = 0; i < x->req->nheaders; i++) {
            if (!str_eq_nocase(x->req->headers[i].name, STR_LIT("Cookie")))
                continue;
            struct str v = x->req->headers[i].value;
            for (size_t p = 0; p < v.len;) {
                while (p < v.len && (v.ptr[p] == ' ' || v.ptr[p] == ';'))
                    p++;
                size_t s = p;
                while (p < v.len && v.ptr[p] != ';')
                    p++;
                if (p == s || (p - s > nl && !memcmp(v.ptr + s, c->from_name, nl) &&
                               v.ptr[s + nl] == '='))
                    continue;
                if (o) {
                    out[o++] = ';';
                    out[o++] = ' ';
                }
                memcpy(out + o, v.ptr + s, p - s);
                o += p - s;
            }
        }
        return o ? upstream_edit_add(x, STR_LIT("Cookie"), str_from(out, o)) : 0;
    }
    case JWT_FROM_QUERY:
        return upstream_edit_drop_query(x, str_cstr(c->from_name));
    default:
        return 0;
    }
}

/* --- replies --- */

static enum pipeline_verdict deny(struct exchange *x, const struct jwt_conf *c, uint16_t status,
                                  const char *error, const char *why)
{
    auth_audit(x, status, why);
    enum pipeline_verdict v = pipeline_reply(x, status, why);
    if (v != PIPELINE_RESPOND)
        return v;
    int rc = error ? response_addf(&x->reply, &x->arena, STR_LIT("WWW-Authenticate"),
                                   "Bearer realm=\"%s\", error=\"%s\", error_description=\"%s\"",
                                   c->realm, error, why)
                   : response_addf(&x->reply, &x->arena, STR_LIT("WWW-Authenticate"),
                                   "Bearer realm=\"%s\"", c->realm);
    if (rc != 0 || response_add(&x->reply, &x->arena, STR_LIT("Cache-Control"),
                                STR_LIT("no-store")) != 0)
        return PIPELINE_FAIL;
    return PIPELINE_RESPOND;
}

/* --- claims --- */

static bool str_in(const char *s, char *const *list, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static bool aud_ok(json_t *aud, const struct jwt_conf *c)
{
    if (json_is_string(aud))
        return str_in(json_string_value(aud), c->audiences, c->naudiences);
    size_t i;
    json_t *v;
    if (json_is_array(aud))
        json_array_foreach(aud, i, v)
            if (json_is_string(v) && str_in(json_string_value(v), c->audiences, c->naudiences))
                return true;
    return false;
}

/* 0 when the claims hold now; else why not. */
static const char *check_claims(json_t *cl, const struct jwt_conf *c, int64_t now, int64_t *exp)
{
    json_t *v = json_object_get(cl, "exp");
    int64_t lw = c->leeway_s;
    *exp = 0;
    if (v) {
        if (!json_is_number(v))
            return "exp is not a number";
        *exp = (int64_t)json_number_value(v);
        if (now >= *exp + lw)
            return "the token has expired";
    } else if (c->require_exp) {
        return "the token has no exp";
    }
    if ((v = json_object_get(cl, "nbf"))) {
        if (!json_is_number(v))
            return "nbf is not a number";
        if (now + lw < (int64_t)json_number_value(v))
            return "the token is not valid yet";
    }
    if ((v = json_object_get(cl, "iat"))) {
        if (!json_is_number(v))
            return "iat is not a number";
        if (now + lw < (int64_t)json_number_value(v))
            return "the token was issued in the future";
    }
    if (c->nissuers) {
        v = json_object_get(cl, "iss");
        if (!json_is_string(v) || !str_in(json_string_value(v), c->issuers, c->nissuers))
            return "the issuer is not accepted";
    }
    if (c->naudiences && !aud_ok(json_object_get(cl, "aud"), c))
        return "the audience is not accepted";
    for (uint32_t i = 0; i < c->nrequired; i++)
        if (!json_object_get(cl, c->required[i]))
            return "a required claim is missing";
    return NULL;
}

/* --- the record (what a verification decided) --- */

static size_t put_str(char *rec, size_t o, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    if (n > REVOCATION_VALUE_MAX || o + 2 + n > REC_MAX)
        n = 0; /* too long to be revoked by: never matches */
    rec[o] = (char)(n >> 8);
    rec[o + 1] = (char)(n & 0xff);
    memcpy(rec + o + 2, s, n);
    return o + 2 + n;
}

/* A claim's value as header text: strings as they are, numbers and booleans as JSON, arrays
 * of strings joined with ", "; other kinds give no header. */
static int claim_text(json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        return snprintf(out, cap, "%s", json_string_value(v));
    if (json_is_integer(v))
        return snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return snprintf(out, cap, "%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    if (!json_is_array(v))
        return -1;
    size_t i, o = 0;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return -1;
        int n = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", json_string_value(e));
        if (n < 0 || (size_t)n >= cap - o)
            return -1;
        o += (size_t)n;
    }
    return (int)o;
}

static bool safe_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return false;
    return true;
}

/* The record of verified claims cl into rec (REC_MAX bytes): its length. *text: the claims as
 * JSON (the caller frees it; NULL when out of memory); *whole: they are in the record too (else
 * they did not fit: the record is not for the cache). */
static size_t make_record(json_t *cl, const struct jwt_conf *c, char *rec, char **text,
                          bool *whole)
{
    bool ok = true;
    for (uint32_t i = 0; i < c->nrequire && ok; i++)
        ok = jwt_claim_has(json_object_get(cl, c->require[i].a), c->require[i].b);
    rec[0] = ok ? V_OK : V_FORBIDDEN;
    size_t o = put_str(rec, 1, json_object_get(cl, "sub"));
    o = put_str(rec, o, json_object_get(cl, "jti"));
    size_t h = o;
    o += 2;
    for (uint32_t i = 0; i < c->nto_headers; i++) {
        char val[1024];
        int n = claim_text(json_object_get(cl, c->to_headers[i].a), val, sizeof(val));
        size_t hl = strlen(c->to_headers[i].b);
        if (n < 0 || (size_t)n >= sizeof(val) || !safe_value(val, (size_t)n) ||
            o + hl + 4 + (size_t)n > REC_MAX)
            continue;
        o += (size_t)snprintf(rec + o, REC_MAX - o, "%s: %.*s\r\n", c->to_headers[i].b, n, val);
    }
    rec[h] = (char)((o - h - 2) >> 8);
    rec[h + 1] = (char)((o - h - 2) & 0xff);
    *text = json_dumps(cl, JSON_COMPACT);
    size_t tn = *text ? strlen(*text) : 0;
    *whole = *text && o + tn <= REC_MAX;
    if (*whole) {
        memcpy(rec + o, *text, tn);
        o += tn;
    }
    return o;
}

static struct str rec_str(const char *rec, size_t *o)
{
    size_t n = ((size_t)(uint8_t)rec[*o] << 8) | (uint8_t)rec[*o + 1];
    struct str s = str_from(rec + *o + 2, n);
    *o += 2 + n;
    return s;
}

/* Acts on a record: revoked → 401, forbidden → 403, else the upstream edits and NEXT. claims:
 * when they are not in the record (too large for it), else STR_NULL. */
static enum pipeline_verdict apply(struct exchange *x, const struct jwt_conf *c, const char *rec,
                                   size_t len, int64_t now, struct str claims)
{
    size_t o = 1;
    struct str sub = rec_str(rec, &o);
    struct str jti = rec_str(rec, &o);
    struct str hdrs = rec_str(rec, &o);
    if (!claims.ptr)
        claims = str_from(rec + o, len - o);
    if (revocation_check(jti, sub, now))
        return deny(x, c, 401, "invalid_token", "the token has been revoked");
    if (rec[0] == V_FORBIDDEN)
        return deny(x, c, 403, "insufficient_scope", "the token does not grant this route");
    if (!(x->auth_claims = arena_str(&x->arena, claims)).ptr)
        goto nomem;
    for (uint32_t i = 0; i < c->nto_headers; i++)
        if (upstream_edit_drop(x, str_cstr(c->to_headers[i].b)) != 0)
            goto nomem;
    if (hdrs.len) {
        size_t old = x->upstream_add.len;
        char *p = arena_alloc(&x->arena, old + hdrs.len);
        if (!p)
            goto nomem;
        if (old)
            memcpy(p, x->upstream_add.ptr, old);
        memcpy(p + old, hdrs.ptr, hdrs.len);
        x->upstream_add = str_from(p, old + hdrs.len);
    }
    if (sub.len) {
        char *id = arena_alloc(&x->arena, sub.len + 1);
        if (!id)
            goto nomem;
        memcpy(id, sub.ptr, sub.len);
        id[sub.len] = '\0';
        x->client_id = id;
    }
    if (!c->forward_token && strip_token(x, c) != 0)
        goto nomem;
    return auth_allow(x);
nomem:
    x->fail_reason = "out of memory";
    return PIPELINE_FAIL;
}

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

static enum pipeline_verdict jwt_request(struct exchange *x, void *vctx)
{
    struct jwt_ctx *ctx = vctx;
    const struct jwt_conf *c = x->link->conf;
    struct jwt_keys *k = ((struct jwt_shared *)x->link->shared)->k;
    uint64_t now_ms = ev_clock_us() / 1000;
    int64_t now = now_s();
    if (ctx->wait_until_ms) { /* back from a JWKS wait: wait on while it runs */
        if (jwt_keys_fetching(k) && now_ms < ctx->wait_until_ms)
            return pipeline_wait_until(x, x->worker->loop->now_ms + JWKS_POLL_MS);
        ctx->wait_until_ms = 0;
    }
    jwt_keys_check_file(k, now_ms);
    struct str tok = find_token(x, c);
    if (!tok.ptr || !tok.len)
        return deny(x, c, 401, NULL, "a bearer token is required");
    if (tok.len > JWT_MAX_LEN)
        return deny(x, c, 401, "invalid_token", "the token is too long");
    char rec[REC_MAX]; /* the record; apply copies what outlives this call into the arena */
    uint8_t hash[SHA256_DIGEST_LENGTH];
    uint64_t gen = atomic_load_explicit(&k->gen, memory_order_acquire);
    if (k->cache) {
        token_cache_hash(tok.ptr, tok.len, hash);
        long n = token_cache_get(k->cache, hash, now, gen, rec, REC_MAX);
        if (n > 0) {
            jwt_keys_refresh(k, x->worker, now_ms, true);
            return apply(x, c, rec, (size_t)n, now, STR_NULL);
        }
    }
    struct jwt_token t;
    const char *why = NULL;
    if (jwt_parse(tok, &t, &why) != 0)
        return deny(x, c, 401, "invalid_token", why);
    struct jwt_keyset *hold;
    const struct jwt_key *key = jwt_keys_find(k, &c->inline_keys, t.kid, t.alg, &hold);
    if (!key && !ctx->waited && jwt_keys_refresh(k, x->worker, now_ms, false)) {
        jwt_token_free(&t); /* parsed again after the wait: the request may be gone by then */
        ctx->waited = true;
        ctx->wait_until_ms = now_ms + c->jwks_timeout_ms;
        return pipeline_wait_until(x, x->worker->loop->now_ms + JWKS_POLL_MS);
    }
    if (!key) {
        jwt_token_free(&t);
        return deny(x, c, 401, "invalid_token", "no key for this token's kid and algorithm");
    }
    bool good = jwt_verify(key, &t, tok.ptr);
    jwt_keyset_put(hold);
    if (!good) {
        jwt_token_free(&t);
        return deny(x, c, 401, "invalid_token", "the signature does not verify");
    }
    int64_t exp;
    why = check_claims(t.claims, c, now, &exp);
    char *text = NULL;
    bool whole = false;
    size_t len = why ? 0 : make_record(t.claims, c, rec, &text, &whole);
    jwt_token_free(&t);
    if (why)
        return deny(x, c, 401, "invalid_token", why);
    if (!text) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    if (k->cache && exp > 0 && whole) /* claims too large for a record: verified each time */
        token_cache_put(k->cache, hash, exp + c->leeway_s, gen, rec, len);
    jwt_keys_refresh(k, x->worker, now_ms, true);
    enum pipeline_verdict v = apply(x, c, rec, len, now, whole ? STR_NULL : str_cstr(text));
    free(text);
    return v;
}

const struct pipeline_module jwt_module = {
    .name = "jwt",
    .key = "jwt",
    .phase = PIPELINE_PHASE_ACCESS,
    .ctx_size = sizeof(struct jwt_ctx),
    .config_load = jwt_config_load,
    .config_free = jwt_config_free,
    .shared_get = jwt_shared_get,
    .shared_put = jwt_shared_put,
    .on_request = jwt_request,
};

/* jwt_keys.c — see jwt_keys.h. */
#include "security/jwt_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "event/loop.h"
#include "pipeline/exchange.h"
#include "security/jwt_config.h"
#include "security/token_cache.h"

#define JWKS_MAX (1u << 20)

void jwt_keyset_put(struct jwt_keyset *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        jwks_free(&s->set);
        free(s);
    }
}

static struct jwt_keyset *keyset_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct jwt_keyset *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (jwks_parse(text, len, &s->set, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    return s;
}

/* Swaps in a new set (or keeps the old one when s is NULL). Under k->mu. */
static void swap_set(struct jwt_keys *k, struct jwt_keyset **slot, struct jwt_keyset *s)
{
    struct jwt_keyset *old = *slot;
    *slot = s;
    atomic_fetch_add(&k->gen, 1);
    jwt_keyset_put(old);
}

static void load_file(struct jwt_keys *k, const struct stat *st)
{
    FILE *f = fopen(k->file, "rb");
    char *buf = f ? malloc(JWKS_MAX) : NULL;
    size_t n = buf ? fread(buf, 1, JWKS_MAX, f) : 0;
    if (f)
        fclose(f);
    char err[160] = "cannot read it";
    struct jwt_keyset *s = buf && n < JWKS_MAX ? keyset_parse(buf, n, err, sizeof(err)) : NULL;
    free(buf);
    k->file_mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    if (!s) {
        log_warn("jwt: %s: %s; the keys read before stay in use", k->file, err);
        return;
    }
    swap_set(k, &k->file_set, s);
    atomic_fetch_add(&k->reloads, 1);
}

void jwt_keys_check_file(struct jwt_keys *k, uint64_t now_ms)
{
    uint_fast64_t due = atomic_load_explicit(&k->file_next_check_ms, memory_order_relaxed);
    if (!k->file || now_ms < due ||
        !atomic_compare_exchange_strong(&k->file_next_check_ms, &due, now_ms + 1000))
        return;
    struct stat st;
    if (stat(k->file, &st) != 0)
        return; /* gone for a moment (an editor's rename): keep the keys */
    pthread_mutex_lock(&k->mu);
    if ((int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != k->file_mtime_ns ||
        !k->file_set)
        load_file(k, &st);
    pthread_mutex_unlock(&k->mu);
}

struct jwt_keys *jwt_keys_new(const struct jwt_conf *c)
{
    struct jwt_keys *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    atomic_init(&k->refs, 1);
    pthread_mutex_init(&k->mu, NULL);
    k->refresh_min_ms = c->jwks_refresh_min_ms;
    k->max_age_ms = c->jwks_max_age_ms;
    if ((c->jwks_file && !(k->file = strdup(c->jwks_file))) ||
        (c->jwks_request && !(k->request = strdup(c->jwks_request))) ||
        (c->cache_size && !(k->cache = token_cache_new(c->cache_size)))) {
        jwt_keys_put(k);
        return NULL;
    }
    jwt_keys_check_file(k, 0);
    return k;
}

void jwt_keys_put(struct jwt_keys *k)
{
    if (!k || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    jwt_keyset_put(k->file_set);
    jwt_keyset_put(k->url_set);
    token_cache_free(k->cache);
    free(k->file);
    free(k->request);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

const struct jwt_key *jwt_keys_find(struct jwt_keys *k, const struct jwks *inline_keys,
                                    const char *kid, enum jwt_alg alg, struct jwt_keyset **hold)
{
    *hold = NULL;
    const struct jwt_key *key = jwks_find(inline_keys, kid, alg);
    if (key)
        return key;
    pthread_mutex_lock(&k->mu);
    struct jwt_keyset *sets[2] = {k->file_set, k->url_set};
    for (int i = 0; i < 2 && !key; i++)
        if (sets[i] && (key = jwks_find(&sets[i]->set, kid, alg))) {
            atomic_fetch_add(&sets[i]->refs, 1);
            *hold = sets[i];
        }
    pthread_mutex_unlock(&k->mu);
    return key;
}

int jwt_keys_set_url(struct jwt_keys *k, const char *text, size_t len, uint64_t now_ms)
{
    char err[160];
    struct jwt_keyset *s = keyset_parse(text, len, err, sizeof(err));
    if (s && s->set.n == 0) {
        snprintf(err, sizeof(err), "no usable key in it");
        jwt_keyset_put(s);
        s = NULL;
    }
    pthread_mutex_lock(&k->mu);
    if (s) {
        swap_set(k, &k->url_set, s);
        k->last_ok_ms = now_ms;
        atomic_store(&k->stale_at_ms, now_ms + k->max_age_ms);
    }
    pthread_mutex_unlock(&k->mu);
    if (!s)
        log_warn("jwt: the JWKS document fetched is unusable (%s); the last good set stays", err);
    return s ? 0 : -1;
}

static void fetch_done(void *arg, const struct fetch_reply *r)
{
    struct jwt_keys *k = arg;
    uint64_t now = ev_clock_us() / 1000;
    bool ok = r->status == 200 && !r->truncated &&
              jwt_keys_set_url(k, r->body.ptr, r->body.len, now) == 0;
    if (!ok) {
        atomic_fetch_add(&k->fetch_failures, 1);
        if (r->status != 200)
            log_warn("jwt: JWKS fetch answered %u%s; the last good set stays", r->status,
                     r->truncated ? " (over 1 MiB)" : "");
    }
    pthread_mutex_lock(&k->mu);
    k->fetching = false;
    pthread_mutex_unlock(&k->mu);
    jwt_keys_put(k);
}

bool jwt_keys_refresh(struct jwt_keys *k, struct pipeline_worker *pw, uint64_t now_ms,
                      bool stale_only)
{
    if (!k->request || (stale_only && now_ms < atomic_load_explicit(&k->stale_at_ms,
                                                                     memory_order_relaxed)))
        return false; /* the per-request path: no lock while the set is fresh */
    pthread_mutex_lock(&k->mu);
    bool start = !k->fetching && pw && pw->fetch_reply &&
                 (!k->last_fetch_ms || now_ms - k->last_fetch_ms >= k->refresh_min_ms) &&
                 (!stale_only || (k->url_set && now_ms - k->last_ok_ms >= k->max_age_ms));
    if (start) {
        k->fetching = true;
        k->last_fetch_ms = now_ms;
        if (k->url_set) /* a failed refresh is tried again after refresh_min, not per request */
            atomic_store(&k->stale_at_ms, now_ms + k->refresh_min_ms);
        atomic_fetch_add(&k->refs, 1);
    }
    pthread_mutex_unlock(&k->mu);
    if (start) {
        atomic_fetch_add(&k->fetches, 1);
        if (pw->fetch_reply(pw, k->request, strlen(k->request), JWKS_MAX, fetch_done, k) != 0) {
            atomic_fetch_add(&k->fetch_failures, 1);
            pthread_mutex_lock(&k->mu);
            k->fetching = false;
            pthread_mutex_unlock(&k->mu);
            jwt_keys_put(k);
        }
    }
    return jwt_keys_fetching(k);
}

bool jwt_keys_fetching(struct jwt_keys *k)
{
    pthread_mutex_lock(&k->mu);
    bool f = k->fetching;
    pthread_mutex_unlock(&k->mu);
    return f;
}

/* token_cache.c — see token_cache.h. */
#include "security/token_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define WAYS 4
#define LOCKS 64

struct tc_entry {
    uint8_t hash[32];
    int64_t exp_s;       /* 0: empty */
    uint64_t gen;
    char *data;
    size_t len;
};

struct token_cache {
    uint32_t nsets;
    pthread_mutex_t locks[LOCKS];
    struct tc_entry *e;  /* nsets * WAYS */
};

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t hash_key;

static void hash_ctx_free(void *p)
{
    EVP_MD_CTX_free(p);
}

static void hash_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (pthread_key_create(&hash_key, hash_ctx_free) != 0) {
        EVP_MD_free(sha256_md);
        sha256_md = NULL;
    }
}

void token_cache_hash(const void *p, size_t n, uint8_t out[32])
{
    pthread_once(&hash_once, hash_init);
    EVP_MD_CTX *c = sha256_md ? pthread_getspecific(hash_key) : NULL;
    if (sha256_md && !c && (c = EVP_MD_CTX_new()) && pthread_setspecific(hash_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    unsigned len = 0;
    if (!c || !EVP_DigestInit_ex2(c, sha256_md, NULL) || !EVP_DigestUpdate(c, p, n) ||
        !EVP_DigestFinal_ex(c, out, &len))
        SHA256(p, n, out);
}

struct token_cache *token_cache_new(uint32_t max_entries)
{
    struct token_cache *c = calloc(1, sizeof(*c));
    uint32_t nsets = (max_entries + WAYS - 1) / WAYS;
    if (nsets < 16)
        nsets = 16;
    if (!c || !(c->e = calloc((size_t)nsets * WAYS, sizeof(*c->e)))) {
        free(c);
        return NULL;
    }
    c->nsets = nsets;
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    return c;
}

void token_cache_free(struct token_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < (size_t)c->nsets * WAYS; i++)
        free(c->e[i].data);
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->e);
    free(c);
}

static uint32_t set_of(const struct token_cache *c, const uint8_t hash[32])
{
    uint32_t v;
    memcpy(&v, hash, sizeof(v)); /* a SHA-256: any 4 bytes are uniform */
    return v % c->nsets;
}

/* The way holding hash (*found set), else the one to replace: an empty way or the one that
 * expires first. Under the set's lock. */
static struct tc_entry *way_for(struct tc_entry *set, const uint8_t hash[32], bool *found)
{
    struct tc_entry *victim = &set[0];
    for (int w = 0; w < WAYS; w++) {
        struct tc_entry *e = &set[w];
        if (e->exp_s && !memcmp(e->hash, hash, 32)) {
            *found = true;
            return e;
        }
        if (e->exp_s < victim->exp_s)
            victim = e;
    }
    *found = false;
    return victim;
}

long token_cache_get(struct token_cache *c, const uint8_t hash[32], int64_t now_s, uint64_t gen,
                     char *out, size_t cap)
{
    uint32_t s = set_of(c, hash);
    pthread_mutex_t *mu = &c->locks[s % LOCKS];
    long got = -1;
    pthread_mutex_lock(mu);
    for (int w = 0; w < WAYS; w++) {
        struct tc_entry *e = &c->e[(size_t)s * WAYS + (size_t)w];
        if (e->exp_s && !memcmp(e->hash, hash, 32)) {
            if (e->exp_s > now_s && e->gen == gen && e->len <= cap) {
                memcpy(out, e->data, e->len);
                got = (long)e->len;
            }
            break;
        }
    }
    pthread_mutex_unlock(mu);
    return got;
}

void token_cache_put(struct token_cache *c, const uint8_t hash[32], int64_t exp_s, uint64_t gen,
                     const char *data, size_t len)
{
    if (len > TOKEN_CACHE_DATA_MAX || exp_s <= 0)
        return;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    uint32_t s = set_of(c, hash);
    pthread_mutex_t *mu = &c->locks[s % LOCKS];
    pthread_mutex_lock(mu);
    bool found;
    struct tc_entry *victim = way_for(&c->e[(size_t)s * WAYS], hash, &found);
    free(victim->data);
    *victim = (struct tc_entry){.exp_s = exp_s, .gen = gen, .data = copy, .len = len};
    memcpy(victim->hash, hash, 32);
    pthread_mutex_unlock(mu);
}

int token_cache_claim(struct token_cache *c, const uint8_t hash[32], int64_t exp_s,
                      int64_t now_s)
{
    uint32_t s = set_of(c, hash);
    pthread_mutex_t *mu = &c->locks[s % LOCKS];
    pthread_mutex_lock(mu);
    bool found;
    struct tc_entry *victim = way_for(&c->e[(size_t)s * WAYS], hash, &found);
    if (found && victim->exp_s > now_s) {
        pthread_mutex_unlock(mu);
        return 0;
    }
    free(victim->data);
    *victim = (struct tc_entry){.exp_s = exp_s};
    memcpy(victim->hash, hash, 32);
    pthread_mutex_unlock(mu);
    return 1;
}

/* tls_ticket.c — see tls_ticket.h. */
#include "tls/tls_ticket.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define NKEYS 3 /* the current one and two that still decrypt */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    uint64_t created_ms;
    bool set;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key keys[NKEYS];
static uint64_t period_ms = UINT64_MAX;
static uint64_t rotations;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Under lock: a new current key when there is none or its period ended. */
static int rotate_locked(uint64_t now)
{
    if (keys[0].set && now - keys[0].created_ms < period_ms)
        return 0;
    struct ticket_key k = {.created_ms = now, .set = true};
    if (RAND_bytes(k.name, sizeof(k.name)) != 1 || RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
        RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
        return -1;
    OPENSSL_cleanse(&keys[NKEYS - 1], sizeof(keys[0]));
    memmove(&keys[1], &keys[0], sizeof(keys[0]) * (NKEYS - 1));
    keys[0] = k;
    OPENSSL_cleanse(&k, sizeof(k));
    if (keys[1].set)
        rotations++;
    return 0;
}

static int mac_init(EVP_MAC_CTX *hctx, const unsigned char *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_init(hctx, key, 32, params);
}

/* OpenSSL's ticket key callback: enc = 1 to issue (returns 1), 0 to open (1 = valid,
 * 2 = valid but renew it, 0 = unknown key: a full handshake). */
static int ticket_cb(SSL *s, unsigned char key_name[16], unsigned char *iv,
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    (void)s;
    struct ticket_key k;
    int ret = 1;
    pthread_mutex_lock(&lock);
    uint64_t now = now_ms();
    if (rotate_locked(now) != 0) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    if (enc) {
        k = keys[0];
    } else {
        /* A key encrypted for one period at most (rotation comes before any use after it),
         * so its tickets are at most NKEYS periods old while it is younger than that. */
        int i = 0;
        while (i < NKEYS && !(keys[i].set && memcmp(keys[i].name, key_name, 16) == 0 &&
                              (period_ms > UINT64_MAX / NKEYS ||
                               now - keys[i].created_ms < NKEYS * period_ms)))
            i++;
        if (i == NKEYS) {
            pthread_mutex_unlock(&lock);
            return 0;
        }
        k = keys[i];
        ret = i == 0 ? 1 : 2;
    }
    pthread_mutex_unlock(&lock);
    int ok;
    if (enc) {
        memcpy(key_name, k.name, 16);
        ok = RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
             EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1 &&
             mac_init(hctx, k.hmac) == 1;
    } else {
        ok = mac_init(hctx, k.hmac) == 1 &&
             EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return ok ? ret : -1;
}

void tls_ticket_install(SSL_CTX *ctx, uint32_t rotate_ms)
{
    pthread_mutex_lock(&lock);
    if (rotate_ms && rotate_ms < period_ms)
        period_ms = rotate_ms;
    pthread_mutex_unlock(&lock);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
}

uint64_t tls_ticket_rotations(void)
{
    pthread_mutex_lock(&lock);
    uint64_t r = rotations;
    pthread_mutex_unlock(&lock);
    return r;
}

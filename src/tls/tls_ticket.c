/* tls_ticket.c — see tls_ticket.h. */
#include "tls/tls_ticket.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define NKEYS 2 /* the current one and the previous one, which still decrypts */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    uint64_t created_ms;
    bool set;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake; /* on CLOCK_MONOTONIC: a shorter period was installed */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool timer_ok;
static struct ticket_key keys_static[NKEYS];
static struct ticket_key *keys = keys_static; /* a locked, undumped page when possible */
static uint64_t period_ms = UINT64_MAX;
static uint64_t rotations;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Under lock: a new current key; the current one becomes the previous one. */
static int rotate_locked(uint64_t now)
{
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

/* The rotation timer: one thread for the process, asleep between rotations, so a key's life
 * does not depend on handshakes arriving (a lazy rotation would let an idle server keep
 * decrypting with a key long past its periods). */
static void *timer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        uint64_t now = now_ms();
        if (period_ms != UINT64_MAX && (!keys[0].set || now - keys[0].created_ms >= period_ms)) {
            /* on a missed period (a suspended machine) the previous key goes too */
            if (keys[0].set && now - keys[0].created_ms >= 2 * period_ms)
                rotate_locked(now);
            rotate_locked(now);
            continue;
        }
        if (period_ms == UINT64_MAX) {
            pthread_cond_wait(&wake, &lock);
            continue;
        }
        uint64_t due = keys[0].created_ms + period_ms;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000u),
                              .tv_nsec = (long)(due % 1000u) * 1000000L};
        pthread_cond_timedwait(&wake, &lock, &ts);
    }
    return NULL;
}

static void timer_start(void)
{
    /* never on disk: a page kept out of swap (mlock, best effort) and out of core dumps */
    size_t len = ((sizeof(keys_static) + 4095) / 4096) * 4096;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        madvise(p, len, MADV_DONTDUMP);
        mlock(p, len);
        keys = p;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    if (pthread_create(&t, NULL, timer_main, NULL) == 0) {
        pthread_detach(t);
        timer_ok = true;
    }
}

/* Under lock: the index of the key named `name` that may still decrypt, or -1. A key is the
 * previous one for one period at most; the age check also holds when the timer is late. */
static int find_locked(const unsigned char name[16], uint64_t now)
{
    for (int i = 0; i < NKEYS; i++)
        if (keys[i].set && memcmp(keys[i].name, name, 16) == 0 &&
            (period_ms > UINT64_MAX / NKEYS || now - keys[i].created_ms < NKEYS * period_ms))
            return i;
    return -1;
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
    /* the first key, or no timer thread: made here */
    if ((!keys[0].set || (!timer_ok && now_ms() - keys[0].created_ms >= period_ms)) &&
        rotate_locked(now_ms()) != 0) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    if (enc) {
        k = keys[0];
    } else {
        int i = find_locked(key_name, now_ms());
        if (i < 0) {
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
    pthread_once(&once, timer_start);
    pthread_mutex_lock(&lock);
    if (!keys[0].set)
        rotate_locked(now_ms()); /* here, not on the timer thread: it only rotates */
    if (rotate_ms && rotate_ms < period_ms) {
        period_ms = rotate_ms;
        pthread_cond_signal(&wake);
    }
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

int tls_ticket_current(unsigned char name[16])
{
    pthread_once(&once, timer_start);
    pthread_mutex_lock(&lock);
    int rc = keys[0].set || rotate_locked(now_ms()) == 0 ? 0 : -1;
    if (rc == 0)
        memcpy(name, keys[0].name, 16);
    pthread_mutex_unlock(&lock);
    return rc;
}

int tls_ticket_key_state(const unsigned char name[16])
{
    pthread_once(&once, timer_start);
    pthread_mutex_lock(&lock);
    int i = find_locked(name, now_ms());
    pthread_mutex_unlock(&lock);
    return i;
}

/* auth_bench.c — CPU per request of the authentication checks (issue 13, point 8): a JWT
 * verified from scratch (parse + signature + claims) for HS256, RS256, ES256 and EdDSA, a
 * token reused (the verified-token cache hit the module takes instead: SHA-256 of the token,
 * the cache lookup, the revocation check), an API key check among 10 keys, and an HMAC request
 * signature check without body. Reports user-space instructions per operation (perf counter;
 * the cores are shared, so counts are the stable figure) and ns per operation.
 *
 * Usage: <build>/bench/micro/auth_bench [iterations] [label prefix]
 * Where no perf counter is allowed (containers), bench/auth_bench.sh counts instructions with
 * cachegrind instead: the run with N iterations of one check minus the run with 0. */
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "security/jwt.h"
#include "security/revocation.h"
#include "security/token_cache.h"

static int perf_fd = -1;

static void counter_open(void)
{
    struct perf_event_attr a = {.type = PERF_TYPE_HARDWARE, .size = sizeof(a),
                                .config = PERF_COUNT_HW_INSTRUCTIONS, .disabled = 1,
                                .exclude_kernel = 1, .exclude_hv = 1};
    perf_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t counter_read(void)
{
    uint64_t v = 0;
    if (perf_fd < 0 || read(perf_fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *only; /* run just the checks whose label starts with this */

#define RUN(label, iters, body)                                                                  \
    do {                                                                                         \
        if (only && strncmp(label, only, strlen(only)) != 0)                                    \
            break;                                                                               \
        if (perf_fd >= 0) {                                                                      \
            ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);                                             \
            ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);                                            \
        }                                                                                        \
        uint64_t t0 = now_ns();                                                                  \
        for (long i_ = 0; i_ < (iters); i_++) {                                                  \
            body;                                                                                \
        }                                                                                        \
        uint64_t t1 = now_ns();                                                                  \
        if (perf_fd >= 0)                                                                        \
            ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);                                           \
        printf("%-34s %10.0f instructions %10.1f ns  (%ld iterations)\n", label,                \
               perf_fd >= 0 ? (double)counter_read() / (double)(iters) : 0.0,                    \
               (double)(t1 - t0) / (double)(iters), (long)(iters));                              \
    } while (0)

/* The claims, base64url, into out; its length. */
static size_t claims_b64(char *out)
{
    char claims[256];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"alice\",\"iss\":\"https://issuer.test\",\"aud\":\"weir-api\","
             "\"exp\":%ld,\"jti\":\"0123456789\"}", (long)time(NULL) + 3600);
    return jwt_b64url_encode((const uint8_t *)claims, strlen(claims), out);
}

/* header.claims.signature for a key; sig: raw JOSE bytes. */
static void make_token(const char *alg, EVP_PKEY *pk, const uint8_t *secret, size_t slen,
                       const EVP_MD *md, char *tok)
{
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    size_t o = jwt_b64url_encode((const uint8_t *)hdr, strlen(hdr), tok);
    tok[o++] = '.';
    o += claims_b64(tok + o);
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    if (secret) {
        unsigned n;
        HMAC(md, secret, (int)slen, (const uint8_t *)tok, o, sig, &n);
        sl = n;
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestSignInit(ctx, NULL, md, NULL, pk);
        EVP_DigestSign(ctx, sig, &sl, (const uint8_t *)tok, o);
        EVP_MD_CTX_free(ctx);
        if (!strcmp(alg, "ES256")) { /* DER → r || s */
            const uint8_t *p = sig;
            ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)sl);
            BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32);
            ECDSA_SIG_free(s);
            sl = 64;
        }
    }
    tok[o++] = '.';
    jwt_b64url_encode(sig, sl, tok + o);
}

static volatile int sink;

static void bench_verify(const char *label, const struct jwt_key *k, const char *tok, long n)
{
    RUN(label, n, {
        struct jwt_token t;
        const char *why;
        if (jwt_parse(str_cstr(tok), &t, &why) == 0) {
            sink += jwt_verify(k, &t, tok);
            sink += json_integer_value(json_object_get(t.claims, "exp")) > 0;
            jwt_token_free(&t);
        }
    });
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    only = argc > 2 ? argv[2] : NULL;
    counter_open();
    if (perf_fd < 0)
        printf("(no perf counter: instructions shown as 0)\n");
    static uint8_t secret[] = "bench-secret-0123456789abcdef0123456789abcdef";
    char tok[2048];

    struct jwt_key hs = {.alg = JWT_HS256, .secret = secret, .secret_len = sizeof(secret) - 1};
    make_token("HS256", NULL, secret, hs.secret_len, EVP_sha256(), tok);
    bench_verify("jwt HS256 verify (parse+sig+exp)", &hs, tok, n);

    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    struct jwt_key rs = {.alg = JWT_RS256, .pkey = rsa};
    make_token("RS256", rsa, NULL, 0, EVP_sha256(), tok);
    bench_verify("jwt RS256 verify (2048-bit)", &rs, tok, n / 4);

    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct jwt_key es = {.alg = JWT_ES256, .pkey = ec};
    make_token("ES256", ec, NULL, 0, EVP_sha256(), tok);
    bench_verify("jwt ES256 verify (P-256)", &es, tok, n / 4);

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct jwt_key eddsa = {.alg = JWT_EDDSA, .pkey = ed};
    make_token("EdDSA", ed, NULL, 0, NULL, tok);
    bench_verify("jwt EdDSA verify (Ed25519)", &eddsa, tok, n / 4);

    /* the cached path: what jwt_module does for a token it has seen */
    struct token_cache *tc = token_cache_new(10000);
    uint8_t h[32];
    char rec[TOKEN_CACHE_DATA_MAX];
    static const char record[] = "\0\0\5alice\0\12" "0123456789X-User: alice\r\n";
    SHA256((const uint8_t *)tok, strlen(tok), h);
    token_cache_put(tc, h, time(NULL) + 3600, 1, record, sizeof(record) - 1);
    int64_t now = time(NULL);
    RUN("jwt cached token (sha256+get+revoc)", n * 10, {
        SHA256((const uint8_t *)tok, strlen(tok), h);
        long l = token_cache_get(tc, h, now, 1, rec, sizeof(rec));
        sink += (int)l + revocation_check(str_from(rec + 11, 10), str_from(rec + 3, 5), now);
    });
    revocation_add(REVOKE_JTI, STR_LIT("other"), now + 60, now);
    RUN("  same, revocation list non-empty", n * 10, {
        SHA256((const uint8_t *)tok, strlen(tok), h);
        long l = token_cache_get(tc, h, now, 1, rec, sizeof(rec));
        sink += (int)l + revocation_check(str_from(rec + 11, 10), str_from(rec + 3, 5), now);
    });

    uint8_t keys[10][32];
    for (int i = 0; i < 10; i++)
        memset(keys[i], i + 1, 32);
    RUN("api key (sha256 + 10 CRYPTO_memcmp)", n * 10, {
        SHA256((const uint8_t *)"the-api-key-0123456789", 22, h);
        for (int k = 0; k < 10; k++)
            sink += CRYPTO_memcmp(h, keys[k], 32) == 0;
    });
    static const char canon[] = "GET\n/api/orders\na=1&b=2\n1700000000\nhost:api.test\n"
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    RUN("hmac request (sha256 body + HMAC)", n * 10, {
        uint8_t mac[32];
        unsigned ml;
        SHA256((const uint8_t *)"", 0, h);
        HMAC(EVP_sha256(), secret, 32, (const uint8_t *)canon, sizeof(canon) - 1, mac, &ml);
        sink += mac[0];
    });
    token_cache_free(tc);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    return 0;
}

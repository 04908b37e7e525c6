/* auth_bench.c — CPU per request of the authentication checks (issue 13, point 8): a JWT
 * verified from scratch (parse + signature + claims) for HS256, RS256, ES256 and EdDSA, a
 * token reused (the verified-token cache hit the module takes instead: SHA-256 of the token,
 * the cache lookup, the revocation check), an API key check among 10 keys, and an HMAC request
 * signature check without body. Reports user-space instructions per operation (perf counter;
 * the cores are shared, so counts are the stable figure) and ns per operation.
 *
 * Usage: <build>/bench/micro/auth_bench [iterations] [label prefix]
 * Where no perf counter is allowed (containers), bench/auth_bench.sh counts instructions with
 * callgrind instead, inside measured() only. */
#include <linux/perf_event.h>
#include <stdbool.h>
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

#include "core/config.h"
#include "core/config_types.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "modules/registry.h"
#include "pipeline/runner.h"
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

/* One check, n times. noinline and named: bench/auth_bench.sh counts the instructions of this
 * function and what it calls (callgrind --toggle-collect=measured), nothing of the set-up. */
__attribute__((noinline)) void measured(void (*op)(void *), void *arg, long n);
__attribute__((noinline)) void measured(void (*op)(void *), void *arg, long n)
{
    for (long i = 0; i < n; i++)
        op(arg);
}

static bool want(const char *label)
{
    return !only || strncmp(label, only, strlen(only)) == 0;
}

static void run(const char *label, void (*op)(void *), void *arg, long n)
{
    if (!want(label))
        return;
    if (perf_fd >= 0) {
        ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
    uint64_t t0 = now_ns();
    measured(op, arg, n);
    uint64_t t1 = now_ns();
    if (perf_fd >= 0)
        ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    printf("%-36s %10.0f instructions %10.1f ns  (%ld iterations)\n", label,
           perf_fd >= 0 ? (double)counter_read() / (double)n : 0.0, (double)(t1 - t0) / (double)n,
           n);
}

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
static void make_token(const char *alg, EVP_PKEY *pk, const uint8_t *hkey, size_t slen,
                       const EVP_MD *md, char *tok)
{
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    size_t o = jwt_b64url_encode((const uint8_t *)hdr, strlen(hdr), tok);
    tok[o++] = '.';
    o += claims_b64(tok + o);
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    if (hkey) {
        unsigned n;
        HMAC(md, hkey, (int)slen, (const uint8_t *)tok, o, sig, &n);
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

struct verify_arg {
    const struct jwt_key *k;
    const char *tok;
};

static void op_verify(void *p)
{
    const struct verify_arg *v = p;
    struct jwt_token t;
    const char *why;
    if (jwt_parse(str_cstr(v->tok), &t, &why) == 0) {
        sink += jwt_verify(v->k, &t, v->tok);
        sink += json_integer_value(json_object_get(t.claims, "exp")) > 0;
        jwt_token_free(&t);
    }
}

struct cached_arg {
    struct token_cache *tc;
    const char *tok;
    int64_t now;
};

/* What jwt_module does for a token it verified before: hash, look up, revocation check. */
static void op_cached(void *p)
{
    const struct cached_arg *c = p;
    uint8_t h[32];
    char rec[TOKEN_CACHE_DATA_MAX];
    token_cache_hash(c->tok, strlen(c->tok), h);
    long l = token_cache_get(c->tc, h, c->now, 1, rec, sizeof(rec));
    sink += (int)l + revocation_check(str_from(rec + 11, 10), str_from(rec + 3, 5), c->now);
}

static uint8_t api_keys[10][32];

static void op_apikey(void *p)
{
    (void)p;
    uint8_t h[32];
    token_cache_hash("the-api-key-0123456789", 22, h);
    for (int k = 0; k < 10; k++)
        sink += CRYPTO_memcmp(h, api_keys[k], 32) == 0;
}

static uint8_t secret[] = "bench-secret-0123456789abcdef0123456789abcdef";

static void op_hmac(void *p)
{
    (void)p;
    static const char canon[] = "GET\n/api/orders\na=1&b=2\n1700000000\nhost:api.test\n"
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    uint8_t h[32], mac[32];
    unsigned ml;
    SHA256((const uint8_t *)"", 0, h);
    HMAC(EVP_sha256(), secret, 32, (const uint8_t *)canon, sizeof(canon) - 1, mac, &ml);
    sink += mac[0] + h[0];
}

static void bench_alg(const char *label, const char *alg, long n)
{
    if (!want(label))
        return;
    char tok[2048];
    struct jwt_key k = {.alg = jwt_alg_parse(alg, strlen(alg))};
    const EVP_MD *md = EVP_sha256();
    if (k.alg == JWT_HS256) {
        k.secret = secret;
        k.secret_len = sizeof(secret) - 1;
    } else if (k.alg == JWT_RS256) {
        k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    } else if (k.alg == JWT_ES256) {
        k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else {
        k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        md = NULL;
    }
    jwt_key_prepare(&k);
    make_token(alg, k.pkey, k.secret, k.secret_len, md, tok);
    struct verify_arg v = {.k = &k, .tok = tok};
    run(label, op_verify, &v, n);
    EVP_PKEY_free(k.pkey);
    EVP_MAC_CTX_free(k.mac);
}

/* The whole module on a cached token: jwt_module's on_request through the pipeline, as the
 * host runs it (start, request, end), for a route with claims_to_headers. */
struct module_arg {
    struct exchange x;
    struct h1_request req;
    struct pipeline_worker pw;
    struct ev_loop loop;
    const struct config *cfg;
    const struct pipeline_chain *chain;
};

static void host_done(struct exchange *x, enum pipeline_verdict v)
{
    (void)x;
    (void)v;
}

static const struct exchange_host_ops bench_host = {.request_done = host_done};

static void op_module(void *p)
{
    struct module_arg *m = p;
    m->x = (struct exchange){.host = &bench_host, .worker = &m->pw, .cfg = m->cfg,
                             .route = &m->cfg->routes[0], .chain = m->chain, .req = &m->req,
                             .client_ip = "127.0.0.1", .request_id = "rid"};
    pipeline_start(&m->x);
    sink += pipeline_request(&m->x) == PIPELINE_NEXT;
    pipeline_end(&m->x, 200);
}

static void bench_module(const char *label, long n)
{
    if (!want(label))
        return;
    metrics_set_workers(1);
    modules_register();
    char yaml[1024], tok[2048], head[4096];
    snprintf(yaml, sizeof(yaml),
             "listen: [\"127.0.0.1:1\"]\nupstreams:\n  g:\n    servers: [\"127.0.0.1:9\"]\n"
             "routes:\n  - path: /\n    upstream: g\n    jwt:\n"
             "      keys: [{alg: HS256, secret: \"%s\"}]\n"
             "      issuers: [\"https://issuer.test\"]\n      audiences: [weir-api]\n"
             "      claims_to_headers: {sub: X-User}\n", (const char *)secret);
    struct cfg_error err;
    struct config *cfg = config_load_buffer(yaml, strlen(yaml), "bench.yaml", &err);
    if (!cfg) {
        fprintf(stderr, "auth_bench: %s\n", err.msg);
        exit(1);
    }
    static struct module_arg m;
    m.cfg = cfg;
    m.chain = pipeline_chain_build(cfg, &cfg->routes[0]);
    m.loop.now_ms = 1000;
    timer_wheel_init(&m.loop.timers, 1000);
    m.pw = (struct pipeline_worker){.loop = &m.loop, .id = 0, .nworkers = 1};
    make_token("HS256", NULL, secret, sizeof(secret) - 1, EVP_sha256(), tok);
    snprintf(head, sizeof(head), "GET /api/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
             "Accept: */*\r\nUser-Agent: bench\r\n\r\n", tok);
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 8192,
                                         .max_headers = 100};
    if (h1_parse_request(head, strlen(head), &lim, &m.req) <= 0)
        exit(1);
    op_module(&m); /* the first one verifies; the measured ones are cache hits */
    run(label, op_module, &m, n);
    pipeline_chain_free((struct pipeline_chain *)m.chain);
    config_unref(cfg);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    only = argc > 2 ? argv[2] : NULL;
    counter_open();
    if (perf_fd < 0)
        printf("(no perf counter here: instructions shown as 0; see bench/auth_bench.sh)\n");
    bench_alg("jwt HS256 verify (parse+sig+exp)", "HS256", n);
    bench_alg("jwt RS256 verify (2048-bit)", "RS256", n / 4);
    bench_alg("jwt ES256 verify (P-256)", "ES256", n / 4);
    bench_alg("jwt EdDSA verify (Ed25519)", "EdDSA", n / 4);

    char tok[2048];
    struct jwt_key hs = {.alg = JWT_HS256, .secret = secret, .secret_len = sizeof(secret) - 1};
    make_token("HS256", NULL, hs.secret, hs.secret_len, EVP_sha256(), tok);
    struct token_cache *tc = token_cache_new(10000);
    static const char record[] = "\0\0\5alice\0\12" "0123456789X-User: alice\r\n";
    uint8_t h[32];
    SHA256((const uint8_t *)tok, strlen(tok), h);
    struct cached_arg ca = {.tc = tc, .tok = tok, .now = time(NULL)};
    token_cache_put(tc, h, ca.now + 3600, 1, record, sizeof(record) - 1);
    run("jwt cached token (sha256+get+revoc)", op_cached, &ca, n * 10);
    bench_module("jwt module, cached token (request)", n * 10);
    if (want("jwt revocation non-empty")) {
        revocation_add(REVOKE_JTI, STR_LIT("other"), ca.now + 60, ca.now);
        run("jwt revocation non-empty, cached", op_cached, &ca, n * 10);
    }
    for (int i = 0; i < 10; i++)
        memset(api_keys[i], i + 1, 32);
    run("api key (sha256 + 10 CRYPTO_memcmp)", op_apikey, NULL, n * 10);
    run("hmac request (sha256 body + HMAC)", op_hmac, NULL, n * 10);
    token_cache_free(tc);
    return 0;
}

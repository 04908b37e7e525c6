/* security_bench.c — per-request cost of the edge-security modules (issue 13: each check
 * <= 1 us CPU), measured through the real pipeline: a route per module, a parsed request, and
 * for each iteration pipeline_start / pipeline_request / pipeline_response_head (a 200 from
 * the "upstream") / pipeline_end, minus the same cycle on a route with no module. Also the
 * 100 k prefix radix lookup alone and the JSON masker per KiB.
 *
 * Prints ns per op; for instruction counts run it under callgrind (bench/RESULTS.md has the
 * command): every measured loop is its own noinline function named run_<case>.
 * Numbers mean something only in a release build without sanitizers.
 * Usage: security_bench [iterations]   (default 200000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/config_types.h"
#include "event/timer.h"
#include "http/h1.h"
#include "metrics/metrics.h"
#include "modules/registry.h"
#include "pipeline/runner.h"
#include "security/cidr_trie.h"
#include "security/mask.h"
#include "security/mask_json.h"

static const char *const yaml =
    "listen: [\"127.0.0.1:1\"]\n"
    "upstreams:\n  g:\n    servers: [\"127.0.0.1:9\"]\n"
    "routes:\n"
    "  - {path: /none, upstream: g, request_buffering: off}\n"
    "  - {path: /ip, upstream: g, request_buffering: off, ip_rules: {allow: [10.0.0.0/8, "
    "\"2001:db8::/32\"], deny: [10.6.6.0/24]}}\n"
    "  - {path: /xff, upstream: g, request_buffering: off, trusted_proxies: {from: "
    "[192.0.2.0/24], depth: 2}, ip_rules: {deny: [10.6.6.0/24]}}\n"
    "  - {path: /cors, upstream: g, request_buffering: off, cors: {origins: "
    "[\"https://app.example.com\", \"https://*.example.org\"], credentials: true}}\n"
    "  - {path: /headers, upstream: g, request_buffering: off, security_headers: on}\n"
    "  - {path: /lockout, upstream: g, request_buffering: off, lockout: {account: {header: "
    "X-User}}}\n"
    "  - {path: /abnormal, upstream: g, request_buffering: off, abnormal: {rules: [{status: "
    "[403, 404], max: 20, window: 1m}, {same_path: true, max: 10000000, window: 10s}]}}\n";

static const char *const cases[] = {"none", "ip", "xff", "cors", "headers", "lockout", "abnormal"};

static struct config *cfg;
static struct pipeline_chain *chains[8];
static struct ev_loop loop;
static struct pipeline_worker worker;
static struct worker_shard shard;
static struct h1_request req;
static char raw[1024];

static void done(struct exchange *x, enum pipeline_verdict v)
{
    (void)x;
    (void)v;
}
static int need_body(struct exchange *x)
{
    (void)x;
    return -1;
}
static const struct exchange_host_ops host = {.request_done = done, .need_body = need_body};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct exchange x;
static unsigned sink;

static void cycle(uint32_t ri, const char *ip)
{
    memset(&x, 0, offsetof(struct exchange, arena_inline));
    x.host = &host;
    x.worker = &worker;
    x.cfg = cfg;
    x.route = &cfg->routes[ri];
    x.chain = chains[ri];
    x.req = &req;
    x.client_ip = ip;
    x.request_id = "0123456789abcdef0123456789abcdef";
    pipeline_start(&x);
    enum pipeline_verdict v = pipeline_request(&x);
    struct response r;
    if (v == PIPELINE_NEXT && response_init(&r, &x.arena, 200, 8) == 0) {
        response_add(&r, &x.arena, STR_LIT("Content-Type"), STR_LIT("application/json"));
        x.upstream_head = true;
        pipeline_response_head(&x, &r);
        sink += r.nheaders;
    }
    pipeline_end(&x, 200);
}

#define RUN(name, ri, ip)                                                                      \
    __attribute__((noinline)) static double run_##name(long n)                                 \
    {                                                                                          \
        double t0 = now_ns();                                                                  \
        for (long i = 0; i < n; i++)                                                           \
            cycle(ri, ip);                                                                     \
        return (now_ns() - t0) / (double)n;                                                    \
    }
/* An allowed client (the common case); xff: a trusted proxy's peer, the client in the header. */
RUN(none, 0, "10.1.2.3")
RUN(ip, 1, "10.1.2.3")
RUN(xff, 2, "192.0.2.7")
RUN(cors, 3, "10.1.2.3")
RUN(headers, 4, "10.1.2.3")
RUN(lockout, 5, "10.1.2.3")
RUN(abnormal, 6, "10.1.2.3")

static struct cidr_trie trie;
static struct cidr_addr qs[1024];

__attribute__((noinline)) static double run_trie_100k(long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += cidr_trie_lookup(&trie, &qs[i & 1023]);
    return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double run_mask_log_path(long n)
{
    static const char path[] = "/api/v1/users/12345/orders?page=2&sort=name&token=abc123&q=x";
    char buf[sizeof(path)];
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        memcpy(buf, path, sizeof(path));
        sink += (unsigned)mask_target(buf, sizeof(path) - 1, NULL, 0);
    }
    return (now_ns() - t0) / (double)n;
}

static char json[1024];
static struct mask_json_conf mconf;

__attribute__((noinline)) static double run_mask_json_1k(long n)
{
    static char mem[64 * 1024], out[2048];
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        struct mask_json *m = mask_json_init(mem, &mconf);
        const char *p = json;
        size_t left = sizeof(json), got;
        sink += (unsigned)mask_json_feed(m, &p, &left, out, sizeof(out), &got, true);
    }
    return (now_ns() - t0) / (double)n;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    metrics_set_workers(1);
    modules_register();
    struct cfg_error err;
    cfg = config_load_buffer(yaml, strlen(yaml), "bench.yaml", &err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    loop.now_ms = 1000;
    timer_wheel_init(&loop.timers, 1000);
    worker = (struct pipeline_worker){.loop = &loop, .nworkers = 1, .metrics = &shard};
    for (uint32_t i = 0; i < cfg->nroutes; i++)
        chains[i] = pipeline_chain_build(cfg, &cfg->routes[i]);
    snprintf(raw, sizeof(raw),
             "POST /api/v1/login?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench\r\n"
             "Accept: */*\r\nOrigin: https://a.example.org\r\nX-User: alice\r\n"
             "X-Forwarded-For: 10.1.2.3, 192.0.2.99\r\nContent-Length: 0\r\n\r\n");
    static const struct h1_limits lim = {.max_request_line = 8192, .max_header_bytes = 8192,
                                         .max_headers = 100};
    if (h1_parse_request(raw, strlen(raw), &lim, &req) <= 0)
        return 1;
    double base = run_none(n);
    printf("pipeline cycle, no module: %.1f ns\n", base);
    double (*fns[])(long) = {run_ip, run_xff, run_cors, run_headers, run_lockout, run_abnormal};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        double t = fns[i](n);
        printf("%-10s %.1f ns per request (%.1f over the bare cycle)\n", cases[i + 1], t, t - base);
    }
    cidr_trie_init(&trie);
    for (int i = 0; i < 100000; i++) {
        struct cidr_addr a = {{0}};
        uint64_t r = next(), r2 = next();
        memcpy(a.b, &r, 8);
        memcpy(a.b + 8, &r2, 8);
        if (i & 1) {
            memset(a.b, 0, 10);
            a.b[10] = a.b[11] = 0xff;
            cidr_trie_add(&trie, &a, 96 + 16 + (uint32_t)(r >> 40) % 17, 1);
        } else {
            cidr_trie_add(&trie, &a, 32 + (uint32_t)(r >> 40) % 97, 2);
        }
    }
    for (int i = 0; i < 1024; i++) {
        uint64_t r = next(), r2 = next();
        memcpy(qs[i].b, &r, 8);
        memcpy(qs[i].b + 8, &r2, 8);
        if (i & 1) {
            memset(qs[i].b, 0, 10);
            qs[i].b[10] = qs[i].b[11] = 0xff;
        }
    }
    printf("radix lookup, 100k prefixes (%u nodes): %.1f ns\n", trie.n, run_trie_100k(n * 10));
    const char *why;
    mask_json_add_path(&mconf, "$.users[*].phone", &why);
    mconf.keep_tail = 4;
    mconf.max_bytes = 1 << 20;
    size_t o = (size_t)snprintf(json, sizeof(json), "{\"users\":[");
    while (o < sizeof(json) - 80)
        o += (size_t)snprintf(json + o, sizeof(json) - o,
                              "{\"name\":\"kim\",\"phone\":\"010-1234-5678\"},");
    json[o - 1] = ']';
    json[o] = '}';
    memset(json + o + 1, ' ', sizeof(json) - o - 1);
    printf("JSON masker, 1 KiB body: %.1f ns\n", run_mask_json_1k(n));
    printf("access-log path masking (60-byte target): %.1f ns\n", run_mask_log_path(n));
    cidr_trie_free(&trie);
    for (uint32_t i = 0; i < cfg->nroutes; i++)
        pipeline_chain_free(chains[i]);
    config_unref(cfg);
    return (int)(sink & 0);
}

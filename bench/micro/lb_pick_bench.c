/* lb_pick_bench.c — micro-benchmark of the balancing strategies: ns per pick.
 *
 * For every registered strategy, with 3 and with 30 servers (weights 1..3, a few requests in
 * flight on each, all up), calls pick() N times and prints ns per pick. The random word is
 * drawn per pick (xorshift, ~1 ns, included); "hash" cycles through 1024 client-IP keys, so the
 * key hash is included too. Also times lb_sticky_find (worst case: the last server matches).
 * Single-threaded, one core; the atomics are uncontended here, so this is the floor, not what
 * a pick costs while other cores write `inflight`.
 * Numbers mean something only in a release build without sanitizers.
 * Usage: lb_pick_bench [iterations]   (default 2000000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "balance/lb.h"
#include "balance/sticky.h"

#define MAX_SERVERS 30
#define NKEYS 1024

static const char *const strategies[] = {"round_robin", "random", "least_connections", "weighted",
                                         "hash"};

static struct lb_server srv[MAX_SERVERS];
static struct lb_server *ptr[MAX_SERVERS];
static char ids[MAX_SERVERS][24];
static char keys[NKEYS][20];
static struct str key_str[NKEYS];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void setup(void)
{
    for (uint32_t i = 0; i < MAX_SERVERS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "10.0.%u.%u:8080", (unsigned)(i / 200),
                 (unsigned)(i % 200 + 1));
        atomic_init(&srv[i].up, true);
        atomic_init(&srv[i].inflight, (unsigned)(i * 7 % 5));
        srv[i].weight = i % 3 + 1;
        atomic_init(&srv[i].weight_now, srv[i].weight);
        srv[i].backup = false;
        srv[i].id = str_cstr(ids[i]);
        ptr[i] = &srv[i];
    }
    for (int k = 0; k < NKEYS; k++) {
        int len = snprintf(keys[k], sizeof(keys[k]), "192.0.%d.%d", k / 250, k % 250 + 1);
        key_str[k] = str_from(keys[k], (size_t)len);
    }
}

/* ns per pick; -1 on out of memory. */
static double bench(const struct lb_ops *ops, uint32_t n, long iters)
{
    void *st = ops->create(ptr, n);
    if (!st)
        return -1;
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned long sink = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        struct lb_ctx ctx = {.key = key_str[i & (NKEYS - 1)], .rand = xorshift(&x), .exclude = -1};
        sink += (unsigned long)ops->pick(st, ptr, n, &ctx);
    }
    double ns = now_ns() - t0;
    ops->destroy(st);
    if (sink == 42) /* keeps the loop from being optimised away */
        putchar(' ');
    return ns / (double)iters;
}

static double bench_sticky(uint32_t n, long iters)
{
    char tok[LB_STICKY_TOKEN_LEN + 1];
    lb_sticky_token(srv[n - 1].id, tok);
    struct str t = str_from(tok, LB_STICKY_TOKEN_LEN);
    long sink = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += lb_sticky_find(ptr, n, t);
    double ns = now_ns() - t0;
    if (sink != (long)(n - 1) * iters)
        fprintf(stderr, "sticky: wrong server\n");
    return ns / (double)iters;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    if (iters <= 0) {
        fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
        return 2;
    }
    setup();
    printf("%-20s %14s %14s\n", "strategy", "3 servers", "30 servers");
    for (size_t k = 0; k < sizeof(strategies) / sizeof(strategies[0]); k++) {
        const struct lb_ops *ops = lb_find(strategies[k]);
        if (!ops)
            continue;
        double a = bench(ops, 3, iters), b = bench(ops, 30, iters);
        printf("%-20s %11.1f ns %11.1f ns\n", ops->name, a, b);
    }
    long sticky_iters = iters / 4 > 0 ? iters / 4 : 1;
    printf("%-20s %11.1f ns %11.1f ns\n", "sticky_find (worst)", bench_sticky(3, sticky_iters),
           bench_sticky(30, sticky_iters));
    return 0;
}

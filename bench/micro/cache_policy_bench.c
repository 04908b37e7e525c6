/* cache_policy_bench.c — hit ratio of each eviction policy (src/cache/policy_*.c, through their
 * ops, exactly as the store drives them) on Zipf traces, next to Belady's MIN (the offline
 * optimum for objects of one size: evict the object whose next use is farthest).
 *
 * Usage: cache_policy_bench [objects] [requests] [seed]
 *   defaults 100000 objects, 2000000 requests; alphas 0.9, 1.0, 1.1; cache sizes 0.1 %, 1 %
 *   and 10 % of the objects. Every object has the same size (4 KiB: the charge the store would
 *   give a small response), so MIN is the true optimum. Output: a Markdown table. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_policy.h"

#define CHARGE 4096u

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* A Zipf(alpha) trace over n objects; object ids are shuffled so popularity is not the id. */
static uint32_t *zipf_trace(uint32_t n, uint32_t len, double alpha)
{
    double *cdf = malloc(n * sizeof(*cdf));
    uint32_t *perm = malloc(n * sizeof(*perm));
    uint32_t *t = malloc((size_t)len * sizeof(*t));
    if (!cdf || !perm || !t)
        exit(1);
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        cdf[i] = (sum += 1.0 / pow((double)(i + 1), alpha));
    for (uint32_t i = 0; i < n; i++) {
        cdf[i] /= sum;
        perm[i] = i;
    }
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rng() % (i + 1));
        uint32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (uint32_t k = 0; k < len; k++) {
        double u = (double)(rng() >> 11) / 9007199254740992.0;
        uint32_t lo = 0, hi = n - 1;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        t[k] = perm[lo];
    }
    free(cdf);
    free(perm);
    return t;
}

static double run_policy(const struct cache_policy_ops *ops, const uint32_t *t, uint32_t len,
                         uint32_t n, uint32_t cap)
{
    struct cache_pnode *nodes = calloc(n, sizeof(*nodes));
    uint8_t *in = calloc(n, 1);
    void *st = calloc(1, ops->state_size);
    if (!nodes || !in || !st || ops->init(st, (uint64_t)cap * CHARGE) != 0)
        exit(1);
    uint64_t hits = 0;
    uint32_t count = 0;
    for (uint32_t k = 0; k < len; k++) {
        uint32_t key = t[k];
        if (in[key]) {
            hits++;
            ops->hit(st, &nodes[key]);
            continue;
        }
        while (count >= cap) {
            struct cache_pnode *v = ops->victim(st);
            ops->remove(st, v);
            in[v - nodes] = 0;
            count--;
        }
        nodes[key] = (struct cache_pnode){.hash = (uint64_t)key * 0x9e3779b97f4a7c15ull,
                                          .charge = CHARGE};
        ops->insert(st, &nodes[key]);
        in[key] = 1;
        count++;
    }
    ops->fini(st);
    free(st);
    free(in);
    free(nodes);
    return (double)hits / len;
}

/* Belady's MIN with a max-heap of (next use, key), stale entries skipped lazily. */
struct hent {
    uint32_t next, key;
};

static void heap_push(struct hent *h, uint32_t *n, struct hent e)
{
    uint32_t i = (*n)++;
    while (i && h[(i - 1) / 2].next < e.next) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = e;
}

static struct hent heap_pop(struct hent *h, uint32_t *n)
{
    struct hent top = h[0], last = h[--*n];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1].next > h[c].next)
            c++;
        if (h[c].next <= last.next)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

static double run_belady(const uint32_t *t, uint32_t len, uint32_t n, uint32_t cap)
{
    uint32_t *next = malloc((size_t)len * sizeof(*next));
    uint32_t *seen = malloc(n * sizeof(*seen));
    uint32_t *cur = malloc(n * sizeof(*cur)); /* the next use of a cached key */
    uint8_t *in = calloc(n, 1);
    struct hent *h = malloc(((size_t)len + 1) * sizeof(*h));
    if (!next || !seen || !cur || !in || !h)
        exit(1);
    for (uint32_t i = 0; i < n; i++)
        seen[i] = UINT32_MAX;
    for (uint32_t k = len; k-- > 0;) {
        next[k] = seen[t[k]];
        seen[t[k]] = k;
    }
    uint64_t hits = 0;
    uint32_t count = 0, hn = 0;
    for (uint32_t k = 0; k < len; k++) {
        uint32_t key = t[k];
        if (in[key]) {
            hits++;
        } else {
            if (count >= cap) {
                for (;;) {
                    struct hent e = heap_pop(h, &hn);
                    if (in[e.key] && cur[e.key] == e.next) {
                        in[e.key] = 0;
                        count--;
                        break;
                    }
                }
            }
            in[key] = 1;
            count++;
        }
        cur[key] = next[k];
        heap_push(h, &hn, (struct hent){.next = next[k], .key = key});
    }
    free(next);
    free(seen);
    free(cur);
    free(in);
    free(h);
    return (double)hits / len;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
    uint32_t len = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 2000000;
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 0x5eed;
    const double alphas[] = {0.9, 1.0, 1.1};
    const double sizes[] = {0.001, 0.01, 0.1};
    printf("objects %u, requests %u, one size (%u B), seed %llu\n\n", n, len, CHARGE,
           (unsigned long long)rng_state);
    printf("| alpha | cache (objects) |");
    for (size_t p = 0; cache_policies[p]; p++)
        printf(" %s |", cache_policies[p]->name);
    printf(" Belady (MIN) |\n|---|---|");
    for (size_t p = 0; cache_policies[p]; p++)
        printf("---|");
    printf("---|\n");
    for (size_t a = 0; a < 3; a++) {
        uint32_t *t = zipf_trace(n, len, alphas[a]);
        for (size_t s = 0; s < 3; s++) {
            uint32_t cap = (uint32_t)(n * sizes[s]);
            printf("| %.1f | %u (%.1f %%) |", alphas[a], cap, sizes[s] * 100);
            for (size_t p = 0; cache_policies[p]; p++)
                printf(" %.4f |", run_policy(cache_policies[p], t, len, n, cap));
            printf(" %.4f |\n", run_belady(t, len, n, cap));
            fflush(stdout);
        }
        free(t);
    }
    return 0;
}

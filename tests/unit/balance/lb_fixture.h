/* lb_fixture.h — test helpers for the balancing strategies: a group of servers built directly
 * (atomic_init, as the proxy does), a deterministic random generator, and pick/count loops. */
#ifndef WEIR_TESTS_LB_FIXTURE_H
#define WEIR_TESTS_LB_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "balance/lb.h"

#define FX_MAX 64

struct fixture {
    uint32_t n;
    struct lb_server srv[FX_MAX];
    struct lb_server *ptr[FX_MAX];
    char ids[FX_MAX][32];
    uint64_t rng;
};

/* n primaries with the given weights (NULL = all 1), all up, ids "10.0.0.<i+1>:8080". */
static inline void fx_init(struct fixture *f, uint32_t n, const uint32_t *weights)
{
    memset(f, 0, sizeof(*f));
    f->n = n;
    f->rng = 0x1234567;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t w = weights ? weights[i] : 1;
        snprintf(f->ids[i], sizeof(f->ids[i]), "10.0.0.%u:8080", (unsigned)(i + 1));
        atomic_init(&f->srv[i].up, true);
        atomic_init(&f->srv[i].inflight, 0u);
        atomic_init(&f->srv[i].weight_now, w);
        f->srv[i].weight = w;
        f->srv[i].backup = false;
        f->srv[i].id = str_cstr(f->ids[i]);
        f->ptr[i] = &f->srv[i];
    }
}

static inline void fx_up(struct fixture *f, uint32_t i, bool up)
{
    atomic_store(&f->srv[i].up, up);
}

static inline void fx_inflight(struct fixture *f, uint32_t i, unsigned v)
{
    atomic_store(&f->srv[i].inflight, v);
}

static inline void fx_weight_now(struct fixture *f, uint32_t i, unsigned v)
{
    atomic_store(&f->srv[i].weight_now, v);
}

/* splitmix64: the tests' only randomness, seeded, so every failure reproduces. */
static inline uint64_t fx_rand(struct fixture *f)
{
    uint64_t z = (f->rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline int fx_pick_ex(const struct lb_ops *ops, void *st, struct fixture *f, int exclude)
{
    struct lb_ctx ctx = {.key = STR_NULL, .rand = fx_rand(f), .exclude = exclude};
    return ops->pick(st, f->ptr, f->n, &ctx);
}

static inline int fx_pick(const struct lb_ops *ops, void *st, struct fixture *f)
{
    return fx_pick_ex(ops, st, f, -1);
}

/* Picks `picks` times and counts the winners in hits[0..n) (hits must be zeroed). Returns the
 * number of -1 results. */
static inline int fx_count(const struct lb_ops *ops, void *st, struct fixture *f, int picks,
                           int *hits)
{
    int none = 0;
    for (int k = 0; k < picks; k++) {
        int i = fx_pick(ops, st, f);
        if (i < 0)
            none++;
        else
            hits[i]++;
    }
    return none;
}

/* |hits/picks - want| <= tol, as fractions. */
static inline bool fx_share_ok(int hits, int picks, double want, double tol)
{
    double got = (double)hits / picks;
    if (got < want - tol || got > want + tol) {
        printf("# share %.4f, want %.4f +- %.4f\n", got, want, tol);
        return false;
    }
    return true;
}

#endif

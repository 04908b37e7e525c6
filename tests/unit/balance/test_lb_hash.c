/* test_lb_hash.c — the hash function and the consistent-hash ring: key stability, bounded key
 * movement when a server is added or removed (N = 3, 5, 10), only the removed server's keys
 * moving, weight-proportional shares, separate backup ring, empty key = random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "balance/hash.h"
#include "lb_fixture.h"

#define H (&lb_hash)
#define KEYS 100000

static int pick_key(void *st, struct fixture *f, int k)
{
    char key[24];
    int len = snprintf(key, sizeof(key), "192.0.%d.%d", (k >> 8) & 0xffff, k & 0xff);
    struct lb_ctx ctx = {.key = str_from(key, (size_t)len), .rand = 0, .exclude = -1};
    return H->pick(st, f->ptr, f->n, &ctx);
}

/* owner[k] for every key on a freshly built ring of f. */
static void map_keys(struct fixture *f, int *owner)
{
    void *st = H->create(f->ptr, f->n);
    assert_non_null(st);
    for (int k = 0; k < KEYS; k++)
        owner[k] = pick_key(st, f, k);
    H->destroy(st);
}

static void test_hash64_basics(void **state)
{
    (void)state;
    assert_int_not_equal(lb_hash64("ab", 2, 0), lb_hash64("ab\0", 3, 0));
    assert_int_not_equal(lb_hash64("ab", 2, 0), lb_hash64("ab", 2, 1));
    assert_int_not_equal(lb_hash64("", 0, 0), lb_hash64("", 0, 1));
    assert_int_equal(lb_hash64("10.0.0.1:80", 11, 7), lb_hash64("10.0.0.1:80", 11, 7));

    /* Avalanche: flipping any one input bit flips close to half the output bits on average. */
    unsigned char buf[24];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 1; len <= sizeof(buf); len += 5) {
        uint64_t base = lb_hash64(buf, len, 0);
        double flips = 0;
        for (size_t bit = 0; bit < len * 8; bit++) {
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            flips += __builtin_popcountll(base ^ lb_hash64(buf, len, 0));
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
        flips /= (double)(len * 8);
        assert_true(flips > 28 && flips < 36);
    }
}

static void test_same_key_same_server(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 5, NULL);
    int *a = malloc(sizeof(int) * KEYS), *b = malloc(sizeof(int) * KEYS);
    map_keys(&f, a);
    void *st = H->create(f.ptr, f.n); /* another worker, or after a restart: same map */
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < KEYS; k += 7)
            assert_int_equal(pick_key(st, &f, k), a[k]);
    H->destroy(st);
    map_keys(&f, b);
    assert_memory_equal(a, b, sizeof(int) * KEYS);
    free(a);
    free(b);
}

/* Adding one server to N moves at most 1.3/N of the keys (ideal: 1/(N+1)), and every moved key
 * moves to the new server: none is reshuffled among the old ones. */
static void test_add_one_moves_few_keys(void **state)
{
    (void)state;
    static const uint32_t ns[] = {3, 5, 10};
    int *before = malloc(sizeof(int) * KEYS), *after = malloc(sizeof(int) * KEYS);
    for (size_t t = 0; t < 3; t++) {
        uint32_t n = ns[t];
        struct fixture f;
        fx_init(&f, n + 1, NULL);
        f.n = n;
        map_keys(&f, before);
        f.n = n + 1;
        map_keys(&f, after);
        int moved = 0;
        for (int k = 0; k < KEYS; k++) {
            if (before[k] != after[k]) {
                moved++;
                assert_int_equal(after[k], (int)n);
            }
        }
        printf("# N=%u: adding one moved %.2f%% of keys (bound %.2f%%, ideal %.2f%%)\n", n,
               100.0 * moved / KEYS, 130.0 / n, 100.0 / (n + 1));
        assert_true(moved <= KEYS * 1.3 / n);
        assert_true(moved > 0);
    }
    free(before);
    free(after);
}

/* Removing a server (rebuilding the ring without it) moves exactly its own keys. */
static void test_remove_one_moves_only_its_keys(void **state)
{
    (void)state;
    int *before = malloc(sizeof(int) * KEYS), *after = malloc(sizeof(int) * KEYS);
    for (uint32_t n = 3; n <= 10; n++) {
        struct fixture f;
        fx_init(&f, n, NULL);
        map_keys(&f, before);
        uint32_t gone = n / 2; /* remove from the middle: indices after it shift down */
        for (uint32_t i = gone; i + 1 < n; i++)
            f.ptr[i] = f.ptr[i + 1];
        f.n = n - 1;
        map_keys(&f, after);
        for (int k = 0; k < KEYS; k++) {
            int was = before[k];
            int now = after[k] >= (int)gone ? after[k] + 1 : after[k]; /* back to old indices */
            if (was != (int)gone)
                assert_int_equal(now, was);
            else
                assert_int_not_equal(now, (int)gone);
        }
    }
    free(before);
    free(after);
}

/* A server going down (same ring, walk past it) moves only its keys, and they come back. */
static void test_down_moves_only_its_keys_and_back(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 6, NULL);
    int *before = malloc(sizeof(int) * KEYS);
    map_keys(&f, before);
    void *st = H->create(f.ptr, f.n);
    fx_up(&f, 2, false);
    int moved_to[FX_MAX] = {0};
    for (int k = 0; k < KEYS; k++) {
        int i = pick_key(st, &f, k);
        if (before[k] == 2)
            moved_to[i]++;
        else
            assert_int_equal(i, before[k]);
    }
    for (int i = 0; i < 6; i++) /* the orphans spread over several servers, not one */
        if (i != 2)
            assert_true(moved_to[i] > 0);
    fx_up(&f, 2, true);
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(pick_key(st, &f, k), before[k]);
    H->destroy(st);
    free(before);
}

static void test_weights_5_3_2_within_5_percent(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {5, 3, 2};
    fx_init(&f, 3, w);
    void *st = H->create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    for (int k = 0; k < KEYS; k++)
        hits[pick_key(st, &f, k)]++;
    assert_true(fx_share_ok(hits[0], KEYS, 0.50, 0.05));
    assert_true(fx_share_ok(hits[1], KEYS, 0.30, 0.05));
    assert_true(fx_share_ok(hits[2], KEYS, 0.20, 0.05));
    /* Empty key: ctx->rand is the position, which is also weighted. */
    int rhits[FX_MAX] = {0};
    assert_int_equal(fx_count(H, st, &f, KEYS, rhits), 0);
    assert_true(fx_share_ok(rhits[0], KEYS, 0.50, 0.05));
    assert_true(fx_share_ok(rhits[1], KEYS, 0.30, 0.05));
    assert_true(fx_share_ok(rhits[2], KEYS, 0.20, 0.05));
    H->destroy(st);
}

static void test_equal_servers_share_evenly(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 10, NULL);
    void *st = H->create(f.ptr, f.n);
    int hits[FX_MAX] = {0};
    for (int k = 0; k < KEYS; k++)
        hits[pick_key(st, &f, k)]++;
    for (int i = 0; i < 10; i++)
        assert_true(fx_share_ok(hits[i], KEYS, 0.10, 0.035));
    H->destroy(st);
}

/* Backups have their own ring: while they serve, keys are stable among them, and a backup
 * added or removed never disturbs the primaries' map. */
static void test_backup_ring_separate(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 5, NULL);
    f.srv[3].backup = f.srv[4].backup = true;
    int *with_backups = malloc(sizeof(int) * KEYS), *without = malloc(sizeof(int) * KEYS);
    map_keys(&f, with_backups);
    f.n = 3;
    map_keys(&f, without);
    assert_memory_equal(with_backups, without, sizeof(int) * KEYS);

    f.n = 5;
    void *st = H->create(f.ptr, f.n);
    for (uint32_t i = 0; i < 3; i++)
        fx_up(&f, i, false);
    int hits[FX_MAX] = {0};
    for (int k = 0; k < KEYS; k++) {
        int i = pick_key(st, &f, k);
        assert_true(i == 3 || i == 4);
        hits[i]++;
        if (k % 10 == 0)
            assert_int_equal(pick_key(st, &f, k), i);
    }
    assert_true(fx_share_ok(hits[3], KEYS, 0.5, 0.1));
    H->destroy(st);
    free(with_backups);
    free(without);
}

/* A retry with ctx->exclude goes to the next server clockwise, the same one every time. */
static void test_exclude_walks_to_next(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, 4, NULL);
    void *st = H->create(f.ptr, f.n);
    for (int k = 0; k < 1000; k++) {
        int first = pick_key(st, &f, k);
        char key[24];
        int len = snprintf(key, sizeof(key), "192.0.%d.%d", (k >> 8) & 0xffff, k & 0xff);
        struct lb_ctx ctx = {.key = str_from(key, (size_t)len), .exclude = first};
        int second = H->pick(st, f.ptr, f.n, &ctx);
        assert_true(second >= 0 && second != first);
        assert_int_equal(H->pick(st, f.ptr, f.n, &ctx), second);
        fx_up(&f, (uint32_t)first, false); /* same as that server being down */
        assert_int_equal(pick_key(st, &f, k), second);
        fx_up(&f, (uint32_t)first, true);
    }
    H->destroy(st);
}

/* Large weights: the ring is capped and every server still gets its share. */
static void test_point_cap(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t w[] = {1000, 1000, 2000};
    fx_init(&f, 3, w);
    void *st = H->create(f.ptr, f.n);
    assert_non_null(st);
    int hits[FX_MAX] = {0};
    for (int k = 0; k < KEYS; k++)
        hits[pick_key(st, &f, k)]++;
    assert_true(fx_share_ok(hits[0], KEYS, 0.25, 0.05));
    assert_true(fx_share_ok(hits[2], KEYS, 0.50, 0.05));
    H->destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash64_basics),
        cmocka_unit_test(test_same_key_same_server),
        cmocka_unit_test(test_add_one_moves_few_keys),
        cmocka_unit_test(test_remove_one_moves_only_its_keys),
        cmocka_unit_test(test_down_moves_only_its_keys_and_back),
        cmocka_unit_test(test_weights_5_3_2_within_5_percent),
        cmocka_unit_test(test_equal_servers_share_evenly),
        cmocka_unit_test(test_backup_ring_separate),
        cmocka_unit_test(test_exclude_walks_to_next),
        cmocka_unit_test(test_point_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_hdr.c — the load tester's histogram: bucket geometry and its 0.1 % bound, quantiles of
 * 10^7 synthetic samples within 0.1 % of an exact sort, merging equals recording once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/hdr.h"

static void test_geometry(void **state)
{
    (void)state;
    uint32_t top = hdr_bucket_of(HDR_MAX_US); /* larger values are clamped into it */
    for (uint32_t i = 0; i < top; i++) {
        assert_int_equal(hdr_bucket_upper(i) + 1, hdr_bucket_lower(i + 1));
        uint64_t lo = hdr_bucket_lower(i), hi = hdr_bucket_upper(i);
        assert_true(lo == 0 || (double)(hi - lo) / (double)lo <= 0.001);
        assert_int_equal(hdr_bucket_of(lo), i);
        assert_int_equal(hdr_bucket_of(hi), i);
    }
    assert_true(hdr_bucket_upper(HDR_NBUCKETS - 1) >= HDR_MAX_US);
    assert_int_equal(hdr_bucket_of(HDR_MAX_US * 10), hdr_bucket_of(HDR_MAX_US));
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* 10^7 values log-uniform over 1 µs .. 1 h plus a dense cluster around 2 ms, like a service. */
static void test_ten_million_vs_sort(void **state)
{
    (void)state;
    enum { N = 10000000 };
    uint32_t *v = malloc(N * sizeof(*v));
    struct hdr *h = hdr_new();
    assert_non_null(v);
    assert_non_null(h);
    for (size_t i = 0; i < N; i++) {
        double u = (double)(next_rand() >> 11) / 9007199254740992.0;
        double x = i % 4 ? 1500 + 1000 * u : exp(u * log((double)HDR_MAX_US));
        v[i] = (uint32_t)(x < 1 ? 1 : x);
        hdr_record(h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_u32);
    static const double ps[] = {0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999,
                                0.99999, 1.0};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        size_t rank = (size_t)ceil(ps[i] * N);
        double exact = v[rank - 1], got = (double)hdr_quantile(h, ps[i]);
        assert_true(fabs(got - exact) <= 0.001 * exact);
    }
    assert_int_equal(h->count, N);
    assert_int_equal(h->max_us, v[N - 1]);
    free(v);
    free(h);
}

static void test_merge(void **state)
{
    (void)state;
    struct hdr *a = hdr_new(), *b = hdr_new(), *all = hdr_new();
    for (uint64_t i = 1; i < 200000; i += 7) {
        hdr_record(i % 2 ? a : b, i * 13);
        hdr_record(all, i * 13);
    }
    hdr_add(a, b);
    assert_memory_equal(a, all, sizeof(*a));
    hdr_reset(b);
    assert_int_equal(hdr_quantile(b, 0.5), 0);
    hdr_record_n(b, 1000, 99);
    hdr_record(b, 5000000);
    assert_int_equal(hdr_quantile(b, 0.99), 1000);
    assert_true(hdr_quantile(b, 1.0) == 5000000);
    assert_int_equal(hdr_count_le(b, 1000), 99);
    free(a);
    free(b);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_ten_million_vs_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

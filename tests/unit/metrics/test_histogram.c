/* test_histogram.c — the log-linear latency histogram: bucket geometry, the relative error
 * bound (<= 2 % from 10 µs to 60 s), quantiles of known distributions, count_le at and between
 * bucket bounds, snapshot diff and merge, and one writer racing a reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/histogram.h"

static struct histogram *hist_new(void)
{
    struct histogram *h = calloc(1, sizeof(*h));
    assert_non_null(h);
    return h;
}

static struct hist_snapshot *snap(const struct histogram *h)
{
    struct hist_snapshot *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    if (h)
        hist_add_to(s, h);
    return s;
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void test_bucket_geometry(void **state)
{
    (void)state;
    /* Buckets tile the value range without gaps or overlaps, in increasing order. */
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t lo = hist_bucket_lower(i), up = hist_bucket_upper(i);
        assert_true(lo <= up);
        assert_int_equal(hist_bucket_of(lo), i);
        assert_int_equal(hist_bucket_of(up), i);
        if (up > lo)
            assert_int_equal(hist_bucket_of(lo + (up - lo) / 2), i);
        if (i + 1 < HIST_NBUCKETS)
            assert_true(hist_bucket_lower(i + 1) == up + 1);
    }
    assert_int_equal(hist_bucket_lower(0), 0);
    /* Small values are exact. */
    for (uint64_t v = 0; v < HIST_SUB; v++) {
        assert_int_equal(hist_bucket_of(v), v);
        assert_true(hist_bucket_lower((uint32_t)v) == v && hist_bucket_upper((uint32_t)v) == v);
    }
    /* Beyond the top, everything lands in the last bucket. */
    assert_int_equal(hist_bucket_of(UINT64_MAX), HIST_NBUCKETS - 1);
    assert_int_equal(hist_bucket_of((uint64_t)1 << 50), HIST_NBUCKETS - 1);
}

static void check_bound(uint64_t v)
{
    uint32_t b = hist_bucket_of(v);
    uint64_t lo = hist_bucket_lower(b), up = hist_bucket_upper(b);
    if (v < lo || v > up)
        fail_msg("value %llu outside its bucket [%llu, %llu]", (unsigned long long)v,
                 (unsigned long long)lo, (unsigned long long)up);
    /* Whatever value of the bucket is reported, it is within 2 % of v. */
    double err = (double)(up - lo) / (double)v;
    if (err > 0.02)
        fail_msg("value %llu: bucket [%llu, %llu] is %.3f %% wide", (unsigned long long)v,
                 (unsigned long long)lo, (unsigned long long)up, err * 100);
}

static void test_error_bound(void **state)
{
    (void)state;
    /* Every value from 10 µs to 100 ms, then log-spaced and random ones up to 60 s. */
    for (uint64_t v = 10; v <= 100000; v++)
        check_bound(v);
    for (double v = 100000; v <= 60e6; v *= 1.0007)
        check_bound((uint64_t)v);
    for (int i = 0; i < 200000; i++)
        check_bound(10 + rnd() % (60000000 - 10 + 1));
    check_bound(60000000);
    /* The documented bound is 1/64 (1.6 %). */
    for (uint32_t i = HIST_SUB; i < HIST_NBUCKETS - 1; i++) {
        double w = (double)(hist_bucket_upper(i) - hist_bucket_lower(i) + 1);
        assert_true(w / (double)hist_bucket_lower(i) <= 1.0 / HIST_SUB + 1e-12);
    }
}

static double rel(uint64_t got, double want)
{
    return fabs((double)got - want) / want;
}

static void test_quantiles_uniform(void **state)
{
    (void)state;
    struct histogram *h = hist_new();
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(h, v);
    struct hist_snapshot *s = snap(h);
    assert_int_equal(s->count, 100000);
    assert_int_equal(s->sum_us, 100000ull * 100001 / 2);
    assert_int_equal(s->max_us, 100000);
    const double ps[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t q = hist_quantile(s, ps[i]);
        if (rel(q, ps[i] * 100000) > 0.02)
            fail_msg("p%g = %llu, want %.0f +- 2 %%", ps[i] * 100, (unsigned long long)q,
                     ps[i] * 100000);
        assert_true((double)q >= ps[i] * 100000); /* the upper bound of the rank's bucket */
    }
    assert_int_equal(hist_quantile(s, 1.0), 100000); /* capped at the max */
    free(s);
    free(h);
}

static void test_quantiles_known(void **state)
{
    (void)state;
    struct histogram *h = hist_new();
    struct hist_snapshot *empty = snap(h);
    assert_int_equal(hist_quantile(empty, 0.5), 0);
    free(empty);

    /* A constant: every quantile is the value itself (the bucket bound is capped at max). */
    for (int i = 0; i < 1000; i++)
        hist_record(h, 1234);
    struct hist_snapshot *s = snap(h);
    assert_int_equal(hist_quantile(s, 0.5), 1234);
    assert_int_equal(hist_quantile(s, 0.999), 1234);
    free(s);

    /* Bimodal: 90 % at 1 ms, 10 % at 1 s. p50 and p90 near 1 ms, p99 near 1 s. */
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < 9000; i++)
        hist_record(h, 1000);
    for (int i = 0; i < 1000; i++)
        hist_record(h, 1000000);
    s = snap(h);
    assert_true(rel(hist_quantile(s, 0.5), 1000) <= 0.02);
    assert_true(rel(hist_quantile(s, 0.9), 1000) <= 0.02);
    assert_true(rel(hist_quantile(s, 0.91), 1000000) <= 0.02);
    assert_int_equal(hist_quantile(s, 0.99), 1000000);
    free(s);

    /* Exponential (mean 5 ms): quantile -ln(1-p) * mean, within 2 % plus sampling noise. */
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < 200000; i++) {
        double u = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
        hist_record(h, (uint64_t)(-log(u) * 5000.0));
    }
    s = snap(h);
    const double ps[] = {0.5, 0.9, 0.99};
    for (size_t i = 0; i < 3; i++) {
        double want = -log(1 - ps[i]) * 5000.0;
        uint64_t q = hist_quantile(s, ps[i]);
        if (rel(q, want) > 0.04)
            fail_msg("exponential p%g = %llu, want %.0f", ps[i] * 100, (unsigned long long)q,
                     want);
    }
    free(s);
    free(h);
}

static void test_count_le(void **state)
{
    (void)state;
    struct histogram *h = hist_new();
    uint64_t *vals = malloc(50000 * sizeof(*vals));
    assert_non_null(vals);
    for (int i = 0; i < 50000; i++) {
        vals[i] = rnd() % 3000000; /* up to 3 s */
        hist_record(h, vals[i]);
    }
    struct hist_snapshot *s = snap(h);
    /* Exact at bucket upper bounds. */
    for (uint32_t b = 0; b < HIST_NBUCKETS && hist_bucket_lower(b) < 3000000; b += 7) {
        uint64_t le = hist_bucket_upper(b), exact = 0;
        for (int i = 0; i < 50000; i++)
            exact += vals[i] <= le;
        assert_int_equal(hist_count_le(s, le), exact);
    }
    /* Between bounds: never more than the truth, and short of it by at most the straddling
     * bucket; non-decreasing in le. */
    const uint64_t les[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                            250000, 500000, 1000000, 2500000, 5000000};
    uint64_t prev = 0;
    for (size_t k = 0; k < sizeof(les) / sizeof(les[0]); k++) {
        uint64_t exact = 0, got = hist_count_le(s, les[k]);
        for (int i = 0; i < 50000; i++)
            exact += vals[i] <= les[k];
        uint32_t b = hist_bucket_of(les[k]);
        assert_true(got <= exact);
        assert_true(exact - got <= s->counts[b]);
        assert_true(got >= prev);
        prev = got;
    }
    assert_int_equal(hist_count_le(s, UINT64_MAX), 50000);
    assert_int_equal(hist_count_le(s, 0), s->counts[0]);
    free(vals);
    free(s);
    free(h);
}

static void test_diff_and_merge(void **state)
{
    (void)state;
    struct histogram *h = hist_new(), *only_b = hist_new(), *other = hist_new();
    for (uint64_t v = 1; v < 5000; v += 3)
        hist_record(h, v * 7);
    struct hist_snapshot *before = snap(h);
    for (uint64_t v = 1; v < 3000; v += 2) {
        hist_record(h, v * 11);
        hist_record(only_b, v * 11);
    }
    struct hist_snapshot *after = snap(h), *want = snap(only_b), *d = snap(NULL);
    hist_snapshot_diff(d, after, before);
    assert_memory_equal(d->counts, want->counts, sizeof(d->counts));
    assert_int_equal(d->count, want->count);
    assert_int_equal(d->sum_us, want->sum_us);
    assert_true(d->max_us >= want->max_us);
    assert_true(d->max_us <= hist_bucket_upper(hist_bucket_of(want->max_us)));
    /* The diff's quantiles are those of what was recorded in between. */
    assert_int_equal(hist_quantile(d, 0.5), hist_quantile(want, 0.5));
    /* Nothing recorded in between: an empty distribution. */
    hist_snapshot_diff(d, after, after);
    assert_int_equal(d->count, 0);
    assert_int_equal(d->max_us, 0);
    assert_int_equal(hist_quantile(d, 0.99), 0);

    /* Merging two workers' histograms equals one that saw everything. */
    for (uint64_t v = 0; v < 1000; v++)
        hist_record(other, v * 13);
    struct hist_snapshot *m = snap(h);
    hist_add_to(m, other);
    struct hist_snapshot *m2 = snap(h), *o = snap(other);
    hist_snapshot_add(m2, o);
    assert_memory_equal(m->counts, m2->counts, sizeof(m->counts));
    assert_int_equal(m->count, after->count + 1000);
    assert_int_equal(m->sum_us, m2->sum_us);
    assert_int_equal(m->max_us, m2->max_us);
    free(before);
    free(after);
    free(want);
    free(d);
    free(m);
    free(m2);
    free(o);
    free(h);
    free(only_b);
    free(other);
}

#define RACE_N 2000000

static void *writer(void *arg)
{
    struct histogram *h = arg;
    for (uint64_t i = 0; i < RACE_N; i++)
        hist_record(h, (i * 2654435761u) % 5000000);
    return NULL;
}

static void test_writer_reader_race(void **state)
{
    (void)state;
    struct histogram *h = hist_new();
    struct hist_snapshot *s = snap(NULL), *prev = snap(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, h), 0);
    uint64_t reads = 0;
    for (;;) {
        memset(s, 0, sizeof(*s));
        hist_add_to(s, h);
        uint64_t n = 0;
        for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
            n += s->counts[i];
            assert_true(s->counts[i] >= prev->counts[i]); /* each bucket only grows */
        }
        assert_true(n <= RACE_N);
        assert_true(s->count >= prev->count);
        memcpy(prev, s, sizeof(*s));
        reads++;
        if (n == RACE_N && s->count == RACE_N)
            break;
    }
    pthread_join(t, NULL);
    assert_true(reads >= 1);
    memset(s, 0, sizeof(*s));
    hist_add_to(s, h);
    assert_int_equal(s->count, RACE_N);
    assert_int_equal(hist_count_le(s, UINT64_MAX), RACE_N);
    free(s);
    free(prev);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_geometry),
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_quantiles_uniform),
        cmocka_unit_test(test_quantiles_known),
        cmocka_unit_test(test_count_le),
        cmocka_unit_test(test_diff_and_merge),
        cmocka_unit_test(test_writer_reader_race),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}

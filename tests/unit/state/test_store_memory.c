/* test_store_memory.c — the memory state store: the begin/complete/abort life cycle, byte-exact
 * replays, TTL and in-flight expiry, the max_entries bound and its eviction order, the
 * all-in-flight STORE_ERROR, a model check of expiry under random TTLs, and threads racing on
 * one key. Time is synthetic: every call passes its own now_ms. Leaks are LSan's job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/store.h"

#define HOUR_MS UINT32_C(3600000)
#define INFLIGHT_MAX_MS 60000 /* STORE_MEMORY_INFLIGHT_MAX_MS, documented in state.md */

static const struct store_ops *ops = &store_memory;

/* The claim tokens of the latest STORE_NEWs (complete/abort need them): a ring, newest first
 * when searched; the tests complete a key soon after they claim it. */
#define TOKS 256
static struct {
    char key[32];
    uint64_t token;
} toks[TOKS];
static size_t ntoks;

static void tok_set(const char *key, uint64_t token)
{
    size_t i = ntoks++ % TOKS;
    snprintf(toks[i].key, sizeof(toks[i].key), "%s", key);
    toks[i].token = token;
}

static uint64_t tok_of(const char *key)
{
    for (size_t n = 0; n < TOKS && n < ntoks; n++) {
        size_t i = (ntoks - 1 - n) % TOKS;
        if (strcmp(toks[i].key, key) == 0)
            return toks[i].token;
    }
    return 0;
}

static enum store_begin beg(void *st, const char *key, uint64_t body, uint64_t now,
                            uint32_t ttl)
{
    char *resp = (char *)"sentinel";
    size_t len = 12345;
    uint64_t token = 99;
    enum store_begin r = ops->begin(st, str_cstr(key), body, now, ttl, &resp, &len, &token);
    if (r == STORE_NEW) {
        assert_true(token != 0);
        tok_set(key, token);
    } else {
        assert_int_equal(token, 0);
    }
    if (r == STORE_DONE) {
        free(resp);
    } else {
        assert_null(resp);
        assert_int_equal(len, 0);
    }
    return r;
}

static void done(void *st, const char *key, const char *resp, uint64_t now)
{
    ops->complete(st, str_cstr(key), tok_of(key), resp, strlen(resp), now);
}

/* Asserts `key` replays exactly `want`. */
static void assert_replay(void *st, const char *key, uint64_t body, uint64_t now,
                          const char *want, size_t want_len)
{
    char *resp = NULL;
    size_t len = 0;
    assert_int_equal(ops->begin(st, str_cstr(key), body, now, HOUR_MS, &resp, &len, NULL), STORE_DONE);
    assert_non_null(resp);
    assert_int_equal(len, want_len);
    assert_memory_equal(resp, want, want_len);
    free(resp);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(store_find("memory"), &store_memory);
    assert_string_equal(store_memory.name, "memory");
    assert_ptr_equal(store_find("redis"), &store_redis); /* store_redis.c, issue 15 */
    assert_null(store_find("etcd"));
    assert_null(store_find(""));
    assert_null(store_find(NULL));
    assert_null(ops->open(0));
    ops->close(NULL);
}

static void test_new_inflight_done_replay(void **state)
{
    (void)state;
    void *st = ops->open(16);
    assert_non_null(st);
    assert_int_equal(beg(st, "k1", 7, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(ops->size(st), 1);
    assert_int_equal(beg(st, "k1", 7, 1, HOUR_MS), STORE_INFLIGHT);

    /* Binary response with NULs and every byte value. */
    char body[4096];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i * 31 + 7);
    body[0] = body[100] = '\0';
    char orig[sizeof(body)];
    memcpy(orig, body, sizeof(body));
    ops->complete(st, str_cstr("k1"), tok_of("k1"), body, sizeof(body), 2);
    memset(body, 'x', sizeof(body)); /* the store kept its own copy */
    assert_replay(st, "k1", 7, 3, orig, sizeof(orig));
    assert_replay(st, "k1", 7, 4, orig, sizeof(orig)); /* replays repeat */
    assert_int_equal(ops->size(st), 1);

    /* resp == NULL only asks for the state. */
    assert_int_equal(ops->begin(st, str_cstr("k1"), 7, 5, HOUR_MS, NULL, NULL, NULL), STORE_DONE);

    /* An empty response is DONE with length 0 and a freeable pointer. */
    assert_int_equal(beg(st, "empty", 1, 0, HOUR_MS), STORE_NEW);
    ops->complete(st, str_cstr("empty"), tok_of("empty"), NULL, 0, 1);
    assert_replay(st, "empty", 1, 2, "", 0);
    ops->close(st);
}

/* An owner that outlived its in-flight expiry holds a stale token: a second claim of the key
 * is not completed nor dropped by it. */
static void test_stale_owner_cannot_touch_a_new_claim(void **state)
{
    (void)state;
    void *st = ops->open(16);
    assert_int_equal(beg(st, "k", 1, 0, HOUR_MS), STORE_NEW);
    uint64_t first = tok_of("k");
    assert_int_equal(beg(st, "k", 1, INFLIGHT_MAX_MS, HOUR_MS), STORE_NEW); /* expired: re-claimed */
    uint64_t second = tok_of("k");
    assert_true(second != first);
    ops->complete(st, str_cstr("k"), first, "late", 4, INFLIGHT_MAX_MS + 1);
    ops->abort(st, str_cstr("k"), first);
    assert_int_equal(beg(st, "k", 1, INFLIGHT_MAX_MS + 2, HOUR_MS), STORE_INFLIGHT);
    ops->complete(st, str_cstr("k"), second, "mine", 4, INFLIGHT_MAX_MS + 3);
    assert_replay(st, "k", 1, INFLIGHT_MAX_MS + 4, "mine", 4);
    ops->close(st);
}

static void test_mismatch(void **state)
{
    (void)state;
    void *st = ops->open(16);
    assert_int_equal(beg(st, "k", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "k", 2, 1, HOUR_MS), STORE_MISMATCH); /* while in flight */
    done(st, "k", "resp", 2);
    assert_int_equal(beg(st, "k", 2, 3, HOUR_MS), STORE_MISMATCH); /* once done */
    assert_replay(st, "k", 1, 4, "resp", 4);
    ops->close(st);
}

static void test_abort_then_new(void **state)
{
    (void)state;
    void *st = ops->open(16);
    assert_int_equal(beg(st, "k", 1, 0, HOUR_MS), STORE_NEW);
    ops->abort(st, str_cstr("k"), tok_of("k"));
    assert_int_equal(ops->size(st), 0);
    assert_int_equal(beg(st, "k", 9, 1, HOUR_MS), STORE_NEW); /* another body is fine now */
    assert_int_equal(beg(st, "k", 9, 2, HOUR_MS), STORE_INFLIGHT);

    /* abort never discards a DONE response; abort/complete on absent keys are no-ops. */
    done(st, "k", "first", 3);
    ops->abort(st, str_cstr("k"), tok_of("k"));
    done(st, "k", "second", 4);
    assert_replay(st, "k", 9, 5, "first", 5);
    ops->abort(st, str_cstr("nope"), tok_of("nope"));
    done(st, "nope", "x", 6);
    assert_int_equal(ops->size(st), 1);
    ops->close(st);
}

static void test_keys_are_copied_bytes(void **state)
{
    (void)state;
    void *st = ops->open(16);
    char buf[] = "abc";
    assert_int_equal(ops->begin(st, str_from(buf, 3), 1, 0, HOUR_MS, NULL, NULL, NULL), STORE_NEW);
    memcpy(buf, "xyz", 3);
    assert_int_equal(beg(st, "abc", 1, 1, HOUR_MS), STORE_INFLIGHT);
    assert_int_equal(beg(st, "xyz", 1, 1, HOUR_MS), STORE_NEW);
    /* Embedded NULs, prefixes and the empty key are all distinct keys. */
    assert_int_equal(ops->begin(st, str_from("a\0b", 3), 1, 0, HOUR_MS, NULL, NULL, NULL), STORE_NEW);
    assert_int_equal(ops->begin(st, str_from("a\0c", 3), 1, 0, HOUR_MS, NULL, NULL, NULL), STORE_NEW);
    assert_int_equal(ops->begin(st, str_from("a\0b", 3), 1, 0, HOUR_MS, NULL, NULL, NULL),
                     STORE_INFLIGHT);
    assert_int_equal(beg(st, "ab", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "a", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(ops->begin(st, STR_NULL, 1, 0, HOUR_MS, NULL, NULL, NULL), STORE_NEW);
    assert_int_equal(ops->begin(st, STR_LIT(""), 1, 0, HOUR_MS, NULL, NULL, NULL), STORE_INFLIGHT);
    assert_int_equal(ops->size(st), 7);
    ops->close(st);
}

static void test_ttl_expiry(void **state)
{
    (void)state;
    void *st = ops->open(16);
    assert_int_equal(beg(st, "k", 1, 0, 1000), STORE_NEW);
    done(st, "k", "r", 10); /* DONE expires at 10 + 1000 */
    assert_replay(st, "k", 1, 1009, "r", 1);
    assert_int_equal(beg(st, "k", 1, 1010, 1000), STORE_NEW);
    assert_int_equal(ops->size(st), 1);

    /* complete() refreshes the expiry with the ttl given at begin (5 min here). */
    assert_int_equal(beg(st, "long", 1, 0, 300000), STORE_NEW);
    done(st, "long", "r", 50000);
    assert_replay(st, "long", 1, 349999, "r", 1);
    assert_int_equal(beg(st, "long", 2, 350000, 300000), STORE_NEW); /* gone: no mismatch */
    ops->close(st);
}

static void test_inflight_expiry(void **state)
{
    (void)state;
    void *st = ops->open(16);
    /* A long TTL: the in-flight record still lives only INFLIGHT_MAX_MS. */
    assert_int_equal(beg(st, "k", 1, 1000, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "k", 1, 1000 + INFLIGHT_MAX_MS - 1, HOUR_MS), STORE_INFLIGHT);
    assert_int_equal(beg(st, "k", 1, 1000 + INFLIGHT_MAX_MS, HOUR_MS), STORE_NEW);
    /* A TTL below the cap bounds the in-flight record too. */
    assert_int_equal(beg(st, "short", 1, 0, 5000), STORE_NEW);
    assert_int_equal(beg(st, "short", 1, 4999, 5000), STORE_INFLIGHT);
    assert_int_equal(beg(st, "short", 1, 5000, 5000), STORE_NEW);

    /* The owner completing after the in-flight expiry, before anyone re-claimed the key,
     * still stores its response, with the full TTL from completion. */
    assert_int_equal(beg(st, "late", 1, 0, HOUR_MS), STORE_NEW);
    done(st, "late", "ok", 70000);
    assert_replay(st, "late", 1, 70000 + HOUR_MS - 1, "ok", 2);
    ops->close(st);
}

static void test_eviction_bound(void **state)
{
    (void)state;
    void *st = ops->open(1000);
    char key[32];
    for (uint64_t i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "key-%llu", (unsigned long long)i);
        assert_int_equal(beg(st, key, i, i, HOUR_MS), STORE_NEW);
        done(st, key, key, i);
        assert_true(ops->size(st) <= 1000);
    }
    assert_int_equal(ops->size(st), 1000);
    /* The newest 1000 survive, each with its own response. */
    for (uint64_t i = 99000; i < 100000; i++) {
        snprintf(key, sizeof(key), "key-%llu", (unsigned long long)i);
        assert_replay(st, key, i, 100000, key, strlen(key));
    }
    assert_int_equal(beg(st, "key-98999", 98999, 100000, HOUR_MS), STORE_NEW);
    assert_int_equal(ops->size(st), 1000);

    /* Mixed: every 10th request never finishes; time runs 1 s per request, so in-flight
     * records expire after 60 more requests and never fill the store. */
    for (uint64_t i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "mix-%llu", (unsigned long long)i);
        uint64_t now = 200000 + i * 1000;
        assert_int_equal(beg(st, key, 1, now, HOUR_MS), STORE_NEW);
        if (i % 10 != 0)
            done(st, key, "r", now);
        assert_true(ops->size(st) <= 1000);
    }
    ops->close(st);
}

static void test_eviction_order(void **state)
{
    (void)state;
    /* Expired records go before the oldest DONE one. */
    void *st = ops->open(4);
    assert_int_equal(beg(st, "a", 1, 0, HOUR_MS), STORE_NEW);
    done(st, "a", "A", 0);
    assert_int_equal(beg(st, "b", 1, 1, 100), STORE_NEW);
    done(st, "b", "B", 1); /* expires at 101 */
    assert_int_equal(beg(st, "c", 1, 2, HOUR_MS), STORE_NEW);
    done(st, "c", "C", 2);
    assert_int_equal(beg(st, "d", 1, 3, HOUR_MS), STORE_NEW);
    done(st, "d", "D", 3);
    assert_int_equal(beg(st, "e", 1, 200, HOUR_MS), STORE_NEW);
    assert_int_equal(ops->size(st), 4);
    assert_replay(st, "a", 1, 201, "A", 1);
    assert_replay(st, "c", 1, 201, "C", 1);
    assert_replay(st, "d", 1, 201, "D", 1);
    ops->close(st);

    /* "Oldest DONE" is by completion time, and IN_FLIGHT records are never evicted. */
    st = ops->open(4);
    assert_int_equal(beg(st, "a", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "b", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "c", 1, 0, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "f", 1, 0, HOUR_MS), STORE_NEW); /* stays in flight */
    done(st, "c", "C", 1);
    done(st, "a", "A", 2);
    done(st, "b", "B", 3);
    assert_int_equal(beg(st, "d", 1, 4, HOUR_MS), STORE_NEW); /* evicts c */
    assert_replay(st, "a", 1, 5, "A", 1);
    assert_replay(st, "b", 1, 5, "B", 1);
    assert_int_equal(beg(st, "c", 1, 5, HOUR_MS), STORE_NEW); /* evicts a */
    assert_int_equal(beg(st, "a", 1, 5, HOUR_MS), STORE_NEW); /* evicts b */
    assert_int_equal(beg(st, "f", 1, 5, HOUR_MS), STORE_INFLIGHT);
    assert_int_equal(ops->size(st), 4);
    ops->close(st);
}

static void test_all_inflight_full(void **state)
{
    (void)state;
    void *st = ops->open(8);
    char key[16];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(beg(st, key, 1, 0, HOUR_MS), STORE_NEW);
    }
    assert_int_equal(beg(st, "x", 1, 1, HOUR_MS), STORE_ERROR);
    assert_int_equal(ops->size(st), 8);
    assert_int_equal(beg(st, "k3", 1, 1, HOUR_MS), STORE_INFLIGHT); /* lookups still work */
    assert_int_equal(beg(st, "k3", 2, 1, HOUR_MS), STORE_MISMATCH);

    done(st, "k0", "r", 2); /* one DONE record: evictable */
    assert_int_equal(beg(st, "x", 1, 3, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "y", 1, 3, HOUR_MS), STORE_ERROR);
    ops->abort(st, str_cstr("k1"), tok_of("k1")); /* a free slot */
    assert_int_equal(beg(st, "y", 1, 4, HOUR_MS), STORE_NEW);
    assert_int_equal(beg(st, "z", 1, 4, HOUR_MS), STORE_ERROR);

    /* In-flight records expire, and then make room. */
    assert_int_equal(beg(st, "z", 1, INFLIGHT_MAX_MS, HOUR_MS), STORE_NEW);
    assert_true(ops->size(st) <= 8);
    ops->close(st); /* frees IN_FLIGHT and DONE records alike */
}

/* Model check: random keys, random TTLs below the in-flight cap, time moving forward. Nothing
 * completes, so a record lives exactly ttl; the store must agree with a plain array on every
 * answer, including STORE_ERROR exactly when every slot holds a live record. This exercises
 * the expiry heap through purges and make-room under mixed TTLs. */
static void test_expiry_model(void **state)
{
    (void)state;
    enum { KEYS = 3000, MAX = 2000 };
    static uint64_t expiry[KEYS]; /* 0: absent */
    memset(expiry, 0, sizeof(expiry));
    void *st = ops->open(MAX);
    uint64_t seed = 0x9e3779b97f4a7c15u, now = 1;
    char key[16];
    int seen[STORE_ERROR + 1] = {0};
    for (int step = 0; step < 100000; step++) {
        now += xorshift(&seed) % 8;
        int k = (int)(xorshift(&seed) % KEYS);
        uint32_t ttl = 1 + (uint32_t)(xorshift(&seed) % 50000);
        size_t live = 0;
        if (expiry[k] <= now) {
            for (int i = 0; i < KEYS; i++)
                live += expiry[i] > now;
        }
        snprintf(key, sizeof(key), "m%d", k);
        enum store_begin got = beg(st, key, 1, now, ttl);
        seen[got]++;
        if (expiry[k] > now) {
            assert_int_equal(got, STORE_INFLIGHT);
        } else if (live >= MAX) {
            assert_int_equal(got, STORE_ERROR);
        } else {
            assert_int_equal(got, STORE_NEW);
            expiry[k] = now + ttl;
        }
        assert_true(ops->size(st) <= MAX);
    }
    /* The walk reaches every branch, the full store included. */
    assert_true(seen[STORE_NEW] > 1000 && seen[STORE_INFLIGHT] > 1000 && seen[STORE_ERROR] > 100);
    ops->close(st);
}

/* ---- threads ---- */

enum { THREADS = 8, RACE_KEYS = 4000 };

struct race {
    void *st;
    atomic_int news[RACE_KEYS];
    atomic_int inflight[RACE_KEYS];
    atomic_int other;
};

struct race_arg {
    struct race *race;
    int id;
};

static void *race_thread(void *p)
{
    struct race_arg *a = p;
    char key[16];
    for (int n = 0; n < RACE_KEYS; n++) {
        /* Each thread walks the keys from its own offset, so the threads collide often. */
        int k = (n + a->id * (RACE_KEYS / THREADS / 2)) % RACE_KEYS;
        snprintf(key, sizeof(key), "r%d", k);
        enum store_begin r =
            ops->begin(a->race->st, str_cstr(key), 42, 0, HOUR_MS, NULL, NULL, NULL);
        if (r == STORE_NEW)
            atomic_fetch_add(&a->race->news[k], 1);
        else if (r == STORE_INFLIGHT)
            atomic_fetch_add(&a->race->inflight[k], 1);
        else
            atomic_fetch_add(&a->race->other, 1);
    }
    return NULL;
}

static void test_concurrent_same_key(void **state)
{
    (void)state;
    struct race *race = calloc(1, sizeof(*race));
    assert_non_null(race);
    race->st = ops->open(RACE_KEYS);
    pthread_t t[THREADS];
    struct race_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct race_arg){.race = race, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < RACE_KEYS; k++) {
        assert_int_equal(atomic_load(&race->news[k]), 1);
        assert_int_equal(atomic_load(&race->inflight[k]), THREADS - 1);
    }
    assert_int_equal(atomic_load(&race->other), 0);
    assert_int_equal(ops->size(race->st), RACE_KEYS);
    ops->close(race->st);
    free(race);
}

struct churn_arg {
    void *st;
    uint64_t seed;
    atomic_int *errors;
    atomic_int *oversize;
};

/* begin, then complete or abort at once: at most THREADS records are ever in flight, so a
 * store of 500 always has a DONE record to evict and never answers STORE_ERROR. */
static void *churn_thread(void *p)
{
    struct churn_arg *a = p;
    char key[16];
    for (int n = 0; n < 20000; n++) {
        int k = (int)(xorshift(&a->seed) % 5000);
        uint64_t now = (uint64_t)n;
        snprintf(key, sizeof(key), "c%d", k);
        char *resp = NULL;
        size_t len = 0;
        uint64_t token = 0;
        enum store_begin r =
            ops->begin(a->st, str_cstr(key), (uint64_t)k, now, 1000, &resp, &len, &token);
        if (r == STORE_NEW) {
            if (xorshift(&a->seed) % 4)
                ops->complete(a->st, str_cstr(key), token, key, strlen(key), now);
            else
                ops->abort(a->st, str_cstr(key), token);
        } else if (r == STORE_DONE) {
            if (len != strlen(key) || memcmp(resp, key, len) != 0)
                atomic_fetch_add(a->errors, 1);
            free(resp);
        } else if (r != STORE_INFLIGHT) {
            atomic_fetch_add(a->errors, 1);
        }
        if (ops->size(a->st) > 500)
            atomic_fetch_add(a->oversize, 1);
    }
    return NULL;
}

static void test_concurrent_churn(void **state)
{
    (void)state;
    void *st = ops->open(500);
    atomic_int errors = 0, oversize = 0;
    pthread_t t[THREADS];
    struct churn_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct churn_arg){
            .st = st, .seed = 0x1234567u + (uint64_t)i * 7919u, .errors = &errors,
            .oversize = &oversize};
        assert_int_equal(pthread_create(&t[i], NULL, churn_thread, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    assert_int_equal(atomic_load(&oversize), 0);
    assert_true(ops->size(st) <= 500);
    ops->close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_new_inflight_done_replay),
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_stale_owner_cannot_touch_a_new_claim),
        cmocka_unit_test(test_abort_then_new),
        cmocka_unit_test(test_keys_are_copied_bytes),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_inflight_expiry),
        cmocka_unit_test(test_eviction_bound),
        cmocka_unit_test(test_eviction_order),
        cmocka_unit_test(test_all_inflight_full),
        cmocka_unit_test(test_expiry_model),
        cmocka_unit_test(test_concurrent_same_key),
        cmocka_unit_test(test_concurrent_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

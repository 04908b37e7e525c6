/* test_cache_store.c — the store: insert/lookup by key and Vary, replacement of a variant,
 * eviction within max_size, removal by key and by match (soft and hard), objects outliving
 * their removal while referenced, flights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cache/cache_key.h"
#include "cache/cache_object.h"
#include "cache/cache_store.h"

static struct cache_obj *obj(const char *key, const char *names, const char *vkey, size_t body)
{
    struct response r = {.status = 200};
    struct cache_object_facts f = {.key = str_cstr(key), .hash = cache_key_hash(str_cstr(key)),
                                   .vary_names = str_cstr(names), .vary_key = str_cstr(vkey)};
    struct cache_obj *o = cache_object_new(&r, &f);
    assert_non_null(o);
    char *b = body ? malloc(body) : NULL;
    if (body)
        memset(b, 'x', body);
    cache_object_set_body(o, b, body);
    return o;
}

static struct cache_obj *look(struct cache_store *s, const char *key, const struct h1_request *r)
{
    return cache_store_lookup(s, cache_key_hash(str_cstr(key)), str_cstr(key), r);
}

static void test_insert_lookup_vary(void **state)
{
    (void)state;
    struct cache_store *s = cache_store_new("t", 1 << 24, CACHE_POLICY_DEFAULT);
    assert_true(cache_store_insert(s, obj("k", "", "", 10)));
    struct cache_obj *o = look(s, "k", NULL);
    assert_non_null(o);
    assert_int_equal(o->body_len, 10);
    cache_object_unref(o);
    assert_null(look(s, "other", NULL));
    /* two variants of one key */
    assert_true(cache_store_insert(s, obj("v", "x-a", "x-a:1\n", 1)));
    assert_true(cache_store_insert(s, obj("v", "x-a", "x-a:2\n", 2)));
    struct h1_request r = {.nheaders = 1};
    r.headers[0] = (struct h1_header){STR_LIT("X-A"), STR_LIT("1")};
    o = look(s, "v", &r);
    assert_non_null(o);
    assert_int_equal(o->body_len, 1);
    cache_object_unref(o);
    r.headers[0].value = STR_LIT("3");
    assert_null(look(s, "v", &r));
    /* the same variant again replaces it */
    assert_true(cache_store_insert(s, obj("v", "x-a", "x-a:2\n", 5)));
    uint64_t bytes, objects;
    cache_store_usage(s, &bytes, &objects);
    assert_int_equal(objects, 3);
    assert_int_equal(cache_store_remove_key(s, cache_key_hash(STR_LIT("v")), STR_LIT("v")), 2);
    cache_store_free(s);
}

static void test_eviction_bound(void **state)
{
    (void)state;
    uint64_t max = 16 * 64 * 1024; /* 64 KiB per shard */
    struct cache_store *s = cache_store_new("t", max, &cache_policy_lru);
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        cache_store_insert(s, obj(key, "", "", 1000));
    }
    uint64_t bytes, objects;
    cache_store_usage(s, &bytes, &objects);
    assert_true(bytes <= max);
    assert_true(objects > 0 && objects < 2000);
    assert_true(atomic_load(&cache_store_stats(s)->evicted) >= 2000 - objects);
    /* larger than a shard: refused */
    assert_false(cache_store_insert(s, obj("big", "", "", 70 * 1024)));
    cache_store_free(s);
}

static bool prefix(const struct cache_obj *o, void *arg)
{
    return str_has_prefix(o->key, str_cstr(arg));
}

static void test_purge_and_references(void **state)
{
    (void)state;
    struct cache_store *s = cache_store_new("t", 1 << 24, CACHE_POLICY_DEFAULT);
    cache_store_insert(s, obj("http://h/a/1", "", "", 1));
    cache_store_insert(s, obj("http://h/a/2", "", "", 1));
    cache_store_insert(s, obj("http://h/b/1", "", "", 1));
    struct cache_obj *held = look(s, "http://h/a/1", NULL);
    assert_int_equal(cache_store_purge(s, prefix, "http://h/b/", true), 1);
    struct cache_obj *b = look(s, "http://h/b/1", NULL);
    assert_true(atomic_load(&b->stale)); /* soft: still there, marked */
    cache_object_unref(b);
    assert_int_equal(cache_store_purge(s, prefix, "http://h/a/", false), 2);
    assert_null(look(s, "http://h/a/2", NULL));
    assert_int_equal(held->body_len, 1); /* still readable: the reference keeps it */
    cache_object_unref(held);
    cache_store_free(s);
}

static void test_flights(void **state)
{
    (void)state;
    struct cache_store *s = cache_store_new("t", 1 << 24, CACHE_POLICY_DEFAULT);
    bool leader, u;
    struct cache_flight *a = cache_flight_join(cache_store_flights(s), 1, STR_LIT("k"), 2, &leader);
    assert_true(leader);
    struct cache_flight *b = cache_flight_join(cache_store_flights(s), 1, STR_LIT("k"), 2, &leader);
    assert_false(leader);
    assert_ptr_equal(a, b);
    assert_false(cache_flight_done(b, &u));
    cache_flight_finish(cache_store_flights(s), a, true);
    assert_true(cache_flight_done(b, &u));
    assert_true(u);
    struct cache_flight *c = cache_flight_join(cache_store_flights(s), 1, STR_LIT("k"), 2, &leader);
    assert_true(leader); /* a new one after the finish */
    cache_flight_finish(cache_store_flights(s), c, false);
    cache_flight_put(c);
    cache_flight_put(b);
    cache_flight_put(a);
    cache_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_lookup_vary), cmocka_unit_test(test_eviction_bound),
        cmocka_unit_test(test_purge_and_references), cmocka_unit_test(test_flights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

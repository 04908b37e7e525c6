/* test_response.c — the header list: add, set (replaces duplicates in place), remove, find,
 * growth past the initial capacity, formatted values, bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/arena.h"
#include "pipeline/response.h"

static void edit_headers(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, NULL, 0);
    struct response r;
    assert_int_equal(response_init(&r, &a, 200, 2), 0);
    assert_int_equal(r.content_length, -1);
    assert_int_equal(response_add(&r, &a, STR_LIT("Vary"), STR_LIT("Origin")), 0);
    assert_int_equal(response_add(&r, &a, STR_LIT("ETag"), STR_LIT("\"x\"")), 0);
    for (int i = 0; i < 20; i++) /* grows past cap */
        assert_int_equal(response_addf(&r, &a, STR_LIT("X-N"), "%d", i), 0);
    assert_int_equal(response_add(&r, &a, STR_LIT("vary"), STR_LIT("Cookie")), 0);
    assert_int_equal(r.nheaders, 23);
    assert_int_equal(response_find(&r, STR_LIT("etag")), 1);
    struct str v = response_get(&r, STR_LIT("X-N"));
    assert_int_equal(v.len, 1);
    assert_memory_equal(v.ptr, "0", 1);
    assert_int_equal(response_set(&r, &a, STR_LIT("VARY"), STR_LIT("Accept-Encoding")), 0);
    assert_int_equal(r.nheaders, 22);
    assert_int_equal(response_find(&r, STR_LIT("vary")), 0); /* first keeps its place */
    assert_memory_equal(r.headers[0].value.ptr, "Accept-Encoding", 15);
    assert_int_equal(response_remove(&r, STR_LIT("x-n")), 20);
    assert_int_equal(r.nheaders, 2);
    assert_int_equal(response_remove(&r, STR_LIT("absent")), 0);
    assert_int_equal(response_set(&r, &a, STR_LIT("New"), STR_LIT("1")), 0);
    assert_int_equal(r.nheaders, 3);
    assert_null(response_get(&r, STR_LIT("nope")).ptr);
    response_set_body(&r, "hello", 5);
    assert_int_equal(r.content_length, 5);
    assert_int_equal(r.body_kind, RESPONSE_BODY_MEMORY);
    arena_reset(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(edit_headers)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

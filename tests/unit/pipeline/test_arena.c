/* test_arena.c — alignment, growth past the inline chunk, cleanup order, reuse after reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/arena.h"

static char log_buf[16];
static int log_len;

static void note(void *arg)
{
    log_buf[log_len++] = *(const char *)arg;
}

static void alloc_and_align(void **state)
{
    (void)state;
    _Alignas(16) char inline_buf[256];
    struct arena a;
    arena_init(&a, inline_buf, sizeof(inline_buf));
    char *p = arena_alloc(&a, 3);
    char *q = arena_alloc(&a, 5);
    assert_true((uintptr_t)p % 16 == 0 && (uintptr_t)q % 16 == 0);
    assert_true(p >= inline_buf && q < inline_buf + sizeof(inline_buf)); /* inline first */
    /* Past the inline chunk: malloc'd chunks, big requests included. */
    for (int i = 0; i < 100; i++) {
        char *r = arena_alloc(&a, 1000);
        assert_non_null(r);
        memset(r, i, 1000);
    }
    char *big = arena_alloc(&a, 1 << 20);
    assert_non_null(big);
    memset(big, 0xab, 1 << 20);
    char *z = arena_calloc(&a, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    arena_reset(&a); /* LeakSanitizer checks the chunks went */
    assert_ptr_equal(arena_alloc(&a, 8), inline_buf);
    arena_reset(&a);
}

static void strings(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a, NULL, 0);
    char *s = arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    struct str t = arena_str(&a, STR_LIT("abc"));
    assert_int_equal(t.len, 3);
    assert_memory_equal(t.ptr, "abc", 3);
    assert_int_equal(arena_str(&a, STR_LIT("")).len, 0);
    arena_reset(&a);
}

static void cleanups_run_newest_first_once(void **state)
{
    (void)state;
    static const char abc[] = "abc";
    struct arena a;
    arena_init(&a, NULL, 0);
    log_len = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(arena_on_reset(&a, note, (void *)&abc[i]), 0);
    arena_reset(&a);
    assert_int_equal(log_len, 3);
    assert_memory_equal(log_buf, "cba", 3);
    arena_reset(&a);
    assert_int_equal(log_len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_and_align),
        cmocka_unit_test(strings),
        cmocka_unit_test(cleanups_run_newest_first_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

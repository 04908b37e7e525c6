/* test_str.c — str_eq_nocase's word-at-a-time folding against strncasecmp (C locale): every
 * byte pair at every position of every length 0..20, and the literal form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "core/str.h"

static bool ref_eq(const char *a, const char *b, size_t n)
{
    return n == 0 || strncasecmp(a, b, n) == 0;
}

/* Two equal strings of length n with byte x at position i of a and byte y there in b. */
static void test_every_byte_pair(void **state)
{
    (void)state;
    char a[24], b[24];
    for (size_t n = 1; n <= 20; n++) {
        for (size_t i = 0; i < n; i += (n > 9 ? 3 : 1)) {
            for (unsigned x = 1; x < 256; x++) {
                for (unsigned y = 1; y < 256; y++) {
                    memset(a, 'q', n);
                    memset(b, 'Q', n);
                    a[i] = (char)x;
                    b[i] = (char)y;
                    a[n] = b[n] = '\0';
                    if (str_eq_nocase_n(a, b, n) != ref_eq(a, b, n))
                        fail_msg("n=%zu i=%zu x=%#x y=%#x", n, i, x, y);
                }
            }
        }
    }
}

static void test_lengths_and_literals(void **state)
{
    (void)state;
    assert_true(str_eq_nocase(STR_LIT(""), STR_LIT("")));
    assert_false(str_eq_nocase(STR_LIT("a"), STR_LIT("")));
    assert_true(STR_EQ_LIT_NOCASE(STR_LIT("Content-Length"), "content-length"));
    assert_true(STR_EQ_LIT_NOCASE(STR_LIT("CONNECTION"), "connection"));
    assert_false(STR_EQ_LIT_NOCASE(STR_LIT("Connectiom"), "connection"));
    assert_false(STR_EQ_LIT_NOCASE(STR_LIT("Connection "), "connection"));
    assert_true(STR_EQ_LIT_NOCASE(STR_LIT("TE"), "te"));
    assert_false(STR_EQ_LIT_NOCASE(STR_LIT("T\x05"), "te")); /* 'e' - 0x60: not a case */
    assert_false(STR_EQ_LIT_NOCASE(STR_LIT("x^y"), "x~y"));  /* '^' | 0x20 == '~' */
    assert_false(STR_EQ_LIT_NOCASE(STR_LIT("\r"), "-"));     /* '\r' | 0x20 == '-' */
    assert_true(STR_EQ_LIT_NOCASE(STR_LIT("X-Forwarded-Proto"), "x-forwarded-proto"));
    assert_true(str_has_suffix_nocase(STR_LIT("api.EXAMPLE.com"), STR_LIT(".example.COM")));
    assert_false(str_has_suffix_nocase(STR_LIT("com"), STR_LIT(".com")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_pair),
        cmocka_unit_test(test_lengths_and_literals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

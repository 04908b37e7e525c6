/* test_mask.c — masking of card numbers (Luhn), phone numbers and e-mail addresses in log
 * text, and what it leaves alone (addresses, times, ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "security/mask.h"

static const char *m(const char *s)
{
    static char out[512];
    size_t n = mask_text(s, strlen(s), out, sizeof(out) - 1);
    out[n] = '\0';
    return out;
}

static void kinds(void **state)
{
    (void)state;
    assert_string_equal(m("card 4111111111111111 ok"), "card ************1111 ok");
    assert_string_equal(m("card=4111-1111-1111-1111"), "card=****-****-****-1111");
    assert_string_equal(m("4111 1111 1111 1111"), "**** **** **** 1111");
    assert_string_equal(m("/pay?pan=5500005555555559&x=1"), "/pay?pan=************5559&x=1");
    /* 16 digits failing Luhn: no card, and too long for a phone */
    assert_string_equal(m("4111111111111112"), "4111111111111112");
    assert_string_equal(m("tel 010-1234-5678."), "tel 010-****-5678.");
    assert_string_equal(m("+82 10 1234 5678"), "+82 1* **** 5678");
    assert_string_equal(m("01012345678"), "010****5678");
    assert_string_equal(m("mail john.doe@example.com now"), "mail j*******@example.com now");
    assert_string_equal(m("a@b.co"), "a@b.co");
}

static void leaves_alone(void **state)
{
    (void)state;
    const char *keep[] = {"127.0.0.1", "2026-12-06T08:45:00.123Z", "192.168.100.200",
                          "id 4f2a9c0e1b7d4a5c8e6f0a1b2c3d4e5f", "v1.2.3", "12345678",
                          "user@localhost", "abc123456789012", "1073741824 bytes", "gen 123456789012", "2001:db8::1", "GET /a/b"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        assert_string_equal(m(keep[i]), keep[i]);
    assert_true(mask_luhn("79927398713", 11));
    assert_false(mask_luhn("79927398710", 11));
    char v[] = "010-1234-5678";
    mask_tail(v, strlen(v), 4);
    assert_string_equal(v, "***-****-5678");
}

static void query_params(void **state)
{
    (void)state;
    char t[256];
    strcpy(t, "/a?user=bob&password=hunter22&x=1&Token=abc.def&pass=&card=4111111111111111");
    size_t n = mask_target(t, strlen(t), NULL, 0);
    t[n] = '\0';
    assert_string_equal(t, "/a?user=bob&password=***&x=1&Token=***&pass=&card=************1111");
    char *names[] = {(char *)"user"};
    strcpy(t, "/a?user=bob&password=x");
    n = mask_query_params(t, strlen(t), names, 1);
    t[n] = '\0';
    assert_string_equal(t, "/a?user=***&password=x");
    strcpy(t, "/no-query/token=1");
    assert_int_equal(mask_query_params(t, strlen(t), NULL, 0), strlen("/no-query/token=1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds),
        cmocka_unit_test(leaves_alone),
        cmocka_unit_test(query_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

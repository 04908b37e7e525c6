/* test_wr_cookie.c — the waiting room's cookie: round trip, the MAC equals OpenSSL's one-shot
 * HMAC-SHA256 of "room\nfields", any changed byte / another room / another key fails, the
 * verified-value cache answers only exact bytes, and Cookie-field parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/h1_types.h"
#include "waitroom/wr_cookie.h"

static const uint8_t key[] = "0123456789abcdef0123456789abcdef-key";

static void test_round_trip_and_mac(void **state)
{
    (void)state;
    struct wr_mac *m = wr_mac_new(key, sizeof(key) - 1);
    struct wr_mac_work *w = wr_mac_work_new();
    struct wr_cookie c = {.admitted = true, .id = 987654321, .slot = 17, .nonce = 4242,
                          .issued_ms = 1700000000000, .seen_ms = 1700000001234, .ahead = 5};
    char v[WR_COOKIE_MAX];
    size_t n = wr_cookie_encode(&c, "concert", m, w, v);
    assert_true(n > 32);
    assert_int_equal(strlen(v), n);
    /* the MAC is HMAC-SHA256(key, "concert\n" + fields), first 16 bytes in hex */
    char msg[256];
    int ml = snprintf(msg, sizeof(msg), "concert\n%.*s", (int)(n - 33), v);
    uint8_t full[32];
    unsigned int fl;
    HMAC(EVP_sha256(), key, (int)sizeof(key) - 1, (const uint8_t *)msg, (size_t)ml, full, &fl);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", full[i]);
    assert_string_equal(v + n - 32, hex);
    struct wr_cookie d;
    assert_true(wr_cookie_decode(str_from(v, n), "concert", m, NULL, &d));
    assert_true(d.admitted && d.id == c.id && d.slot == c.slot && d.nonce == c.nonce);
    assert_true(d.issued_ms == c.issued_ms && d.seen_ms == c.seen_ms && d.ahead == c.ahead);
    /* every single changed byte fails */
    for (size_t i = 0; i < n; i++) {
        char t[WR_COOKIE_MAX];
        memcpy(t, v, n);
        t[i] = t[i] == '1' ? '2' : '1';
        assert_false(wr_cookie_decode(str_from(t, n), "concert", m, w, &d));
    }
    assert_false(wr_cookie_decode(str_from(v, n - 1), "concert", m, w, &d));
    /* another room, another key */
    assert_false(wr_cookie_decode(str_from(v, n), "concerts", m, w, &d));
    struct wr_mac *m2 = wr_mac_new((const uint8_t *)"another key of at least 32 bytes!!", 34);
    assert_false(wr_cookie_decode(str_from(v, n), "concert", m2, w, &d));
    /* the cache answers exact bytes only */
    static struct wr_vcache vc;
    assert_true(wr_cookie_decode_cached(&vc, str_from(v, n), "concert", m, w, &d));
    assert_true(wr_cookie_decode_cached(&vc, str_from(v, n), "concert", m, w, &d));
    v[3] = v[3] == '9' ? '8' : '9';
    assert_false(wr_cookie_decode_cached(&vc, str_from(v, n), "concert", m, w, &d));
    wr_mac_free(m2);
    wr_mac_work_free(w);
    wr_mac_free(m);
}

static void test_find(void **state)
{
    (void)state;
    struct h1_header h[3] = {
        {STR_LIT("Cookie"), STR_LIT("a=1; weir_wr_x2=no; weir_wr_x=yes ; b=2")},
        {STR_LIT("Accept"), STR_LIT("*/*")},
        {STR_LIT("cookie"), STR_LIT("weir_wr_y=")},
    };
    bool found;
    struct str v = wr_cookie_find(h, 3, STR_LIT("weir_wr_x"), &found);
    assert_true(found && str_eq(v, STR_LIT("yes")));
    v = wr_cookie_find(h, 3, STR_LIT("weir_wr_y"), &found);
    assert_true(found && v.len == 0);
    v = wr_cookie_find(h, 3, STR_LIT("weir_wr_z"), &found);
    assert_false(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_mac),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

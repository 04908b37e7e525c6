/* test_config_values.c — the value parsers behind the config: durations, sizes, addresses.
 * Edge cases first: empty input, junk after the number, signs, fractions, and overflow at the
 * exact boundary of 64 bits (and of the port's 16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

static void assert_addr(const struct cfg_addr *a, int family, const char *ip, unsigned port)
{
    char buf[INET6_ADDRSTRLEN];

    assert_int_equal(a->sa.ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;

        assert_int_equal(a->salen, sizeof(*in));
        assert_int_equal(ntohs(in->sin_port), port);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;

        assert_int_equal(a->salen, sizeof(*in6));
        assert_int_equal(ntohs(in6->sin6_port), port);
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    }
    assert_string_equal(buf, ip);
}

static void test_parse_duration(void **state)
{
    static const struct {
        const char *in;
        uint64_t ms;
    } ok[] = {
        {"0", 0}, {"1", 1}, {"250ms", 250}, {"10s", 10000}, {"2m", 120000}, {"1h", 3600000},
        {"007s", 7000}, {"18446744073709551615", UINT64_MAX},
        {"18446744073709551ms", 18446744073709551ull},
        {"5124095576030h", 5124095576030ull * 3600000},
    };
    static const char *const bad[] = {
        "", "s", "ms", "10x", "10 s", " 10s", "10s ", "-1", "+1", "1.5s", "1S", "1sec", "1d",
        "1h30m", "0x10", "18446744073709551616", "18446744073709552s", "5124095576031h",
    };
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 1;
        if (config_parse_duration_ms(ok[i].in, &v) != 0 || v != ok[i].ms)
            fail_msg("'%s' -> %llu", ok[i].in, (unsigned long long)v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        if (config_parse_duration_ms(bad[i], &v) == 0 || v != 42)
            fail_msg("'%s' accepted", bad[i]);
    }
    assert_int_not_equal(config_parse_duration_ms(NULL, &v), 0);
}

static void test_parse_size(void **state)
{
    static const struct {
        const char *in;
        uint64_t n;
    } ok[] = {
        {"0", 0}, {"512", 512}, {"16k", 16384}, {"16K", 16384}, {"4KiB", 4096},
        {"1m", 1 << 20}, {"1M", 1 << 20}, {"1MiB", 1 << 20}, {"2g", 2ull << 30},
        {"2G", 2ull << 30}, {"2GiB", 2ull << 30}, {"18446744073709551615", UINT64_MAX},
        {"17179869183g", 17179869183ull << 30},
    };
    static const char *const bad[] = {
        "", "k", "KiB", "1x", "1kb", "1KB", "1kib", "1 k", " 1", "1 ", "-1", "+1", "1.5k",
        "1t", "1k1", "18446744073709551616", "17179869184g", "18014398509481984k",
    };
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 1;
        if (config_parse_size(ok[i].in, &v) != 0 || v != ok[i].n)
            fail_msg("'%s' -> %llu", ok[i].in, (unsigned long long)v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        if (config_parse_size(bad[i], &v) == 0 || v != 42)
            fail_msg("'%s' accepted", bad[i]);
    }
}

static void test_parse_addr(void **state)
{
    static const struct {
        const char *in;
        int family;
        const char *ip;
        unsigned port;
    } ok[] = {
        {"127.0.0.1:8080", AF_INET, "127.0.0.1", 8080},
        {"0.0.0.0:1", AF_INET, "0.0.0.0", 1},
        {"*:80", AF_INET, "0.0.0.0", 80},
        {":65535", AF_INET, "0.0.0.0", 65535},
        {"localhost:80", AF_INET, "127.0.0.1", 80},
        {"LocalHost:80", AF_INET, "127.0.0.1", 80},
        {"[::1]:443", AF_INET6, "::1", 443},
        {"[::]:443", AF_INET6, "::", 443},
        {"[2001:db8::a:b]:08080", AF_INET6, "2001:db8::a:b", 8080},
    };
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "empty address"},
        {"127.0.0.1", "missing port (expected host:port)"},
        {"127.0.0.1:", "missing port"},
        {":0", "the port must be a number in 1..65535"},
        {":65536", "the port must be a number in 1..65535"},
        {":99999999999999999999999", "the port must be a number in 1..65535"},
        {":8o", "the port must be a number in 1..65535"},
        {":-1", "the port must be a number in 1..65535"},
        {"1.2.3.4: 80", "the port must be a number in 1..65535"},
        {"::1:80", "an IPv6 address must be in brackets, as in [::1]:8080"},
        {"[::1]", "missing port"},
        {"[::1]:", "missing port"},
        {"[::1", "missing ']' after the IPv6 address"},
        {"[::1]80", "expected ':' and a port after ']'"},
        {"[zz]:80", "invalid IPv6 address"},
        {"[1.2.3.4]:80", "invalid IPv6 address"},
        {"example.com:80", "not a numeric IPv4 address (host names are not resolved)"},
        {"1.2.3:80", "not a numeric IPv4 address (host names are not resolved)"},
        {"1.2.3.256:80", "not a numeric IPv4 address (host names are not resolved)"},
        {"a-very-long-host-name-that-is-longer-than-any-address.example:80",
         "not a numeric IP address (host names are not resolved)"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct cfg_addr a = {0};
        const char *why = NULL;

        if (config_parse_addr(ok[i].in, &a, &why) != 0)
            fail_msg("'%s': %s", ok[i].in, why);
        assert_string_equal(a.text, ok[i].in);
        assert_addr(&a, ok[i].family, ok[i].ip, ok[i].port);
        free(a.text);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cfg_addr a = {0};
        const char *why = NULL;

        if (config_parse_addr(bad[i].in, &a, &why) == 0)
            fail_msg("'%s' accepted", bad[i].in);
        assert_null(a.text);
        if (!why || strcmp(why, bad[i].why) != 0)
            fail_msg("'%s': why '%s', want '%s'", bad[i].in, why ? why : "(null)", bad[i].why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_addr),
    };

    return cmocka_run_group_tests_name("config_values", tests, NULL, NULL);
}

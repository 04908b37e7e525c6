/* test_cidr_trie.c — the radix trie against a brute-force list, its edge prefixes (/0, /32,
 * /128, v4-mapped) and a 100 k prefix table (nodes visited per lookup and ns, printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "security/cidr_trie.h"

static void add(struct cidr_trie *t, const char *s, uint8_t f)
{
    struct cidr_addr a;
    uint32_t len;
    const char *why;
    assert_int_equal(cidr_parse(s, &a, &len, &why), 0);
    assert_int_equal(cidr_trie_add(t, &a, len, f), 0);
}

static uint8_t look(const struct cidr_trie *t, const char *ip)
{
    struct cidr_addr a;
    assert_true(cidr_parse_ip(ip, strlen(ip), &a));
    return cidr_trie_lookup(t, &a);
}

static void edges(void **state)
{
    (void)state;
    struct cidr_trie t;
    cidr_trie_init(&t);
    assert_int_equal(look(&t, "1.2.3.4"), 0);
    add(&t, "10.0.0.0/8", 1);
    add(&t, "10.1.2.3/32", 2);
    add(&t, "2001:db8::/32", 4);
    add(&t, "2001:db8::1/128", 8);
    assert_int_equal(look(&t, "10.9.9.9"), 1);
    assert_int_equal(look(&t, "10.1.2.3"), 3);
    assert_int_equal(look(&t, "10.1.2.4"), 1);
    assert_int_equal(look(&t, "::ffff:10.1.2.3"), 3); /* v4-mapped is the same address */
    assert_int_equal(look(&t, "11.0.0.0"), 0);
    assert_int_equal(look(&t, "2001:db8::1"), 12);
    assert_int_equal(look(&t, "2001:db8::2"), 4);
    assert_int_equal(look(&t, "2001:db9::1"), 0);
    add(&t, "0.0.0.0/0", 16); /* every IPv4 address, no IPv6 one */
    assert_int_equal(look(&t, "192.168.0.1"), 16);
    assert_int_equal(look(&t, "2001:db9::1"), 0);
    add(&t, "::/0", 32); /* everything */
    assert_int_equal(look(&t, "2001:db9::1"), 32);
    assert_int_equal(look(&t, "10.1.2.3"), 1 | 2 | 16 | 32);
    struct cidr_addr a;
    uint32_t len;
    const char *why;
    assert_int_equal(cidr_parse("10.0.0.0/33", &a, &len, &why), -1);
    assert_int_equal(cidr_parse("::/129", &a, &len, &why), -1);
    assert_int_equal(cidr_parse("10.0.0/8", &a, &len, &why), -1);
    assert_int_equal(cidr_parse("10.0.0.0/", &a, &len, &why), -1);
    assert_int_equal(cidr_parse("10.0.0.0/8x", &a, &len, &why), -1);
    assert_false(cidr_parse_ip(" 1.2.3.4", 8, &a));
    cidr_trie_free(&t);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct pfx {
    struct cidr_addr a;
    uint32_t len;
    uint8_t f;
};

static bool contains(const struct pfx *p, const struct cidr_addr *a)
{
    for (uint32_t i = 0; i < p->len; i++) {
        unsigned b1 = p->a.b[i / 8] >> (7 - i % 8) & 1, b2 = a->b[i / 8] >> (7 - i % 8) & 1;
        if (b1 != b2)
            return false;
    }
    return true;
}

/* Addresses drawn near each other (a shared random base with a few random low bits) so
 * prefixes nest and part at every depth. */
static void random_addr(struct cidr_addr *a, const struct cidr_addr *base)
{
    *a = *base;
    uint32_t flip = (uint32_t)(next() % 128);
    for (uint32_t i = flip; i < 128; i++)
        if (next() & 1)
            a->b[i / 8] ^= (uint8_t)(1u << (7 - i % 8));
}

static void matches_brute_force(void **state)
{
    (void)state;
    enum { NP = 2000, NQ = 5000 };
    struct pfx *p = calloc(NP, sizeof(*p));
    struct cidr_addr base;
    for (int i = 0; i < 16; i++)
        base.b[i] = (uint8_t)next();
    struct cidr_trie t;
    cidr_trie_init(&t);
    for (int i = 0; i < NP; i++) {
        random_addr(&p[i].a, &base);
        p[i].len = (uint32_t)(next() % 129);
        p[i].f = (uint8_t)(1u << (next() % 8));
        assert_int_equal(cidr_trie_add(&t, &p[i].a, p[i].len, p[i].f), 0);
    }
    for (int q = 0; q < NQ; q++) {
        struct cidr_addr a;
        random_addr(&a, q & 1 ? &base : &p[next() % NP].a);
        uint8_t want = 0;
        for (int i = 0; i < NP; i++)
            if (contains(&p[i], &a))
                want |= p[i].f;
        assert_int_equal(cidr_trie_lookup(&t, &a), want);
    }
    cidr_trie_free(&t);
    free(p);
}

static void hundred_thousand_prefixes(void **state)
{
    (void)state;
    enum { NP = 100000, NQ = 1000000 };
    struct cidr_trie t;
    cidr_trie_init(&t);
    for (int i = 0; i < NP; i++) {
        struct cidr_addr a = {{0}};
        uint64_t r = next();
        if (i & 1) { /* v4 /16../32 */
            a.b[10] = a.b[11] = 0xff;
            memcpy(a.b + 12, &r, 4);
            assert_int_equal(cidr_trie_add(&t, &a, 96 + 16 + (uint32_t)(r >> 40) % 17, 1), 0);
        } else { /* v6 /32../128 */
            memcpy(a.b, &r, 8);
            uint64_t r2 = next();
            memcpy(a.b + 8, &r2, 8);
            assert_int_equal(cidr_trie_add(&t, &a, 32 + (uint32_t)(r >> 40) % 97, 2), 0);
        }
    }
    struct cidr_addr *qs = malloc(sizeof(*qs) * 1024);
    for (int i = 0; i < 1024; i++) {
        uint64_t r = next(), r2 = next();
        memcpy(qs[i].b, &r, 8);
        memcpy(qs[i].b + 8, &r2, 8);
        if (i & 1) {
            memset(qs[i].b, 0, 10);
            qs[i].b[10] = qs[i].b[11] = 0xff;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned sink = 0;
    for (int q = 0; q < NQ; q++)
        sink += cidr_trie_lookup(&t, &qs[q & 1023]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / NQ;
    printf("# 100k prefixes: %u nodes, %.1f ns/lookup (sanitizer build; sink %u)\n", t.n, ns,
           sink);
    assert_true(t.n < 2 * NP + 2); /* path compression: at most one branch node per prefix */
    free(qs);
    cidr_trie_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edges),
        cmocka_unit_test(matches_brute_force),
        cmocka_unit_test(hundred_thousand_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

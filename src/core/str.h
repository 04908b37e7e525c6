/* str.h — byte slices that point into someone else's buffer.
 *
 * A `struct str` never owns its bytes: on the hot path it points into a connection's read
 * buffer and is valid only while that buffer is not compacted or reused. Not NUL-terminated.
 * All helpers are pure and may be called from any thread. */
#ifndef WEIR_CORE_STR_H
#define WEIR_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct str {
    const char *ptr;
    size_t len;
};

#define STR_LIT(s) ((struct str){.ptr = (s), .len = sizeof(s) - 1})
#define STR_NULL ((struct str){.ptr = NULL, .len = 0})

static inline struct str str_from(const char *p, size_t n)
{
    return (struct str){.ptr = p, .len = n};
}

static inline struct str str_cstr(const char *s)
{
    return (struct str){.ptr = s, .len = s ? strlen(s) : 0};
}

static inline bool str_eq(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Eight bytes with 'A'..'Z' made lowercase and every other byte unchanged (exact ASCII
 * folding, as strncasecmp in the C locale): bit 7 of each byte's sum says whether its low
 * seven bits are >= 'A', resp. > 'Z'; bytes >= 0x80 are left alone. */
static inline uint64_t str_lower8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = x & ~high;
    uint64_t ge_a = low7 + ones * (0x80 - 'A');
    uint64_t gt_z = low7 + ones * (0x7f - 'Z');
    return x | (((ge_a & ~gt_z & ~x) & high) >> 2);
}

static inline uint64_t str_load(const char *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n); /* n is 1, 2, 4 or 8: one load */
    return v;
}

/* a[0..n) equals b[0..n), ASCII case-insensitively. Word at a time: the last (or only)
 * word overlaps the previous one rather than reading a byte past n. Inlined with a literal
 * for b, b's side folds to constants: a short header-name test is a few instructions instead
 * of a strncasecmp call. */
static inline bool str_eq_nocase_n(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (str_lower8(str_load(a + i, 8)) != str_lower8(str_load(b + i, 8)))
                return false;
        x = str_load(a + n - 8, 8);
        y = str_load(b + n - 8, 8);
    } else if (n >= 4) {
        x = str_load(a, 4) | str_load(a + n - 4, 4) << 32;
        y = str_load(b, 4) | str_load(b + n - 4, 4) << 32;
    } else if (n >= 2) {
        x = str_load(a, 2) | str_load(a + n - 2, 2) << 16;
        y = str_load(b, 2) | str_load(b + n - 2, 2) << 16;
    } else if (n == 1) {
        x = str_load(a, 1);
        y = str_load(b, 1);
    } else {
        return true;
    }
    return str_lower8(x) == str_lower8(y);
}

/* ASCII case-insensitive comparison (header names, tokens). */
static inline bool str_eq_nocase(struct str a, struct str b)
{
    return a.len == b.len && str_eq_nocase_n(a.ptr, b.ptr, a.len);
}

/* s equals the literal lit, ASCII case-insensitively. */
#define STR_EQ_LIT_NOCASE(s, lit) str_eq_nocase((s), STR_LIT(lit))

static inline bool str_has_prefix(struct str s, struct str prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

static inline bool str_has_suffix_nocase(struct str s, struct str suffix)
{
    return s.len >= suffix.len && str_eq_nocase_n(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len);
}

/* The value of one hex digit, or -1 when ch is not one (percent-decoding). */
static inline int str_hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Trims optional whitespace (SP / HTAB) on both ends. */
static inline struct str str_trim_ows(struct str s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

#endif

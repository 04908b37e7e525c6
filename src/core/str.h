/* str.h — byte slices that point into someone else's buffer.
 *
 * A `struct str` never owns its bytes: on the hot path it points into a connection's read
 * buffer and is valid only while that buffer is not compacted or reused. Not NUL-terminated.
 * All helpers are pure and may be called from any thread. */
#ifndef WEIR_CORE_STR_H
#define WEIR_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
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

/* ASCII case-insensitive comparison (header names, tokens). */
static inline bool str_eq_nocase(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || strncasecmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool str_has_prefix(struct str s, struct str prefix)
{
    return s.len >= prefix.len && memcmp(s.ptr, prefix.ptr, prefix.len) == 0;
}

static inline bool str_has_suffix_nocase(struct str s, struct str suffix)
{
    return s.len >= suffix.len &&
           strncasecmp(s.ptr + s.len - suffix.len, suffix.ptr, suffix.len) == 0;
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

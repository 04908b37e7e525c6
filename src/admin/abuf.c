/* abuf.c — see abuf.h. */
#include "admin/abuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABUF_DEFAULT_MAX ((size_t)256 << 20)

void abuf_free(struct abuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

bool abuf_reserve(struct abuf *b, size_t n)
{
    size_t max = b->max ? b->max : ABUF_DEFAULT_MAX;
    if (b->failed)
        return false;
    if (n > max || b->len > max - n) {
        b->failed = true;
        return false;
    }
    if (b->len + n <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void abuf_add(struct abuf *b, const void *p, size_t n)
{
    if (n && abuf_reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void abuf_str(struct abuf *b, const char *s)
{
    abuf_add(b, s, strlen(s));
}

void abuf_printf(struct abuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        abuf_add(b, small, (size_t)n);
        return;
    }
    if (!abuf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void abuf_u64(struct abuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    abuf_add(b, tmp + i, sizeof(tmp) - i);
}

void abuf_num(struct abuf *b, double v)
{
    char tmp[64];
    if (!isfinite(v))
        v = 0;
    int n = snprintf(tmp, sizeof(tmp), "%.3f", v);
    if (n <= 0 || (size_t)n >= sizeof(tmp)) {
        abuf_str(b, "0");
        return;
    }
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    if (tmp[n - 1] == '.')
        n--;
    if (n == 2 && tmp[0] == '-' && tmp[1] == '0')
        tmp[0] = '0', n = 1; /* "-0.000" */
    abuf_add(b, tmp, (size_t)n);
}

void abuf_json_str(struct abuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    abuf_add(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        abuf_add(b, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            abuf_add(b, "\\\"", 2);
            break;
        case '\\':
            abuf_add(b, "\\\\", 2);
            break;
        case '\n':
            abuf_add(b, "\\n", 2);
            break;
        case '\r':
            abuf_add(b, "\\r", 2);
            break;
        case '\t':
            abuf_add(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            abuf_add(b, u, sizeof(u));
        }
        }
    }
    abuf_add(b, run, (size_t)(s - run));
    abuf_add(b, "\"", 1);
}

void abuf_prom_label(struct abuf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        abuf_add(b, run, (size_t)(s - run));
        abuf_add(b, esc, 2);
        run = s + 1;
    }
    abuf_add(b, run, (size_t)(s - run));
}

void abuf_consume(struct abuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

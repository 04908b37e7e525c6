/* abuf.h — a growable output buffer for the admin thread's documents and responses.
 *
 * Appends never fail visibly: on out of memory (or past `max`) the buffer is marked failed,
 * later appends are ignored and the caller checks `failed` once at the end. Owned by one
 * thread (the admin thread). */
#ifndef WEIR_ADMIN_ABUF_H
#define WEIR_ADMIN_ABUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct abuf {
    char *data;
    size_t len, cap;
    size_t max;     /* hard cap on len (0 = 256 MiB) */
    bool failed;
};

void abuf_free(struct abuf *b);
/* Ensures room for n more bytes; false (and failed set) when it cannot. */
bool abuf_reserve(struct abuf *b, size_t n);
void abuf_add(struct abuf *b, const void *p, size_t n);
void abuf_str(struct abuf *b, const char *s);
void abuf_printf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void abuf_u64(struct abuf *b, uint64_t v);
/* A finite double with up to 3 decimals, trailing zeros trimmed ("1.5", "0", "12.125");
 * NaN and infinities print as 0 (JSON has neither). */
void abuf_num(struct abuf *b, double v);
/* A JSON string literal with quotes; control characters, quote and backslash escaped, other
 * bytes copied (the inputs are config strings: host names, paths, addresses). */
void abuf_json_str(struct abuf *b, const char *s);
/* A Prometheus label value without quotes: backslash, double quote and newline escaped. */
void abuf_prom_label(struct abuf *b, const char *s);
/* Drops the first n bytes (n <= len). */
void abuf_consume(struct abuf *b, size_t n);

#endif

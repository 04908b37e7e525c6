/* response.h — a response head as a structure, until the protocol writes it: status, reason and
 * a header list whose slices point into the upstream's read buffer, static text or the
 * exchange's arena. Modules edit it in their response-head hooks; the HTTP/1.1 writer (and
 * HTTP/2's later) serialises it. The connection-level fields (Connection, Keep-Alive,
 * Transfer-Encoding, ...) are never in it: each protocol writes its own framing.
 *
 * A response made by weir itself (an error, a module's reply) also carries its body here: a
 * small buffer, or a file range (static files, sent with sendfile). A proxied response's body
 * streams from the upstream and is not described here. One thread: the exchange's. */
#ifndef WEIR_PIPELINE_RESPONSE_H
#define WEIR_PIPELINE_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/str.h"

struct arena;

struct response_header {
    struct str name;
    struct str value;
};

enum response_body_kind {
    RESPONSE_BODY_NONE = 0,   /* no body (or a proxied one streaming from the upstream) */
    RESPONSE_BODY_MEMORY,     /* body/body_len */
    RESPONSE_BODY_FILE,       /* file_fd from file_off, file_len bytes (the owner closes it) */
};

struct response {
    uint16_t status;
    struct str reason;               /* empty: the standard text for the status */
    uint32_t nheaders, cap;
    struct response_header *headers;
    int64_t content_length;          /* -1: unknown (chunked or close-delimited) */
    bool no_body;                    /* HEAD, 204, 304: framing headers but no bytes */
    bool chunked;                    /* sent in chunks (HTTP/1.1), no Content-Length: the
                                        host's intent for an upstream body, a replay's record */

    struct str trailers;             /* "Name: value\r\n" lines after a chunked body, or empty */

    enum response_body_kind body_kind;
    const char *body;
    size_t body_len;
    int file_fd;
    off_t file_off;
    uint64_t file_len;
};

/* An empty response with room for `cap` headers in the arena. Returns 0 or -1 (out of memory). */
int response_init(struct response *r, struct arena *a, uint16_t status, uint32_t cap);

/* For response_add: doubles the field array. 0 or -1. */
int response_grow(struct response *r, struct arena *a);

/* Appends a field (slices are not copied: they must outlive the response). 0 or -1. Inline:
 * every proxied response head is built with it. */
static inline int response_add(struct response *r, struct arena *a, struct str name,
                               struct str value)
{
    if (r->nheaders == r->cap && response_grow(r, a) != 0)
        return -1;
    r->headers[r->nheaders++] = (struct response_header){.name = name, .value = value};
    return 0;
}
/* Appends a field whose value is formatted into the arena. 0 or -1. */
int response_addf(struct response *r, struct arena *a, struct str name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Replaces every field of that name (case-insensitive) with one; adds it when absent. */
int response_set(struct response *r, struct arena *a, struct str name, struct str value);
/* Removes every field of that name; returns how many. */
uint32_t response_remove(struct response *r, struct str name);
/* The first field of that name, or -1. */
int response_find(const struct response *r, struct str name);
/* Its value, or STR_NULL. */
struct str response_get(const struct response *r, struct str name);

/* Sets a body held in memory (not copied) and its Content-Length. */
void response_set_body(struct response *r, const char *body, size_t len);

#endif

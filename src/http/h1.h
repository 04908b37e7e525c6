/* h1.h — a pure HTTP/1.1 parser: no I/O, no allocation, no global state.
 *
 * All functions may be called from any thread. Parsing is restartable: call again with the same
 * buffer grown by the bytes that arrived since; the functions re-scan from the start, which is
 * cheap for heads (bounded by max_header_bytes). Strictness follows RFC 9112 and the request
 * smuggling rules in docs/internals/http.md. */
#ifndef WEIR_HTTP_H1_H
#define WEIR_HTTP_H1_H

#include <stddef.h>
#include <sys/types.h>

#include "http/h1_types.h"

/* Parses a request head from buf[0..len).
 * Returns: > 0   the head is complete; the value is its length (through the empty line);
 *          H1_AGAIN (0) more bytes are needed and nothing seen so far is invalid;
 *          < 0   -status: -400 malformed, -414 request line too long, -431 head too large or
 *                too many fields, -413 declared body too large, -501 unknown transfer coding.
 *                req->error then holds a short static reason.
 * On success req is filled with slices into buf and validated framing. */
int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim,
                     struct h1_request *req);

/* Parses a response head. head_request: the request was HEAD (no body follows).
 * Same return convention; every error is -502 (an upstream's fault). 1xx responses parse as
 * complete heads with framing NONE; the caller reads the next head after them. */
int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim,
                      bool head_request, struct h1_response *resp);

void h1_chunked_init(struct h1_chunked *c);

/* Feeds chunked-coded bytes. Returns how many bytes of buf were consumed (>= 0), or -400 on a
 * framing error (bad size, overflow, bare CR/LF, control characters, trailer too large).
 * Stops right after the message's final CRLF (c->done becomes true); bytes after that belong to
 * the next message and are not consumed.
 * decoded == NULL: validate only, buf is not written.
 * decoded != NULL: the payload bytes among the consumed ones are moved to the front of buf and
 * *decoded is set to their count (framing, extensions and trailers are dropped). */
ssize_t h1_chunked_feed(struct h1_chunked *c, char *buf, size_t len, size_t *decoded);

/* Finds a header by name (case-insensitive); returns its index or -1. O(number of headers). */
int h1_find_header(const struct h1_header *h, uint32_t n, struct str name);

/* True when the comma-separated list `value` contains `token` (case-insensitive, OWS ignored). */
bool h1_list_has_token(struct str value, struct str token);

/* Reason phrase for a status code ("OK", "Not Found", …; "Unknown" when none). */
const char *h1_status_text(int status);

#endif

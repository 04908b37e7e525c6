/* h2_map.h — the pure translation between an HTTP/2 stream's header fields and the HTTP/1.1
 * heads the proxy speaks (RFC 9113 §8): no I/O, no allocation, no nghttp2. The request side
 * turns pseudo-headers into the request line and Host, joins cookie crumbs, drops `te:
 * trailers` and refuses an :authority that conflicts with Host; the response side drops what
 * HTTP/2 forbids (Connection and the fields it names, Keep-Alive, Transfer-Encoding, Upgrade,
 * Proxy-Connection) and lowercases names. nghttp2 has already refused malformed requests
 * (connection-specific fields, a `te` other than trailers, bad pseudo-headers, bad characters)
 * before these functions see them; they check again what the HTTP/1.1 side relies on. */
#ifndef WEIR_H2_H2_MAP_H
#define WEIR_H2_H2_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "http/h1_types.h"

struct h2_field {
    struct str name;
    struct str value;
};

/* What h2_map_request found out beyond the head it wrote. */
struct h2_req_info {
    bool chunked;         /* the body goes up chunked (a body and no content-length) */
    bool head;            /* HEAD: the response has no body */
    const char *why;      /* the reason of an error */
};

/* Writes the HTTP/1.1 request head ("METHOD target HTTP/1.1\r\nHost: …\r\n…\r\n") for the
 * request fields f[0..n) of one stream. body: more frames follow (no END_STREAM on HEADERS).
 * Returns the head's length, or -400 (malformed, conflicting :authority and Host) or -431 (does
 * not fit in cap). */
int h2_map_request(const struct h2_field *f, uint32_t n, bool body, char *out, size_t cap,
                   struct h2_req_info *info);

/* The fields of a response head for HTTP/2: ":status" first (its value in status[4]), then
 * r's fields with lowercased names (written into names[0..cap)), without the connection-
 * specific ones. Returns the number of fields, or -1 when they do not fit. */
int h2_map_response(const struct h1_response *r, struct h2_field *out, uint32_t max, char *names,
                    size_t cap, char status[4]);

/* The trailer section of a chunked body ("Name: value\r\n"… "\r\n", as h1_chunked keeps it)
 * as HTTP/2 fields: names lowercased in place, values trimmed, connection-specific fields
 * dropped, malformed lines skipped. Returns the number of fields (at most max). */
uint32_t h2_map_trailers(char *sec, size_t len, struct h2_field *out, uint32_t max);

/* A connection-specific field HTTP/2 forbids (RFC 9113 §8.2.2), lowercase or not. */
bool h2_map_forbidden(struct str name);

#endif

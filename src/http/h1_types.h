/* h1_types.h — the data the HTTP/1.1 parser produces.
 *
 * Every `struct str` in these structs points into the buffer the parser was given; the caller
 * must keep that buffer unchanged while it uses them. Nothing here is allocated. */
#ifndef WEIR_HTTP_H1_TYPES_H
#define WEIR_HTTP_H1_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

/* Capacity of the header array; the run-time limit (h1_limits.max_headers) may be lower. */
#define H1_MAX_HEADERS 128

/* Return values of the parse functions besides "bytes consumed" (> 0). Errors are the negated
 * HTTP status weir answers with: -400, -413, -414, -431, -501. */
#define H1_AGAIN 0

struct h1_limits {
    uint32_t max_request_line; /* method SP target SP version, without CRLF; over it: 414 */
    uint32_t max_header_bytes; /* the whole head including the request line; over it: 431 */
    uint32_t max_headers;      /* count of header fields; over it: 431 (<= H1_MAX_HEADERS) */
    uint64_t max_body;         /* declared Content-Length over it: 413; 0 = no limit */
};

enum h1_method {
    H1_M_OTHER = 0,
    H1_M_GET,
    H1_M_HEAD,
    H1_M_POST,
    H1_M_PUT,
    H1_M_DELETE,
    H1_M_OPTIONS,
    H1_M_PATCH,
    H1_M_CONNECT,
    H1_M_TRACE,
};

/* How the body that follows the head is delimited. */
enum h1_framing {
    H1_FRAME_NONE = 0, /* no body */
    H1_FRAME_LENGTH,   /* content_length bytes (may be 0) */
    H1_FRAME_CHUNKED,  /* chunked transfer coding, final coding */
    H1_FRAME_EOF,      /* responses only: until the connection closes */
};

/* Flags derived from the head (bit set in .flags). */
enum h1_flag {
    H1F_CONN_CLOSE = 1u << 0,      /* Connection: close */
    H1F_CONN_KEEPALIVE = 1u << 1,  /* Connection: keep-alive */
    H1F_CONN_UPGRADE = 1u << 2,    /* Connection lists "upgrade" */
    H1F_UPGRADE = 1u << 3,         /* an Upgrade header is present */
    H1F_UPGRADE_WEBSOCKET = 1u << 4, /* Upgrade: websocket (case-insensitive) */
    H1F_UPGRADE_H2C = 1u << 5,     /* Upgrade lists h2c */
    H1F_EXPECT_CONTINUE = 1u << 6, /* Expect: 100-continue */
    H1F_HAS_TE = 1u << 7,          /* a Transfer-Encoding header was present */
    H1F_HAS_CL = 1u << 8,          /* a Content-Length header was present */
    H1F_ABSOLUTE_FORM = 1u << 9,   /* request target is http://authority/... */
    H1F_CONN_OTHER = 1u << 10,     /* Connection lists a token other than close and keep-alive
                                      (upgrade included): fields the proxy must drop */
};

struct h1_header {
    struct str name;
    struct str value; /* leading/trailing OWS already trimmed */
};

struct h1_request {
    struct str method;
    enum h1_method method_id;
    struct str target;  /* as sent: origin-form, absolute-form or "*" */
    uint8_t minor;      /* HTTP/1.<minor>: 0 or 1 */
    uint32_t flags;     /* enum h1_flag */
    enum h1_framing framing; /* NONE, LENGTH or CHUNKED (never EOF for requests) */
    uint64_t content_length; /* valid when framing == H1_FRAME_LENGTH */
    struct str host;    /* Host header value (empty when absent, HTTP/1.0 only) */
    const char *error;  /* short static reason when the parser returns an error */
    uint32_t nheaders;
    struct h1_header headers[H1_MAX_HEADERS];
};

struct h1_response {
    uint8_t minor;
    uint16_t status;
    struct str reason;
    uint32_t flags;
    enum h1_framing framing; /* any; EOF when neither CL nor chunked and a body is allowed */
    uint64_t content_length;
    const char *error;
    uint32_t nheaders;
    struct h1_header headers[H1_MAX_HEADERS];
};

/* The whole trailer section of a chunked body, with its final CRLF, at most. */
#define H1_CHUNK_TRAILER_MAX 16384

/* Incremental chunked-body decoder state (see h1_chunked_feed). */
struct h1_chunked {
    uint8_t state;
    bool done;            /* the final CRLF after the last chunk / trailers was consumed */
    uint32_t line_bytes;  /* bytes of the current size line or trailer line so far */
    uint32_t trailer_bytes;
    char *trailers;       /* optional (set after init): receives the trailer section as it is
                             consumed, final CRLF included; H1_CHUNK_TRAILER_MAX bytes */
    uint64_t remaining;   /* payload bytes left in the current chunk */
};

#endif

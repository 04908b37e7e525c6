/* compress_policy.h — whether a response is compressed (or decoded), and the header edits
 * that go with it. Pure: no allocation, no I/O, any thread.
 *
 * Headers are a minimal list of name/value slices (struct compress_header) so the pipeline can
 * adapt its structured response head with a copy of pointers; the edits write new values
 * (a merged Vary, a weak ETag) into a caller-provided scratch buffer that must live as long
 * as the head (the exchange's arena).
 *
 * Order of use in the response-head hook:
 *   1. compress_policy_facts() from the request method, status and response headers;
 *   2. compress_policy_decide(): COMPRESS_ELIGIBLE or the reason not to;
 *   3. if eligible: compress_policy_choose() with the request's Accept-Encoding values; a
 *      coding → compress_policy_encode_headers(); none (identity) → compress_policy_vary()
 *      alone, because the answer still depended on Accept-Encoding and caches must know;
 *   4. if the response is already encoded: compress_policy_decoder() says whether to decode it
 *      for this client, then compress_policy_decode_headers().
 * Framing is the connection writer's: without Content-Length, an HTTP/1.1 client gets a
 * chunked body and an HTTP/1.0 client a close-delimited one. */
#ifndef WEIR_MODULES_COMPRESS_POLICY_H
#define WEIR_MODULES_COMPRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "modules/compress/compress_config.h"

struct compress_header {
    struct str name;
    struct str value;
};

/* A response head being edited: v[0..n) of room cap, plus scratch bytes for new values. */
struct compress_headers {
    struct compress_header *v;
    size_t n, cap;
    char *scratch;
    size_t scratch_used, scratch_cap;
};

/* What the decision looks at, read once from the head. */
struct compress_facts {
    bool head;                   /* the request method is HEAD */
    int status;
    struct str content_type;     /* the first Content-Type value; empty when absent */
    struct str content_encoding; /* the Content-Encoding values ("identity" dropped), or empty;
                                  * several lines give the first, and `multi_encoded` is set */
    bool multi_encoded;          /* more than one non-identity coding applied */
    bool no_transform;           /* a Cache-Control line has the no-transform directive */
    int64_t content_length;      /* -1 when absent or unparsable */
};

enum compress_verdict {
    COMPRESS_ELIGIBLE,
    COMPRESS_SKIP_HEAD,         /* HEAD: no body */
    COMPRESS_SKIP_STATUS,       /* 1xx, 204, 205, 206 (ranges are of the identity form), 304 */
    COMPRESS_SKIP_ENCODED,      /* already has a Content-Encoding */
    COMPRESS_SKIP_NO_TRANSFORM, /* Cache-Control: no-transform */
    COMPRESS_SKIP_TYPE,         /* Content-Type missing or not in the allow-list */
    COMPRESS_SKIP_SMALL,        /* Content-Length below min_length (or 0) */
};

void compress_policy_facts(struct compress_facts *f, struct str method, int status,
                           const struct compress_header *h, size_t n);

enum compress_verdict compress_policy_decide(const struct compress_config *c,
                                             const struct compress_facts *f);

/* A short name of the verdict for logs and metrics ("eligible", "head", "status", ...). */
const char *compress_policy_verdict_name(enum compress_verdict v);

/* True when the media type of `content_type` matches one of the patterns (see
 * struct compress_config.types). */
bool compress_policy_type_allowed(const struct compress_config *c, struct str content_type);

/* The configured coding to use for this request's Accept-Encoding values[0..n), or NULL for
 * identity (including "nothing acceptable": uncompressed is sent then, accept_encoding.h). */
const struct compress_coding *compress_policy_choose(const struct compress_config *c,
                                                     const struct str *values, size_t n);

/* The codec to decode an upstream response with for this client, or NULL to pass it on as it
 * is: decompress is off, the response is not eligible for transforms (HEAD, status,
 * no-transform), its encoding is unknown or stacked, or the client accepts it (a client
 * without Accept-Encoding accepts none). */
const struct compress_codec_ops *compress_policy_decoder(const struct compress_config *c,
                                                         const struct compress_facts *f,
                                                         const struct str *values, size_t n);

/* Header edits. Each returns 0, or -1 when v or scratch is full (the head is then partly
 * edited: send the response unchanged by keeping the original head instead). */

/* Vary gains Accept-Encoding: appended to the last Vary line, or a new line; nothing when a
 * line already names it or is "*". */
int compress_policy_vary(struct compress_headers *h);
/* For a body about to be encoded with `coding`: Content-Encoding set, Content-Length removed,
 * strong ETags made weak, Vary as above. */
int compress_policy_encode_headers(struct compress_headers *h, struct str coding);
/* For a body about to be decoded: Content-Encoding and Content-Length removed, ETags weak, Vary. */
int compress_policy_decode_headers(struct compress_headers *h);

/* Value helpers. `"x"` → `W/"x"` written into buf[0..cap) (returned slice), weak or malformed
 * tags returned unchanged; STR_NULL when buf is too small. */
struct str compress_policy_weak_etag(struct str etag, char *buf, size_t cap);
/* True when a Vary value lists `*` or Accept-Encoding. */
bool compress_policy_vary_covers(struct str vary);

#endif

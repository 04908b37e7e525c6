/* accept_encoding.h — a pure parser of Accept-Encoding (RFC 9110 §12.5.3) and the choice of a
 * response's content coding.
 *
 * Grammar: #( codings [ OWS ";" OWS "q=" qvalue ] ), codings = token / "identity" / "*",
 * qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3"0" ]. Tokens and the parameter name compare
 * ASCII case-insensitively; empty list elements are allowed; "x-gzip" means "gzip"
 * (RFC 9110 §8.4.1.3). An element that does not match the grammar (bad token, bad qvalue,
 * another parameter, two weights, a quoted string...) is treated as absent, as if the client
 * had not listed it: for a coding that means "not acceptable", the safe side.
 *
 * Several field lines are one list (RFC 9110 §5.3): pass every value. No allocation, no I/O;
 * callable from any thread; the cost is linear in the header's length. */
#ifndef WEIR_MODULES_COMPRESS_ACCEPT_ENCODING_H
#define WEIR_MODULES_COMPRESS_ACCEPT_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

#define ACCEPT_ENCODING_Q_MAX 1000 /* q-values in thousandths: "0.5" = 500 */
#define ACCEPT_ENCODING_MAX_PREFS 16

/* accept_encoding_negotiate's answers besides an index into the preference list. */
enum {
    ACCEPT_ENCODING_IDENTITY = -1, /* send the representation as it is */
    ACCEPT_ENCODING_NONE = -2,     /* nothing acceptable: identity excluded, no coding fits */
};

struct accept_encoding_item {
    struct str coding; /* points into the field value */
    int q;             /* 0..1000; 1000 when no weight is given */
};

/* Walks the well-formed elements of values[0..n), skipping malformed and empty ones. */
struct accept_encoding_iter {
    const struct str *values;
    size_t n;
    size_t value; /* index of the current value */
    size_t pos;   /* offset of the next element in it */
};

void accept_encoding_iter_init(struct accept_encoding_iter *it, const struct str *values,
                               size_t n);
/* The next well-formed element into *out; false at the end. */
bool accept_encoding_next(struct accept_encoding_iter *it, struct accept_encoding_item *out);

/* The weight the header gives `coding`: its own element's q (the lowest, when listed more than
 * once), else the q of "*", else -1 (not mentioned). Only identity is acceptable when not
 * mentioned; that rule is the caller's (accept_encoding_negotiate applies it). */
int accept_encoding_q(const struct str *values, size_t n, struct str coding);

/* Picks the coding for a response from prefs[0..nprefs) (the server's preference order, the
 * codings it can produce; entries past ACCEPT_ENCODING_MAX_PREFS are ignored) and the request's
 * Accept-Encoding values[0..n) (n = 0: no such header).
 * - No header: ACCEPT_ENCODING_IDENTITY. RFC 9110 allows any coding then, but clients that
 *   decode say so, and every common server sends identity here.
 * - Otherwise the acceptable coding (q > 0) with the highest q, ties going to the earlier
 *   entry of prefs; it wins over identity unless identity was given a strictly higher q
 *   (explicitly or through "*"). An empty header value accepts no coding (identity).
 * - ACCEPT_ENCODING_NONE when identity is excluded ("identity;q=0", or "*;q=0" without an
 *   identity element) and no coding is acceptable. RFC 9110 lets the server then send 415 or
 *   ignore the header; the caller should send the response uncompressed, as nginx, Apache
 *   and most servers do: a 415 for a GET would break pages for no gain. */
int accept_encoding_negotiate(const struct str *values, size_t n, const struct str *prefs,
                              size_t nprefs);

#endif

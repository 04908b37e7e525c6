/* static_cond.h — validators, conditional requests and ranges for a static file (RFC 9110 §8.8,
 * §13, §14), as pure functions: header values in, a small decision out. No I/O, no allocation,
 * any thread.
 *
 * Header values are passed as slices; an absent header is STR_NULL (ptr == NULL). For the list
 * headers (If-Match, If-None-Match) the caller joins repeated fields with ", " or passes the
 * first; a Range header repeated is invalid and the caller passes STR_NULL. */
#ifndef WEIR_MODULES_STATIC_COND_H
#define WEIR_MODULES_STATIC_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/str.h"

/* `"` + 16 hex (mtime in ns) + '-' + 16 hex (size) + '-' + a coding (≤ 8) + `"` + NUL */
#define STATIC_ETAG_MAX 48
#define STATIC_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes the strong ETag of a file: `"<mtime ns hex>-<size hex>"`, or with "-<coding>" before
 * the closing quote for a precompressed sibling ("br"), so each representation has its own tag.
 * Like nginx's shape without the inode, so every machine serving the same deployed tree gives
 * the same tag; nanoseconds make it change on a rewrite within the same second. Returns the
 * length (< STATIC_ETAG_MAX) or -1 if the coding is too long. */
int static_cond_etag(const struct stat *st, struct str coding, char out[STATIC_ETAG_MAX]);

/* IMF-fixdate for t (seconds since the epoch, UTC); out gets STATIC_DATE_LEN chars and a NUL. */
void static_cond_date_format(int64_t t, char out[STATIC_DATE_LEN + 1]);

/* Parses an HTTP-date: IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime
 * ("Sun Nov  6 08:49:37 1994"), with optional whitespace around it. An RFC 850 two-digit year
 * more than 50 years after `now` means the previous century (RFC 9110 §5.6.7). The weekday must
 * be a weekday name but is not checked against the date. Returns false for anything else. */
bool static_cond_date_parse(struct str s, int64_t now, int64_t *out);

enum static_method { STATIC_GET, STATIC_HEAD, STATIC_OTHER };

struct static_cond_req {
    enum static_method method;
    struct str if_match, if_none_match, if_modified_since, if_unmodified_since, if_range, range;
    int64_t now; /* for RFC 850 years */
};

struct static_cond_rep {
    struct str etag;       /* strong, quoted */
    int64_t last_modified; /* seconds */
    uint64_t size;
};

struct static_cond_decision {
    int status;      /* 200, 206, 304, 412 or 416 */
    uint64_t offset; /* 200/206: the bytes to send are [offset, offset + length) */
    uint64_t length; /* 416: 0 (send "Content-Range: bytes * /size") */
};

/* Evaluates the preconditions in RFC 9110 §13.2.2 order, then Range (GET only, after If-Range).
 * Multiple ranges: their union when it is one contiguous span (206 of that span), otherwise the
 * whole file (200) — weir sends no multipart/byteranges. A Range with a syntax error or another
 * unit is ignored (200); a valid one with no satisfiable range is a 416; a zero-length file
 * ignores Range. */
void static_cond_evaluate(const struct static_cond_req *req, const struct static_cond_rep *rep,
                          struct static_cond_decision *out);

/* Range header parsing alone (used by evaluate; exposed for tests and the fuzzer). */
enum static_range_result {
    STATIC_RANGE_IGNORE,        /* syntax error, other unit, too many ranges, gaps: send 200 */
    STATIC_RANGE_OK,            /* *offset, *length set: send 206 */
    STATIC_RANGE_UNSATISFIABLE, /* send 416 */
};
#define STATIC_RANGE_MAX_SPECS 16 /* more range-specs than this → IGNORE */
enum static_range_result static_cond_range(struct str value, uint64_t size, uint64_t *offset,
                                           uint64_t *length);

/* Entity-tag list matching (If-Match: strong; If-None-Match: weak). `*` matches anything.
 * A list that does not parse matches nothing. */
bool static_cond_etag_match(struct str list, struct str etag, bool weak);

/* "bytes a-b/size" for a 206, or "bytes * /size" (no space) for a 416. Returns the length. */
int static_cond_content_range(const struct static_cond_decision *d, uint64_t size, char *out,
                              size_t cap);

#endif

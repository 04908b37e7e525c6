/* h1_parse.c — HTTP/1.1 request and response heads (RFC 9112 §2–§6).
 *
 * Purpose: turn the bytes of a message head into slices plus validated framing, and reject every
 * head that two HTTP implementations could read differently (the request-smuggling surface).
 * The rules and their RFC sections are listed in docs/internals/http.md.
 *
 * Invariants:
 *  - Pure: no I/O, no allocation, no mutable static data; safe from any thread.
 *  - Never reads outside buf[0 .. min(len, max_header_bytes)); every slice written points there.
 *  - Restartable: each call re-scans from buf[0]. A strict prefix of a valid head yields H1_AGAIN,
 *    never an error; the full head yields the same result whatever bytes follow it.
 *  - Errors are decided as early as the bytes allow (a too-long request line does not wait for
 *    its CRLF, a too-large head does not wait for its end).
 *
 * Cost: one pass over the head (header values 8 bytes at a time), then one pass over the header
 * names (a switch on the length, so unknown names cost one comparison at most). */

#include <limits.h>
#include <string.h>

#include "http/h1.h"

/* Character classes, one bit each (RFC 9110 §5.6.2 tchar, §5.5 field-value, RFC 9112 §3.2
 * request-target (visible ASCII only), RFC 3986 §3.2.2 host characters). */
enum {
    C_TCHAR = 1,  /* token character: field names, methods, codings */
    C_VALUE = 2,  /* field-value byte: HTAB, SP, VCHAR, obs-text (0x80-0xff) */
    C_TARGET = 4, /* request-target byte: 0x21-0x7e */
    C_HOST = 8,   /* unreserved / sub-delims / pct-encoded / ':' / '[' / ']' */
};

static const unsigned char ctype[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  15, 6,  7,  15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 6,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 6,  14, 6,  6,  /* 0x30 */
    6,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 6,  14, 7,  15, /* 0x50 */
    7,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6,  7,  6,  15, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
};

#define IS(c, cls) ((ctype[(unsigned char)(c)] & (cls)) != 0)

/* Empty lines accepted before a request line (RFC 9112 §2.2 says SHOULD ignore at least one). */
#define H1_MAX_LEADING_CRLF 4
/* Largest Content-Length or chunk size weir accepts: far above any real body, far below the
 * point where offset arithmetic on it could overflow. */
#define H1_MAX_LENGTH (UINT64_C(1) << 62)

/* ---- scanning ---------------------------------------------------------------------------- */

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v); /* one unaligned load at -O1 and above */
    return v;
}

/* Non-zero when some byte of x is below n (n <= 128); exact as a yes/no answer. */
static inline uint64_t has_less(uint64_t x, uint64_t n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t has_byte(uint64_t x, uint64_t b)
{
    uint64_t y = x ^ (ONES * b);
    return (y - ONES) & ~y & HIGHS;
}

/* Returns the first byte at or after p that is not a field-value byte, or end.
 * Words of 8 plain bytes (0x20-0x7e, 0x80-0xff) are skipped whole; the word that holds an HTAB or
 * the line's CR is finished byte by byte. */
static const char *scan_value(const char *p, const char *end)
{
    for (;;) {
        while (end - p >= 8) {
            uint64_t x = load64(p);
            if (has_less(x, 0x20) | has_byte(x, 0x7f))
                break;
            p += 8;
        }
        const char *stop = end - p > 8 ? p + 8 : end;
        while (p < stop && IS(*p, C_VALUE))
            p++;
        if (p < stop || p == end)
            return p;
    }
}

/* Same for request-target bytes (0x21-0x7e): stops at SP, CTLs, DEL and bytes >= 0x80. */
static const char *scan_target(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load64(p);
        if (has_less(x, 0x21) | has_byte(x, 0x7f) | (x & HIGHS))
            break;
        p += 8;
    }
    while (p < end && IS(*p, C_TARGET))
        p++;
    return p;
}

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
}

/* s[0..n) equals the lowercase literal lit[0..n), ASCII case-insensitively. */
static bool eq_lower(const char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

#define NAME_IS(s, lit) ((s).len == sizeof(lit) - 1 && eq_lower((s).ptr, lit, sizeof(lit) - 1))

/* Field names only: s is made of tchars (already validated) and lit of lowercase letters and '-'.
 * For those, OR-ing 0x20 folds case exactly: among tchars only 'A'-'Z' map onto 'a'-'z', and
 * only '-' maps onto '-'. Branch-free per byte, unlike eq_lower. */
static inline bool token_eq_lower(const char *s, const char *lit, size_t n)
{
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= ((unsigned char)s[i] | 0x20u) ^ (unsigned char)lit[i];
    return diff == 0;
}

#define FIELD_IS(s, lit) token_eq_lower((s).ptr, lit, sizeof(lit) - 1)

/* ---- shared pieces of both heads --------------------------------------------------------- */

/* Matches "HTTP/1.0" or "HTTP/1.1" at p (exactly; RFC 9112 §2.3). Returns 1 and sets *minor on a
 * match, 0 when the bytes up to end are a prefix of a valid version, -1 otherwise. */
static int match_version(const char *p, const char *end, uint8_t *minor)
{
    static const char lit[] = "HTTP/1.";
    size_t avail = (size_t)(end - p);
    size_t k = avail < 7 ? avail : 7;
    if (avail == 0)
        return 0; /* p may be a NULL buffer of length 0: no memcmp on it */
    if (memcmp(p, lit, k) != 0)
        return -1;
    if (avail < 8)
        return 0;
    if (p[7] != '0' && p[7] != '1')
        return -1;
    *minor = (uint8_t)(p[7] - '0');
    return 1;
}

/* Parses field lines from *pp through the empty line (RFC 9112 §5, §2.2).
 * Returns 1 (complete, *pp moved past the empty line), 0 (need more) or -400 / -431.
 * *nh always holds the number of fields stored so far. */
static int parse_fields(const char **pp, const char *end, struct h1_header *hdrs, uint32_t max,
                        uint32_t *nh, const char **err)
{
    const char *p = *pp;
    uint32_t n = 0;
    int rc = 0;

    for (;;) {
        if (p == end)
            break;
        if (*p == '\r') {
            if (p + 1 == end)
                break;
            if (p[1] != '\n') {
                *err = "bare CR in empty line";
                rc = -400;
                break;
            }
            *pp = p + 2;
            rc = 1;
            break;
        }
        const char *name = p;
        while (p < end && IS(*p, C_TCHAR))
            p++;
        if (p == end)
            break;
        if (*p != ':' || p == name) {
            if (p != name && (*p == ' ' || *p == '\t'))
                *err = "whitespace between field name and colon";
            else if (p == name && (*p == ' ' || *p == '\t'))
                *err = "obs-fold or whitespace-preceded line";
            else if (*p == '\n')
                *err = "bare LF in field line";
            else if (*p == '\r')
                *err = "field line without colon";
            else if (p == name && *p == ':')
                *err = "empty field name";
            else
                *err = "invalid character in field name";
            rc = -400;
            break;
        }
        if (n == max) {
            *err = "too many header fields";
            rc = -431;
            break;
        }
        size_t nlen = (size_t)(p - name);
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *val = p;
        p = scan_value(p, end);
        if (p == end)
            break;
        if (*p != '\r') {
            *err = *p == '\n' ? "bare LF in field line" : "control character in field value";
            rc = -400;
            break;
        }
        if (p + 1 == end)
            break;
        if (p[1] != '\n') {
            *err = "bare CR in field line";
            rc = -400;
            break;
        }
        const char *vend = p;
        while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        hdrs[n].name = str_from(name, nlen);
        hdrs[n].value = str_from(val, (size_t)(vend - val));
        n++;
        p += 2;
    }
    *nh = n;
    return rc;
}

enum hdr_id { HDR_OTHER, HDR_HOST, HDR_CL, HDR_TE, HDR_CONNECTION, HDR_UPGRADE, HDR_EXPECT };

/* Names are compared by length first (the switch), so most headers cost no comparison at all. */
static enum hdr_id classify(struct str name)
{
    switch (name.len) {
    case 4:
        return FIELD_IS(name, "host") ? HDR_HOST : HDR_OTHER;
    case 6:
        return FIELD_IS(name, "expect") ? HDR_EXPECT : HDR_OTHER;
    case 7:
        return FIELD_IS(name, "upgrade") ? HDR_UPGRADE : HDR_OTHER;
    case 10:
        return FIELD_IS(name, "connection") ? HDR_CONNECTION : HDR_OTHER;
    case 14:
        return FIELD_IS(name, "content-length") ? HDR_CL : HDR_OTHER;
    case 17:
        return FIELD_IS(name, "transfer-encoding") ? HDR_TE : HDR_OTHER;
    default:
        return HDR_OTHER;
    }
}

/* ORs fn(el) over each non-empty, OWS-trimmed element of a comma-separated list. One pass,
 * where testing several tokens with h1_list_has_token would scan the value once per token. */
static uint32_t list_flags(struct str v, uint32_t (*fn)(struct str el))
{
    const char *p = v.ptr, *e = v.ptr + v.len;
    uint32_t f = 0;
    while (p < e) {
        const char *s = p;
        while (p < e && *p != ',')
            p++;
        struct str el = str_trim_ows(str_from(s, (size_t)(p - s)));
        if (el.len)
            f |= fn(el);
        p++;
    }
    return f;
}

static uint32_t connection_token(struct str el)
{
    if (NAME_IS(el, "close"))
        return H1F_CONN_CLOSE;
    if (NAME_IS(el, "keep-alive"))
        return H1F_CONN_KEEPALIVE;
    if (NAME_IS(el, "upgrade"))
        return H1F_CONN_UPGRADE | H1F_CONN_OTHER;
    return H1F_CONN_OTHER;
}

static uint32_t upgrade_token(struct str el)
{
    if (NAME_IS(el, "websocket"))
        return H1F_UPGRADE_WEBSOCKET;
    if (NAME_IS(el, "h2c"))
        return H1F_UPGRADE_H2C;
    return 0;
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no inner space, no list, at most 2^62. */
static bool parse_length(struct str v, uint64_t *out)
{
    if (v.len == 0)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.ptr[i] - (unsigned)'0';
        if (d > 9)
            return false;
        if (n > (H1_MAX_LENGTH - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* Transfer-Encoding seen across all its field lines, in order (RFC 9112 §6.1, §7). */
struct te_info {
    uint32_t chunked;  /* how many times "chunked" appeared */
    bool last_chunked; /* the final coding is chunked */
    bool bad;          /* an element is not a bare token (parameters included) */
    bool unknown;      /* a coding weir does not know */
};

static void te_add(struct te_info *te, struct str v)
{
    const char *p = v.ptr, *e = v.ptr + v.len;
    while (p < e) {
        const char *s = p;
        while (p < e && *p != ',')
            p++;
        struct str el = str_trim_ows(str_from(s, (size_t)(p - s)));
        if (p < e)
            p++;
        if (el.len == 0)
            continue; /* empty list elements are ignored (RFC 9110 §5.6.1) */
        for (size_t i = 0; i < el.len; i++)
            if (!IS(el.ptr[i], C_TCHAR))
                te->bad = true;
        if (NAME_IS(el, "chunked")) {
            te->chunked++;
            te->last_chunked = true;
            continue;
        }
        te->last_chunked = false;
        if (!NAME_IS(el, "gzip") && !NAME_IS(el, "deflate") && !NAME_IS(el, "compress") &&
            !NAME_IS(el, "identity"))
            te->unknown = true;
    }
}

/* ---- requests ---------------------------------------------------------------------------- */

static enum h1_method method_id(struct str m)
{
#define M_IS(lit) (m.len == sizeof(lit) - 1 && memcmp(m.ptr, lit, sizeof(lit) - 1) == 0)
    switch (m.len) {
    case 3:
        return M_IS("GET") ? H1_M_GET : M_IS("PUT") ? H1_M_PUT : H1_M_OTHER;
    case 4:
        return M_IS("POST") ? H1_M_POST : M_IS("HEAD") ? H1_M_HEAD : H1_M_OTHER;
    case 5:
        return M_IS("PATCH") ? H1_M_PATCH : M_IS("TRACE") ? H1_M_TRACE : H1_M_OTHER;
    case 6:
        return M_IS("DELETE") ? H1_M_DELETE : H1_M_OTHER;
    case 7:
        return M_IS("OPTIONS") ? H1_M_OPTIONS : M_IS("CONNECT") ? H1_M_CONNECT : H1_M_OTHER;
    default:
        return H1_M_OTHER;
    }
#undef M_IS
}

static bool is_alpha(char c)
{
    return (unsigned)(((unsigned char)c | 0x20) - 'a') < 26u;
}

/* The four request-target forms (RFC 9112 §3.2): origin-form "/...", absolute-form
 * "scheme://authority...", authority-form "host:port" (CONNECT only), asterisk-form "*"
 * (OPTIONS only). Returns false when the target fits none of them. */
static bool check_target(struct h1_request *req)
{
    const char *t = req->target.ptr;
    size_t n = req->target.len, i = 0;

    if (req->method_id == H1_M_CONNECT) {
        size_t colon = 0;
        for (i = 0; i < n; i++) {
            if (!IS(t[i], C_HOST))
                return false;
            if (t[i] == ':')
                colon = i;
        }
        if (colon == 0 || colon + 1 == n)
            return false;
        for (i = colon + 1; i < n; i++)
            if ((unsigned)((unsigned char)t[i] - '0') > 9u)
                return false;
        return true;
    }
    if (t[0] == '/')
        return true;
    if (n == 1 && t[0] == '*')
        return req->method_id == H1_M_OPTIONS;
    if (!is_alpha(t[0]))
        return false;
    while (i < n && (is_alpha(t[i]) || (unsigned)((unsigned char)t[i] - '0') < 10u || t[i] == '+' ||
                     t[i] == '-' || t[i] == '.'))
        i++;
    if (n - i < 4 || memcmp(t + i, "://", 3) != 0)
        return false;
    char c = t[i + 3];
    if (c == '/' || c == '?' || c == '#')
        return false; /* empty authority (RFC 9110 §4.2.1: reject) */
    req->flags |= H1F_ABSOLUTE_FORM;
    return true;
}

static bool valid_host(struct str h)
{
    for (size_t i = 0; i < h.len; i++)
        if (!IS(h.ptr[i], C_HOST))
            return false;
    return true;
}

#define FAIL(code, why)                                                                           \
    do {                                                                                          \
        req->error = (why);                                                                       \
        return (code);                                                                            \
    } while (0)

/* Validates a complete request head: target form, Host, framing, flags (RFC 9112 §3.2, §6). */
static int finish_request(struct h1_request *req, const struct h1_limits *lim)
{
    struct te_info te = {0};
    uint32_t ncl = 0, nhost = 0, nte = 0;
    struct str cl = STR_NULL;

    if (!check_target(req))
        FAIL(-400, "invalid request-target form");

    for (uint32_t i = 0; i < req->nheaders; i++) {
        const struct h1_header *h = &req->headers[i];
        switch (classify(h->name)) {
        case HDR_HOST:
            nhost++;
            req->host = h->value;
            break;
        case HDR_CL:
            ncl++;
            cl = h->value;
            break;
        case HDR_TE:
            nte++;
            te_add(&te, h->value);
            break;
        case HDR_CONNECTION:
            req->flags |= list_flags(h->value, connection_token);
            break;
        case HDR_UPGRADE:
            req->flags |= H1F_UPGRADE | list_flags(h->value, upgrade_token);
            break;
        case HDR_EXPECT:
            if (NAME_IS(h->value, "100-continue"))
                req->flags |= H1F_EXPECT_CONTINUE;
            break;
        case HDR_OTHER:
            break;
        }
    }

    if (nhost > 1)
        FAIL(-400, "multiple Host fields");
    if (nhost == 0 && req->minor == 1)
        FAIL(-400, "missing Host in HTTP/1.1");
    if (!valid_host(req->host))
        FAIL(-400, "invalid Host value");

    if (nte) {
        req->flags |= H1F_HAS_TE;
        if (req->minor == 0)
            FAIL(-400, "Transfer-Encoding in HTTP/1.0");
        if (ncl)
            FAIL(-400, "both Content-Length and Transfer-Encoding");
        if (te.bad)
            FAIL(-400, "malformed Transfer-Encoding");
        if (te.unknown)
            FAIL(-501, "unknown transfer coding");
        if (te.chunked > 1)
            FAIL(-400, "chunked applied more than once");
        if (!te.last_chunked)
            FAIL(-400, "final transfer coding is not chunked");
        req->framing = H1_FRAME_CHUNKED;
        return 0;
    }
    if (ncl) {
        req->flags |= H1F_HAS_CL;
        if (ncl > 1)
            FAIL(-400, "multiple Content-Length fields");
        if (!parse_length(cl, &req->content_length))
            FAIL(-400, "invalid Content-Length");
        if (lim->max_body && req->content_length > lim->max_body)
            FAIL(-413, "Content-Length over the body limit");
        req->framing = H1_FRAME_LENGTH;
    }
    return 0;
}

int h1_parse_request(const char *buf, size_t len, const struct h1_limits *lim,
                     struct h1_request *req)
{
    size_t max_head = lim->max_header_bytes < INT_MAX ? lim->max_header_bytes : INT_MAX;
    size_t scan = len < max_head ? len : max_head;
    const char *p = buf, *end = scan ? buf + scan : buf; /* buf may be NULL when len is 0 */
    const char *line = p, *target;
    uint32_t max_fields = lim->max_headers < H1_MAX_HEADERS ? lim->max_headers : H1_MAX_HEADERS;
    int rc;

    req->method = STR_NULL;
    req->method_id = H1_M_OTHER;
    req->target = STR_NULL;
    req->minor = 0;
    req->flags = 0;
    req->framing = H1_FRAME_NONE;
    req->content_length = 0;
    req->host = STR_NULL;
    req->error = NULL;
    req->nheaders = 0;

    for (int i = 0;; i++) {
        if (p == end)
            goto again;
        if (*p != '\r') {
            if (*p == '\n')
                FAIL(-400, "bare LF before request line");
            break;
        }
        if (i == H1_MAX_LEADING_CRLF)
            FAIL(-400, "too many empty lines before request line");
        if (p + 1 == end)
            goto again;
        if (p[1] != '\n')
            FAIL(-400, "bare CR before request line");
        p += 2;
    }

    /* request-line = method SP request-target SP HTTP-version (RFC 9112 §3) */
    line = p;
    while (p < end && IS(*p, C_TCHAR))
        p++;
    if (p == end)
        goto again_line;
    if (*p != ' ' || p == line)
        FAIL(-400, "invalid method");
    req->method = str_from(line, (size_t)(p - line));
    /* Known from here on, so an error reply to a HEAD request carries no body. */
    req->method_id = method_id(req->method);
    target = ++p;
    p = scan_target(p, end);
    if (p == end)
        goto again_line;
    if (*p != ' ' || p == target)
        FAIL(-400, p == target ? "empty request-target" : "invalid character in request-target");
    req->target = str_from(target, (size_t)(p - target));
    p++;
    rc = match_version(p, end, &req->minor);
    if (rc < 0)
        FAIL(-400, "unsupported HTTP version");
    if (rc == 0 || p + 8 == end)
        goto again_line;
    if (p[8] != '\r')
        FAIL(-400, p[8] == '\n' ? "bare LF after request line" : "garbage after HTTP version");
    if ((size_t)(p + 8 - line) > lim->max_request_line)
        FAIL(-414, "request line too long");
    if (p + 9 == end)
        goto again;
    if (p[9] != '\n')
        FAIL(-400, "bare CR after request line");
    p += 10;

    rc = parse_fields(&p, end, req->headers, max_fields, &req->nheaders, &req->error);
    if (rc < 0)
        return rc;
    if (rc == 0)
        goto again;
    rc = finish_request(req, lim);
    if (rc < 0)
        return rc;
    return (int)(p - buf);

again_line:
    /* Still inside the request line: its content so far (minus a CR that may start the CRLF). */
    if ((size_t)(end - line) - (end > line && end[-1] == '\r') > lim->max_request_line)
        FAIL(-414, "request line too long");
again:
    if (len > max_head)
        FAIL(-431, "request head too large");
    return H1_AGAIN;
}

#undef FAIL

/* ---- responses --------------------------------------------------------------------------- */

#define FAIL(why)                                                                                 \
    do {                                                                                          \
        resp->error = (why);                                                                      \
        return -502;                                                                              \
    } while (0)

/* Content-Length in a response: repeated fields or a list are tolerated only when every value is
 * the same (RFC 9110 §8.6). Returns false on any malformed or differing value. */
static bool response_length(struct str v, bool *seen, uint64_t *out)
{
    const char *p = v.ptr, *e = v.ptr + v.len;
    do {
        const char *s = p;
        while (p < e && *p != ',')
            p++;
        uint64_t n;
        if (!parse_length(str_trim_ows(str_from(s, (size_t)(p - s))), &n))
            return false;
        if (*seen && n != *out)
            return false;
        *seen = true;
        *out = n;
    } while (p++ < e);
    return true;
}

static int finish_response(struct h1_response *resp, bool head_request)
{
    struct te_info te = {0};
    bool have_cl = false, cl_bad = false;
    uint32_t nte = 0;
    uint64_t cl = 0;

    for (uint32_t i = 0; i < resp->nheaders; i++) {
        const struct h1_header *h = &resp->headers[i];
        switch (classify(h->name)) {
        case HDR_CL:
            resp->flags |= H1F_HAS_CL;
            if (!cl_bad && !response_length(h->value, &have_cl, &cl))
                cl_bad = true;
            break;
        case HDR_TE:
            nte++;
            te_add(&te, h->value);
            break;
        case HDR_CONNECTION:
            resp->flags |= list_flags(h->value, connection_token);
            break;
        case HDR_UPGRADE:
            resp->flags |= H1F_UPGRADE | list_flags(h->value, upgrade_token);
            break;
        case HDR_HOST:
        case HDR_EXPECT:
        case HDR_OTHER:
            break;
        }
    }
    if (nte)
        resp->flags |= H1F_HAS_TE;

    /* RFC 9112 §6.3 rule 1: these never have a body, whatever the fields say. */
    if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304)
        return 0;
    if (nte) {
        if (resp->flags & H1F_HAS_CL)
            FAIL("both Content-Length and Transfer-Encoding");
        if (resp->minor == 0)
            FAIL("Transfer-Encoding in HTTP/1.0");
        if (te.bad)
            FAIL("malformed Transfer-Encoding");
        if (te.chunked > 1)
            FAIL("chunked applied more than once");
        /* §6.3 rule 4: chunked last → chunked; any other final coding → read until close. */
        resp->framing = te.last_chunked ? H1_FRAME_CHUNKED : H1_FRAME_EOF;
        return 0;
    }
    if (resp->flags & H1F_HAS_CL) {
        if (cl_bad)
            FAIL("invalid or conflicting Content-Length");
        resp->framing = H1_FRAME_LENGTH;
        resp->content_length = cl;
        return 0;
    }
    resp->framing = H1_FRAME_EOF;
    return 0;
}

int h1_parse_response(const char *buf, size_t len, const struct h1_limits *lim,
                      bool head_request, struct h1_response *resp)
{
    size_t max_head = lim->max_header_bytes < INT_MAX ? lim->max_header_bytes : INT_MAX;
    size_t scan = len < max_head ? len : max_head;
    const char *p = buf, *end = scan ? buf + scan : buf; /* buf may be NULL when len is 0 */
    uint32_t max_fields = lim->max_headers < H1_MAX_HEADERS ? lim->max_headers : H1_MAX_HEADERS;
    int rc;

    resp->minor = 0;
    resp->status = 0;
    resp->reason = STR_NULL;
    resp->flags = 0;
    resp->framing = H1_FRAME_NONE;
    resp->content_length = 0;
    resp->error = NULL;
    resp->nheaders = 0;

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4); the SP
     * before an empty reason may be missing too. */
    rc = match_version(p, end, &resp->minor);
    if (rc < 0)
        FAIL("unsupported HTTP version");
    if (rc == 0)
        goto again;
    p += 8;
    if (p == end)
        goto again;
    if (*p++ != ' ')
        FAIL("malformed status line");
    unsigned status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end)
            goto again;
        unsigned d = (unsigned char)*p - (unsigned)'0';
        if (d > 9 || (i == 0 && (d < 1 || d > 5)))
            FAIL("invalid status code");
        status = status * 10 + d;
    }
    resp->status = (uint16_t)status;
    if (p == end)
        goto again;
    const char *reason = p;
    if (*p == ' ') {
        reason = ++p;
        p = scan_value(p, end);
        if (p == end)
            goto again;
    }
    if (*p != '\r')
        FAIL(*p == '\n' ? "bare LF in status line" : "malformed status line");
    if (p + 1 == end)
        goto again;
    if (p[1] != '\n')
        FAIL("bare CR in status line");
    resp->reason = str_from(reason, (size_t)(p - reason));
    p += 2;

    rc = parse_fields(&p, end, resp->headers, max_fields, &resp->nheaders, &resp->error);
    if (rc < 0)
        return -502;
    if (rc == 0)
        goto again;
    rc = finish_response(resp, head_request);
    if (rc < 0)
        return rc;
    return (int)(p - buf);

again:
    if (len > max_head)
        FAIL("response head too large");
    return H1_AGAIN;
}

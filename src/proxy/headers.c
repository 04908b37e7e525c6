/* headers.c — see headers.h. Cost: O(fields × Connection fields) per head; both are small. */
#include "proxy/headers.h"

#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "http/h1.h"
#include "pipeline/arena.h"
#include "proxy/client_tls.h"

#define NAME_IS(name, lit) STR_EQ_LIT_NOCASE((name), lit)

/* The field names the Connection fields among h[0..n) list (RFC 9110 §7.6.1), parsed once per
 * message so each field's check is a length compare. "close" and "keep-alive" are left out
 * (is_hop_by_hop knows keep-alive; close names no field): a typical message lists none. More
 * than CONN_TOKENS: `scan` is set and the fields are searched as before. */
#define CONN_TOKENS 8
struct conn_fields {
    uint32_t n;
    struct str tok[CONN_TOKENS];
    bool scan;
    const struct h1_header *h;
    uint32_t nh;
};

static bool ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static void find_connection_fields(const struct h1_header *h, uint32_t n, uint32_t flags,
                                   struct conn_fields *cf)
{
    cf->n = 0;
    cf->scan = false;
    cf->h = h;
    cf->nh = n;
    if (!(flags & H1F_CONN_OTHER))
        return; /* the parser saw every Connection token: none names a field */
    for (uint32_t i = 0; i < n; i++) {
        if (!NAME_IS(h[i].name, "connection"))
            continue;
        const char *p = h[i].value.ptr, *end = p + h[i].value.len;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *e = comma ? comma : end;
            const char *a = p;
            while (a < e && ows(*a))
                a++;
            const char *b = e;
            while (b > a && ows(b[-1]))
                b--;
            struct str t = str_from(a, (size_t)(b - a));
            if (t.len && !NAME_IS(t, "close") && !NAME_IS(t, "keep-alive")) {
                if (cf->n == CONN_TOKENS)
                    cf->scan = true;
                else
                    cf->tok[cf->n++] = t;
            }
            p = comma ? comma + 1 : end;
        }
    }
}

static bool hop_by_hop_check(struct str name, const struct conn_fields *cf)
{
    switch (name.len) {
    case 2:
        if (NAME_IS(name, "te"))
            return true;
        break;
    case 7:
        if (NAME_IS(name, "trailer") || NAME_IS(name, "upgrade"))
            return true;
        break;
    case 10:
        if (NAME_IS(name, "connection") || NAME_IS(name, "keep-alive"))
            return true;
        break;
    case 17:
        if (NAME_IS(name, "transfer-encoding"))
            return true;
        break;
    default:
        break;
    }
    if (name.len >= 6 && str_eq_nocase_n(name.ptr, "proxy-", 6))
        return true;
    for (uint32_t i = 0; i < cf->n; i++)
        if (str_eq_nocase(cf->tok[i], name))
            return true;
    if (cf->scan)
        for (uint32_t i = 0; i < cf->nh; i++)
            if (NAME_IS(cf->h[i].name, "connection") && h1_list_has_token(cf->h[i].value, name))
                return true;
    return false;
}

/* The lengths of the fixed hop-by-hop names: te, trailer and upgrade, connection and
 * keep-alive, transfer-encoding. */
#define HOP_LENS ((1u << 2) | (1u << 7) | (1u << 10) | (1u << 17))

/* Most fields are none of these: a length and a first byte rule them out inline. */
static inline bool is_hop_by_hop(struct str name, const struct conn_fields *cf)
{
    if (cf->n == 0 && (name.len >= 32 || !((HOP_LENS >> name.len) & 1)) &&
        (name.len < 6 || (name.ptr[0] | 0x20) != 'p'))
        return false;
    return hop_by_hop_check(name, cf);
}

struct str headers_client_request_id(const struct h1_request *req)
{
    int i = h1_find_header(req->headers, req->nheaders, STR_LIT("x-request-id"));
    if (i < 0)
        return STR_NULL;
    struct str v = req->headers[i].value;
    if (v.len == 0 || v.len > 128)
        return STR_NULL;
    for (size_t k = 0; k < v.len; k++)
        if ((unsigned char)v.ptr[k] <= 0x20 || (unsigned char)v.ptr[k] >= 0x7f)
            return STR_NULL;
    return v;
}

static struct str strip_port(struct str host)
{
    if (!host.len)
        return host;
    if (host.ptr[0] == '[') {
        const char *end = memchr(host.ptr, ']', host.len);
        return end ? str_from(host.ptr, (size_t)(end - host.ptr) + 1) : host;
    }
    const char *colon = memchr(host.ptr, ':', host.len);
    return colon ? str_from(host.ptr, (size_t)(colon - host.ptr)) : host;
}

/* The host of an absolute-form target and its path (origin form), or the Host field's and
 * the target as it is. */
static struct str route_host(const struct h1_request *req, struct str target, struct str *path)
{
    if (req->flags & H1F_ABSOLUTE_FORM) {
        const char *p = memchr(target.ptr, ':', target.len);
        size_t skip = p ? (size_t)(p - target.ptr) + 3 : 0; /* "scheme://" */
        if (skip > target.len)
            skip = target.len;
        struct str rest = str_from(target.ptr + skip, target.len - skip);
        size_t a = 0;
        while (a < rest.len && rest.ptr[a] != '/' && rest.ptr[a] != '?')
            a++;
        *path = a < rest.len ? str_from(rest.ptr + a, rest.len - a) : STR_LIT("/");
        return strip_port(str_from(rest.ptr, a));
    }
    *path = target;
    return strip_port(req->host);
}

struct str headers_route_host(const struct h1_request *req, struct str *path)
{
    return route_host(req, req->target, path);
}

/* The upstream head being written: a cursor over x->uphead's room. A piece checks its size
 * once and is copied without buf_append's per-call bookkeeping; once one does not fit, p is
 * NULL and every later piece is skipped (the head is refused). */
struct hout {
    char *p, *end;
};

static inline bool room_for(struct hout *o, size_t n)
{
    if (o->p && (size_t)(o->end - o->p) >= n)
        return true;
    o->p = NULL;
    return false;
}

static void put(struct hout *o, const char *s, size_t n)
{
    if (room_for(o, n)) {
        memcpy(o->p, s, n);
        o->p += n;
    }
}
#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_str(struct hout *o, struct str s)
{
    put(o, s.ptr, s.len);
}

/* Two bytes as two stores (": ", ", ", CRLF): too short for a memcpy call. */
static inline char *put2(char *p, char a, char b)
{
    p[0] = a;
    p[1] = b;
    return p + 2;
}

static void put_field(struct hout *o, struct str name, struct str value)
{
    if (!room_for(o, name.len + value.len + 4))
        return;
    char *p = o->p;
    memcpy(p, name.ptr, name.len);
    p = put2(p + name.len, ':', ' ');
    memcpy(p, value.ptr, value.len);
    o->p = put2(p + value.len, '\r', '\n');
}

/* Writes "Name: v1, v2, …, extra\r\n" joining every field called `name` with `extra`. */
static void put_joined(struct hout *o, const struct h1_header *h, uint32_t n, struct str name,
                       struct str extra)
{
    if (room_for(o, name.len + 2)) {
        memcpy(o->p, name.ptr, name.len);
        o->p = put2(o->p + name.len, ':', ' ');
    }
    for (uint32_t i = 0; i < n; i++) {
        if (str_eq_nocase(h[i].name, name) && h[i].value.len && room_for(o, h[i].value.len + 2)) {
            memcpy(o->p, h[i].value.ptr, h[i].value.len);
            o->p = put2(o->p + h[i].value.len, ',', ' ');
        }
    }
    if (room_for(o, extra.len + 2)) {
        memcpy(o->p, extra.ptr, extra.len);
        o->p = put2(o->p + extra.len, '\r', '\n');
    }
}

/* "1.<minor> <server_name>" for Via, truncated to the buffer. */
static struct str via_token(char *buf, size_t cap, unsigned minor, const char *server_name)
{
    size_t n = strlen(server_name);
    if (n > cap - 4)
        n = cap - 4;
    buf[0] = '1';
    buf[1] = '.';
    buf[2] = (char)('0' + (minor & 1));
    buf[3] = ' ';
    memcpy(buf + 4, server_name, n);
    return str_from(buf, n + 4);
}

int headers_build_request(struct client *c, bool websocket)
{
    const struct h1_request *r = &c->x->req;
    struct buf *b = &c->x->uphead;
    const struct config *cfg = c->wc->cfg;
    struct str path;
    const struct exchange *e = &c->x->base;
    route_host(r, e->upstream_target.ptr ? e->upstream_target : r->target, &path);

    b->off = b->len = 0;
    c->x->uphead_sent = 0;
    struct hout out = {.p = b->data, .end = b->data + b->cap}, *o = &out;
    put_str(o, r->method);
    PUT_LIT(o, " ");
    put_str(o, path);
    PUT_LIT(o, " HTTP/1.1\r\n");
    bool has_host = false;
    struct conn_fields cf;
    find_connection_fields(r->headers, r->nheaders, r->flags, &cf);
    /* mTLS: the subject header is weir's to set; a client's copies never go upstream. */
    struct str sh = __builtin_expect(c->subject_header != NULL, 0) ? str_cstr(c->subject_header)
                                                                    : STR_NULL;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        struct str name = r->headers[i].name;
        if (is_hop_by_hop(name, &cf))
            continue;
        if (sh.len && str_eq_nocase(name, sh))
            continue;
        bool dropped = false;
        for (uint32_t k = 0; k < e->nupstream_drop && !dropped; k++)
            dropped = str_eq_nocase(name, e->upstream_drop[k]);
        if (dropped)
            continue;
        switch (name.len) {
        case 3:
            if (NAME_IS(name, "via"))
                continue;
            break;
        case 4:
            if (NAME_IS(name, "host")) {
                if (r->flags & H1F_ABSOLUTE_FORM)
                    continue; /* replaced by the target's authority below */
                has_host = true;
            }
            break;
        case 6:
            if (NAME_IS(name, "expect"))
                continue; /* weir answers 100-continue itself */
            break;
        case 12:
            if (NAME_IS(name, "x-request-id"))
                continue;
            break;
        case 15:
            if (NAME_IS(name, "x-forwarded-for"))
                continue;
            break;
        case 16:
            if (NAME_IS(name, "x-forwarded-host"))
                continue;
            break;
        case 17:
            if (NAME_IS(name, "x-forwarded-proto"))
                continue;
            break;
        default:
            break;
        }
        put_field(o, name, r->headers[i].value);
    }
    if (!has_host) {
        if (r->flags & H1F_ABSOLUTE_FORM) {
            /* Host keeps the port of the authority. */
            const char *colon = memchr(r->target.ptr, ':', r->target.len);
            size_t skip = colon ? (size_t)(colon - r->target.ptr) + 3 : 0;
            struct str rest = str_from(r->target.ptr + skip, r->target.len - skip);
            size_t a = 0;
            while (a < rest.len && rest.ptr[a] != '/' && rest.ptr[a] != '?')
                a++;
            put_field(o, STR_LIT("Host"), str_from(rest.ptr, a));
        } else if (r->host.len) {
            put_field(o, STR_LIT("Host"), r->host);
        }
    }
    if (r->framing == H1_FRAME_CHUNKED)
        PUT_LIT(o, "Transfer-Encoding: chunked\r\n");
    put_joined(o, r->headers, r->nheaders, STR_LIT("X-Forwarded-For"), str_cstr(c->ip));
    if (client_is_tls(c))
        PUT_LIT(o, "X-Forwarded-Proto: https\r\n");
    else
        PUT_LIT(o, "X-Forwarded-Proto: http\r\n");
    if (sh.len) {
        char subject[512];
        client_tls_subject(c, subject, sizeof(subject));
        if (subject[0])
            put_field(o, sh, str_cstr(subject));
    }
    if (r->host.len)
        put_field(o, STR_LIT("X-Forwarded-Host"), r->host);
    char via[80];
    put_joined(o, r->headers, r->nheaders, STR_LIT("Via"),
               via_token(via, sizeof(via), r->minor, cfg->server_name));
    put_field(o, STR_LIT("X-Request-Id"), str_cstr(c->x->request_id));
    if (e->upstream_add.len)
        put_str(o, e->upstream_add);
    if (websocket) {
        int i = h1_find_header(r->headers, r->nheaders, STR_LIT("upgrade"));
        PUT_LIT(o, "Connection: upgrade\r\n");
        put_field(o, STR_LIT("Upgrade"), r->headers[i].value);
    }
    PUT_LIT(o, "\r\n");
    if (!out.p)
        return -1;
    b->len = (uint32_t)(out.p - b->data);
    return 0;
}

int headers_chunked_to_length(struct buf *uphead, uint64_t len)
{
    /* Only weir writes this line: the client's Transfer-Encoding is hop-by-hop, dropped, and a
     * field value cannot contain CR or LF. */
    static const char te[] = "\r\nTransfer-Encoding: chunked\r\n";
    char *p = memmem(buf_head(uphead), uphead->len, te, sizeof(te) - 1);
    if (!p)
        return -1;
    char cl[64];
    int n = snprintf(cl, sizeof(cl), "\r\nContent-Length: %llu\r\n", (unsigned long long)len);
    uint32_t old = sizeof(te) - 1;
    if (n <= 0 || (uint32_t)n > old + buf_room(uphead))
        return -1;
    char *after = p + old;
    memmove(p + n, after, (size_t)(buf_tail(uphead) - after));
    memcpy(p, cl, (size_t)n);
    uphead->len = uphead->len - old + (uint32_t)n;
    return 0;
}

int headers_response_view(struct client *c, struct response *r)
{
    const struct h1_response *up = &c->x->resp;
    struct arena *a = &c->x->base.arena;
    const struct config *cfg = c->wc->cfg;
    bool upgrade = up->status == 101;
    if (response_init(r, a, up->status, up->nheaders + 6) != 0)
        return -1;
    r->reason = up->reason;
    r->content_length = up->framing == H1_FRAME_LENGTH ? (int64_t)up->content_length : -1;
    r->no_body = c->x->req.method_id == H1_M_HEAD || up->status == 204 || up->status == 304;
    struct conn_fields cf;
    find_connection_fields(up->headers, up->nheaders, up->flags, &cf);
    size_t upstream_via = 0; /* bytes the upstream's Via values take in ours */
    for (uint32_t i = 0; i < up->nheaders; i++) {
        struct str name = up->headers[i].name;
        if (upgrade && NAME_IS(name, "upgrade")) {
            if (response_add(r, a, name, up->headers[i].value) != 0)
                return -1;
            continue;
        }
        /* Content-Length is the writer's when it frames a body; a HEAD or 304 answer keeps
         * the upstream's as a fact about the representation. */
        if (name.len == 3 && NAME_IS(name, "via")) {
            upstream_via += up->headers[i].value.len ? up->headers[i].value.len + 2 : 0;
            continue;
        }
        if ((name.len == 14 && r->content_length >= 0 && NAME_IS(name, "content-length")) ||
            (name.len == 12 && NAME_IS(name, "x-request-id")) ||
            is_hop_by_hop(name, &cf))
            continue;
        if (response_add(r, a, name, up->headers[i].value) != 0)
            return -1;
    }
    /* Via: the upstream's, then ours. */
    char via[80];
    struct str ours = via_token(via, sizeof(via), up->minor, cfg->server_name);
    size_t len = ours.len + upstream_via;
    char *v = arena_alloc(a, len);
    if (!v)
        return -1;
    size_t off = 0;
    for (uint32_t i = 0; upstream_via && i < up->nheaders; i++) {
        struct str hv = up->headers[i].value;
        if (NAME_IS(up->headers[i].name, "via") && hv.len) {
            memcpy(v + off, hv.ptr, hv.len);
            memcpy(v + off + hv.len, ", ", 2);
            off += hv.len + 2;
        }
    }
    memcpy(v + off, ours.ptr, ours.len);
    if (response_add(r, a, STR_LIT("Via"), str_from(v, len)) != 0 ||
        response_add(r, a, STR_LIT("X-Request-Id"), str_cstr(c->x->request_id)) != 0)
        return -1;
    return 0;
}

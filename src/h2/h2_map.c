/* h2_map.c — see h2_map.h. */
#include "h2/h2_map.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/h1.h"

struct out {
    char *p;
    size_t len, cap;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, struct str s)
{
    put(o, s.ptr, s.len);
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

bool h2_map_forbidden(struct str name)
{
    static const struct str bad[] = {STR_LIT("connection"), STR_LIT("keep-alive"),
                                     STR_LIT("proxy-connection"), STR_LIT("transfer-encoding"),
                                     STR_LIT("upgrade")};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (str_eq_nocase(name, bad[i]))
            return true;
    return false;
}

static int fail(struct h2_req_info *info, int status, const char *why)
{
    info->why = why;
    return -status;
}

int h2_map_request(const struct h2_field *f, uint32_t n, bool body, char *out, size_t cap,
                   struct h2_req_info *info)
{
    struct str method = STR_NULL, path = STR_NULL, authority = STR_NULL, host = STR_NULL;
    bool has_length = false, has_cookie = false;
    *info = (struct h2_req_info){0};
    for (uint32_t i = 0; i < n; i++) {
        struct str nm = f[i].name;
        if (nm.len && nm.ptr[0] == ':') {
            if (str_eq(nm, STR_LIT(":method")))
                method = f[i].value;
            else if (str_eq(nm, STR_LIT(":path")))
                path = f[i].value;
            else if (str_eq(nm, STR_LIT(":authority")))
                authority = f[i].value;
            else if (!str_eq(nm, STR_LIT(":scheme")))
                return fail(info, 400, "unknown pseudo-header");
            continue;
        }
        if (h2_map_forbidden(nm))
            return fail(info, 400, "connection-specific header field");
        if (str_eq_nocase(nm, STR_LIT("host"))) {
            if (host.len && !str_eq_nocase(host, f[i].value))
                return fail(info, 400, "more than one Host");
            host = f[i].value;
        } else if (str_eq_nocase(nm, STR_LIT("content-length"))) {
            has_length = true;
        } else if (str_eq_nocase(nm, STR_LIT("cookie"))) {
            has_cookie = true;
        }
    }
    if (!method.len)
        return fail(info, 400, "no :method");
    bool connect = str_eq(method, STR_LIT("CONNECT"));
    if (!connect && !path.len)
        return fail(info, 400, "no :path");
    if (authority.len && host.len && !str_eq_nocase(authority, host))
        return fail(info, 400, ":authority and Host differ");
    if (!authority.len)
        authority = host;
    if (!authority.len)
        return fail(info, 400, "no :authority or Host");
    info->head = str_eq(method, STR_LIT("HEAD"));
    info->chunked = body && !has_length;

    struct out o = {.p = out, .cap = cap};
    put_str(&o, method);
    PUT_LIT(&o, " ");
    put_str(&o, connect ? authority : path);
    PUT_LIT(&o, " HTTP/1.1\r\nHost: ");
    put_str(&o, authority);
    PUT_LIT(&o, "\r\n");
    for (uint32_t i = 0; i < n; i++) {
        struct str nm = f[i].name;
        if ((nm.len && nm.ptr[0] == ':') || str_eq_nocase(nm, STR_LIT("host")) ||
            str_eq_nocase(nm, STR_LIT("te")) || str_eq_nocase(nm, STR_LIT("cookie")))
            continue;
        put_str(&o, nm);
        PUT_LIT(&o, ": ");
        put_str(&o, f[i].value);
        PUT_LIT(&o, "\r\n");
    }
    if (has_cookie) { /* RFC 9113 §8.2.3: crumbs joined with "; " into one field */
        PUT_LIT(&o, "cookie: ");
        bool first = true;
        for (uint32_t i = 0; i < n; i++) {
            if (!str_eq_nocase(f[i].name, STR_LIT("cookie")))
                continue;
            if (!first)
                PUT_LIT(&o, "; ");
            put_str(&o, f[i].value);
            first = false;
        }
        PUT_LIT(&o, "\r\n");
    }
    if (info->chunked)
        PUT_LIT(&o, "transfer-encoding: chunked\r\n");
    PUT_LIT(&o, "\r\n");
    if (o.full)
        return fail(info, 431, "request head too large");
    return (int)o.len;
}

/* A field named in the response's Connection header (RFC 9110 §7.6.1): dropped with it. */
static bool named_by_connection(const struct h1_response *r, struct str name)
{
    for (uint32_t i = 0; i < r->nheaders; i++)
        if (str_eq_nocase(r->headers[i].name, STR_LIT("connection")) &&
            h1_list_has_token(r->headers[i].value, name))
            return true;
    return false;
}

int h2_map_response(const struct h1_response *r, struct h2_field *out, uint32_t max, char *names,
                    size_t cap, char status[4])
{
    if (max == 0)
        return -1;
    status[0] = (char)('0' + r->status / 100 % 10);
    status[1] = (char)('0' + r->status / 10 % 10);
    status[2] = (char)('0' + r->status % 10);
    status[3] = '\0';
    out[0] = (struct h2_field){.name = STR_LIT(":status"), .value = str_from(status, 3)};
    uint32_t n = 1;
    size_t used = 0;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        struct str nm = r->headers[i].name;
        if (h2_map_forbidden(nm) || named_by_connection(r, nm))
            continue;
        if (n == max || nm.len > cap - used)
            return -1;
        char *lower = names + used;
        for (size_t k = 0; k < nm.len; k++) {
            char ch = nm.ptr[k];
            lower[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        used += nm.len;
        out[n++] = (struct h2_field){.name = str_from(lower, nm.len), .value = r->headers[i].value};
    }
    return (int)n;
}

uint32_t h2_map_trailers(char *sec, size_t len, struct h2_field *out, uint32_t max)
{
    uint32_t n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        size_t e = i;
        while (e < len && sec[e] != '\r' && sec[e] != '\n')
            e++;
        size_t colon = i;
        while (colon < e && sec[colon] != ':')
            colon++;
        if (colon > i && colon < e) {
            for (size_t k = i; k < colon; k++)
                if (sec[k] >= 'A' && sec[k] <= 'Z')
                    sec[k] = (char)(sec[k] + 32);
            size_t v = colon + 1, ve = e;
            while (v < ve && (sec[v] == ' ' || sec[v] == '\t'))
                v++;
            while (ve > v && (sec[ve - 1] == ' ' || sec[ve - 1] == '\t'))
                ve--;
            struct h2_field f = {.name = str_from(sec + i, colon - i),
                                 .value = str_from(sec + v, ve - v)};
            if (!h2_map_forbidden(f.name))
                out[n++] = f;
        }
        i = e;
        while (i < len && (sec[i] == '\r' || sec[i] == '\n'))
            i++;
    }
    return n;
}

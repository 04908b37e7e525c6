/* h1_writer.c — see h1_writer.h. */
#include "proxy/h1_writer.h"

#include <stdint.h>

#include "http/h1.h"

struct out {
    struct buf *b;
    bool ok;
};

static void put(struct out *o, const char *p, size_t n)
{
    if (o->ok && n && buf_append(o->b, p, n) == -1)
        o->ok = false;
}

static void put_str(struct out *o, struct str s)
{
    put(o, s.ptr, s.len);
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

int h1_write_head(struct buf *b, const struct response *r, const struct h1_write_opts *f)
{
    struct out o = {.b = b, .ok = true};
    uint32_t off = b->off, len = b->len;
    char status[13] = "HTTP/1.1 000 ";
    status[9] = (char)('0' + r->status / 100 % 10);
    status[10] = (char)('0' + r->status / 10 % 10);
    status[11] = (char)('0' + r->status % 10);
    put(&o, status, sizeof(status));
    put_str(&o, r->reason.len ? r->reason : str_cstr(h1_status_text(r->status)));
    PUT_LIT(&o, "\r\n");
    for (uint32_t i = 0; i < r->nheaders; i++) {
        put_str(&o, r->headers[i].name);
        PUT_LIT(&o, ": ");
        put_str(&o, r->headers[i].value);
        PUT_LIT(&o, "\r\n");
    }
    if (f->chunked) {
        PUT_LIT(&o, "Transfer-Encoding: chunked\r\n");
    } else if (r->content_length >= 0) {
        /* Digits by hand: snprintf was the writer's largest cost on a plain proxied response. */
        char digits[24];
        size_t n = sizeof(digits);
        uint64_t v = (uint64_t)r->content_length;
        do {
            digits[--n] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        PUT_LIT(&o, "Content-Length: ");
        put(&o, digits + n, sizeof(digits) - n);
        PUT_LIT(&o, "\r\n");
    }
    if (f->connection) {
        PUT_LIT(&o, "Connection: ");
        put(&o, f->connection, strlen(f->connection));
        PUT_LIT(&o, "\r\n");
    }
    PUT_LIT(&o, "\r\n");
    if (!o.ok) {
        /* buf_append may have compacted: the bytes before our start are unchanged in value,
         * so restoring the length drops exactly what we added. */
        if (b->off != off)
            b->len = len, b->off = 0;
        else
            b->len = len;
        return -1;
    }
    return 0;
}

/* h1_writer.c — see h1_writer.h. */
#include "proxy/h1_writer.h"

#include <stdint.h>
#include <string.h>

#include "http/h1.h"

/* Copies n bytes at *p and advances it. */
static inline void put(char **p, const void *src, size_t n)
{
    memcpy(*p, src, n);
    *p += n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Two bytes as two stores: ": " and CRLF come twice per field, too short for a memcpy call. */
static inline void put2(char **p, char a, char b)
{
    (*p)[0] = a;
    (*p)[1] = b;
    *p += 2;
}
#define CONTENT_LENGTH "Content-Length: "
#define CHUNKED "Transfer-Encoding: chunked\r\n"
#define CONNECTION "Connection: "

/* Measured first, then written in one pass without checks: the head of every response goes
 * through here, and a check per piece cost more than the copying. */
int h1_write_head(struct buf *b, const struct response *r, const struct h1_write_opts *f)
{
    struct str reason = r->reason.len ? r->reason : str_cstr(h1_status_text(r->status));
    char digits[24];
    size_t ndigits = 0;
    if (!f->chunked && r->content_length >= 0) {
        /* Digits by hand: snprintf was the writer's largest cost on a plain proxied response. */
        uint64_t v = (uint64_t)r->content_length;
        do {
            digits[sizeof(digits) - ++ndigits] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
    }
    size_t conn_len = f->connection ? strlen(f->connection) : 0;
    size_t need = 13 + reason.len + 2 + 2;
    for (uint32_t i = 0; i < r->nheaders; i++)
        need += r->headers[i].name.len + r->headers[i].value.len + 4;
    if (f->chunked)
        need += sizeof(CHUNKED) - 1;
    else if (ndigits)
        need += sizeof(CONTENT_LENGTH) - 1 + ndigits + 2;
    if (f->connection)
        need += sizeof(CONNECTION) - 1 + conn_len + 2;
    if (need > buf_room(b)) {
        buf_compact(b);
        if (need > buf_room(b))
            return -1;
    }
    char *p = buf_tail(b);
    char status[13] = "HTTP/1.1 000 ";
    status[9] = (char)('0' + r->status / 100 % 10);
    status[10] = (char)('0' + r->status / 10 % 10);
    status[11] = (char)('0' + r->status % 10);
    put(&p, status, sizeof(status));
    put(&p, reason.ptr, reason.len);
    PUT_LIT(&p, "\r\n");
    for (uint32_t i = 0; i < r->nheaders; i++) {
        const struct response_header *h = &r->headers[i];
        put(&p, h->name.ptr, h->name.len);
        put2(&p, ':', ' ');
        put(&p, h->value.ptr, h->value.len);
        put2(&p, '\r', '\n');
    }
    if (f->chunked) {
        PUT_LIT(&p, CHUNKED);
    } else if (ndigits) {
        PUT_LIT(&p, CONTENT_LENGTH);
        put(&p, digits + sizeof(digits) - ndigits, ndigits);
        PUT_LIT(&p, "\r\n");
    }
    if (f->connection) {
        PUT_LIT(&p, CONNECTION);
        put(&p, f->connection, conn_len);
        PUT_LIT(&p, "\r\n");
    }
    PUT_LIT(&p, "\r\n");
    b->len += (uint32_t)(p - buf_tail(b));
    return 0;
}

/* transform.c — see transform.h. A chunk is written as "%08zx\r\n" + data + "\r\n": a
 * fixed-width size (leading zeros are valid chunk-size digits) lets the transform write its
 * output straight after the size line, with no copy. */
#include "proxy/transform.h"

#include <stdio.h>
#include <string.h>

#include "pipeline/runner.h"

#define CHUNK_HEAD 10u  /* "%08zx\r\n" */
#define CHUNK_TAIL 2u   /* "\r\n" after the data */
#define LAST_CHUNK "0\r\n\r\n"
#define MIN_ROOM 256u   /* less than this left in c->out: wait for the socket */

bool transform_begin(struct client *c, struct response *r)
{
    struct h1x *x = c->x;
    x->transforming = true;
    x->tx_done = false;
    x->tx_chunked = x->req.minor == 1;
    r->content_length = -1;
    r->chunked = x->tx_chunked;
    if (!x->tx_chunked)
        c->closing = true; /* HTTP/1.0: the end of the body is the end of the connection */
    return x->tx_chunked;
}

int transform_feed(struct client *c, const char **in, size_t *in_len, bool fin)
{
    struct h1x *x = c->x;
    struct buf *out = &c->out;
    size_t head = x->tx_chunked ? CHUNK_HEAD : 0;
    size_t tail = x->tx_chunked ? CHUNK_TAIL + sizeof(LAST_CHUNK) - 1 : 0;
    while (!x->tx_done) {
        if (buf_room(out) < MIN_ROOM) {
            buf_compact(out);
            if (buf_room(out) < MIN_ROOM)
                return 0; /* full: the caller writes it out first */
        }
        char *dst = buf_tail(out) + head;
        size_t cap = buf_room(out) - head - tail, made = 0;
        int r = pipeline_body(&x->base, in, in_len, dst, cap, &made, fin);
        if (r < 0)
            return -1;
        if (made) {
            pipeline_observe(&x->base, dst, made);
            if (x->tx_chunked) {
                char size[CHUNK_HEAD + 1];
                snprintf(size, sizeof(size), "%08zx\r\n", made);
                memcpy(buf_tail(out), size, CHUNK_HEAD);
                memcpy(dst + made, "\r\n", CHUNK_TAIL);
            }
            out->len += (uint32_t)(head + made + (x->tx_chunked ? CHUNK_TAIL : 0));
        }
        if (r == 1) {
            if (!made)
                return 0; /* no room for what it has: after the socket took some */
            continue;     /* more output for the input it has */
        }
        if (fin) {
            if (x->tx_chunked) {
                memcpy(buf_tail(out), LAST_CHUNK, sizeof(LAST_CHUNK) - 1);
                out->len += sizeof(LAST_CHUNK) - 1;
            }
            x->tx_done = true;
        }
        return 0;
    }
    return 0;
}

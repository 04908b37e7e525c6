/* h1_writer.h — the HTTP/1.1 protocol writer: a structured response head (pipeline/response.h)
 * to bytes, with this connection's framing. The struct never carries Content-Length,
 * Transfer-Encoding or Connection: framing is the writer's, from r->content_length and the
 * options. Pure apart from the buffer; worker thread. */
#ifndef WEIR_PROXY_H1_WRITER_H
#define WEIR_PROXY_H1_WRITER_H

#include <stdbool.h>

#include "core/buf.h"
#include "pipeline/response.h"

struct h1_write_opts {
    bool chunked;            /* Transfer-Encoding: chunked (no Content-Length) */
    const char *connection;  /* Connection value ("close", "keep-alive", "upgrade") or NULL */
};

/* Appends the head: status line, r's fields in order, Content-Length (when known and not
 * chunked) or Transfer-Encoding, Connection, blank line. Returns 0, or -1 when it does not fit
 * (b is left as it was). */
int h1_write_head(struct buf *b, const struct response *r, const struct h1_write_opts *f);

#endif

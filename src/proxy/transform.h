/* transform.h — a response body through the pipeline's body transforms (compression, ...),
 * framed for an HTTP/1.1 client: chunks, or close-delimited for HTTP/1.0. The zero-copy path
 * is not taken for such a response: the transforms' output is built in c->out. Worker thread. */
#ifndef WEIR_PROXY_TRANSFORM_H
#define WEIR_PROXY_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy_types.h"

/* Decides the framing of a transformed response about to be written (r->content_length
 * becomes unknown). Returns whether the head must say chunked. */
bool transform_begin(struct client *c, struct response *r);

/* Feeds body bytes (advancing *in / *in_len), appending the framed output to c->out until it is
 * full. `fin`: no more input will come; the last chunk is written once everything is out.
 * Returns 0, or -1 when a transform failed (the caller cuts the connection). */
int transform_feed(struct client *c, const char **in, size_t *in_len, bool fin);

#endif

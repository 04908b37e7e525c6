/* buffering.h — request bodies read whole before an upstream connection is taken, and
 * response bytes read ahead of a slow client so the upstream connection is released early.
 *
 * A slow client must not hold what the backend has little of (a connection, a thread): with
 * request buffering (a route's `request_buffering`, on by default) the attempt starts only once
 * the whole body is in weir; with response buffering (`response_buffering`) a response that fits
 * is read completely while the client takes its time. Bodies larger than the route's memory
 * bound go to an unlinked temp file. Every byte is counted per worker (config `buffering`):
 * past the memory bound request bodies go to temp files and read-ahead gives way to
 * backpressure; past the file bound requests are refused (503, or 413 when the body alone is
 * larger than the bound). Worker thread only. */
#ifndef WEIR_PROXY_BUFFERING_H
#define WEIR_PROXY_BUFFERING_H

#include <sys/types.h>

#include "proxy/proxy_types.h"

/* ---- request bodies ---------------------------------------------------------------------- */

/* Sets up c->x->body when the route buffers requests (in memory up to its bound, else in a
 * temp file), or else when the body may be replayed or hashed: a Content-Length body up to
 * `keep` (retries, a module's bound) that fits the worker's memory, in memory. Returns 1 when
 * the body is ready to be filled (buffering_body_fill), 0 when it streams, or an HTTP status
 * to answer with (413, 503), *why saying why. */
int buffering_body_begin(struct client *c, uint64_t keep, const char **why);

enum { BODY_MORE = 0, BODY_DONE = 1, BODY_GONE = -1 };
/* Moves body bytes from c->in, then from the socket, into c->x->body (a chunked body is
 * decoded: it goes upstream with a Content-Length). Returns BODY_DONE, BODY_MORE (wait for
 * the socket), BODY_GONE (the client left), or an HTTP status to answer with, *why saying
 * why. */
int buffering_body_fill(struct client *c, const char **why);

/* True when the stored body is in memory (b->mem), false when in its temp file. */
static inline bool buffering_body_in_memory(const struct reqbody *b)
{
    return b->fd == -1;
}

/* Sends the file part of the body to `fd` from b->sent on (sendfile). Returns as sendfile. */
ssize_t buffering_body_sendfile(struct reqbody *b, int fd, struct tls_conn *tls);

/* ---- response read-ahead ----------------------------------------------------------------- */

/* Copies n response bytes at p (their next `rest` are known to follow, 0 when unknown) into
 * c->x->ahead when the exchange may read ahead: the route allows it, the bytes and the rest fit
 * its bound (read-ahead is for responses it can take whole) and the worker's memory has room.
 * Returns false when they must wait for the client instead (backpressure); from then on the
 * exchange does not read ahead again. */
bool buffering_ahead_take(struct client *c, const char *p, uint32_t n, uint64_t rest);

/* Frees what the exchange holds (body, temp file, read-ahead). Idempotent. */
void buffering_release(struct client *c);

#endif

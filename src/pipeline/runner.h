/* runner.h — runs an exchange through its route's chain. The host calls:
 *
 *   pipeline_start(x)          after filling in the request facts (x->host, worker, cfg,
 *                              route, chain, req, client_ip)
 *   pipeline_request(x)        → NEXT (go upstream), RESPOND (write x->reply), WAIT (the host
 *                              waits: host->request_done comes later), FAIL (answer 500)
 *   pipeline_response_head(x, r)  before writing any response head, proxied or made
 *   pipeline_end(x, status)    exactly once, when the exchange is over or abandoned
 *
 * Modules call pipeline_reply / pipeline_wait_until / pipeline_resume / pipeline_need_body /
 * pipeline_transform_on. Everything runs on the exchange's worker thread. */
#ifndef WEIR_PIPELINE_RUNNER_H
#define WEIR_PIPELINE_RUNNER_H

#include "pipeline/chain.h"
#include "pipeline/exchange.h"

void pipeline_start(struct exchange *x);
enum pipeline_verdict pipeline_request(struct exchange *x);
/* Runs the response-head hooks (reverse order) of the modules whose on_request ran. */
void pipeline_response_head(struct exchange *x, struct response *r);
/* Calls on_end of every module whose on_request ran, then frees the arena. Idempotent. */
void pipeline_end(struct exchange *x, uint16_t status);

/* Runs the response body through the transforms turned on for this exchange (in response
 * order: the module nearest the upstream first). Consumes from *in, produces into out. Returns
 * 1 while output is pending (call again with room), 0 when all given input is consumed (with
 * fin: the stream is finished), -1 on a transform error. Only when x->ntransforms > 0. */
int pipeline_body(struct exchange *x, const char **in, size_t *in_len, char *out, size_t cap,
                  size_t *out_len, bool fin);

/* For modules. */

/* Makes x->reply a standard weir error response ("<status> <reason>: <detail> (request id
 * <id>)\n", text/plain) with room for more headers; returns PIPELINE_RESPOND (or FAIL when out
 * of memory) so a hook can `return pipeline_reply(...)`. */
enum pipeline_verdict pipeline_reply(struct exchange *x, uint16_t status, const char *detail);
/* Fills x->reply with a standard error body (weir's own replies use it too). 0 or -1. */
int pipeline_error_response(struct exchange *x, uint16_t status, const char *detail,
                            const char *request_id);
/* Wakes the waiting exchange at `deadline_ms` (loop clock) by calling the module's on_request
 * again; returns PIPELINE_WAIT. */
enum pipeline_verdict pipeline_wait_until(struct exchange *x, uint64_t deadline_ms);
/* Continues a waiting exchange: calls the waiting module's on_request again (now, or right
 * after the current hook returns when called from inside one). */
void pipeline_resume(struct exchange *x);
/* Asks the host for the whole request body; returns PIPELINE_WAIT (the module's on_request is
 * called again with x->body_ready), or PIPELINE_NEXT when the body cannot be buffered (the
 * module decides what that means; x->body_ready stays false). */
enum pipeline_verdict pipeline_need_body(struct exchange *x);
/* Host: before sending [off, off + len) of a module's FILE reply. 0: send; 1: wait for the
 * host's body_continue (the module is bringing the pages into memory). */
int pipeline_file_window(struct exchange *x, uint64_t off, size_t len);
/* For the module that answered 1 to on_file_window: the window is ready. */
void pipeline_body_continue(struct exchange *x);
/* Turns on the body transform of the module whose response hook is running, for this exchange. */
int pipeline_transform_on(struct exchange *x, const void *ctx);

/* Turns on on_response_data of the module whose hook is running, for this exchange. */
int pipeline_observe_on(struct exchange *x, const void *ctx);
/* Host: body bytes as the client gets them, for the observers. */
void pipeline_observe(struct exchange *x, const char *p, size_t n);
/* Host: the trailer fields that ended the body ("Name: value\r\n" lines), for the observers. */
void pipeline_observe_trailers(struct exchange *x, struct str fields);

/* The module context of module m in this exchange, or NULL when m is not in the chain. */
void *pipeline_ctx(struct exchange *x, const struct pipeline_module *m);

#endif

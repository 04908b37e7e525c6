/* exchange.h — what the files of one exchange share (forward.c: the pump; attempt.c: choosing
 * a server, connecting, failing and retrying; admission.c: the pipeline's host before the first
 * attempt; tunnel.c: WebSocket). Internal to src/proxy. Worker thread. */
#ifndef WEIR_PROXY_EXCHANGE_H
#define WEIR_PROXY_EXCHANGE_H

#include <sys/socket.h>
#include <sys/uio.h>

#include "proxy/proxy_types.h"

static inline const struct cfg_upstream *group_of(const struct client *c)
{
    return c->x->route->upstream;
}

static inline uint32_t response_timeout(const struct client *c)
{
    return c->x->route->response_timeout_ms ? c->x->route->response_timeout_ms
                                          : group_of(c)->response_timeout_ms;
}

/* Why an attempt failed; decides whether it counts against the server and may be retried. */
enum fail_kind {
    FAIL_CONNECT,  /* refused / connect timeout: the request never reached the server */
    FAIL_TIMEOUT,  /* no response head within the response timeout */
    FAIL_SERVER,   /* malformed response, closed without one */
    FAIL_STATUS,   /* a retryable status (502/503/504 by default) */
    FAIL_CLIENT,   /* the client's fault (bad body): not held against the server */
};

/* ---- attempt.c ---- */
/* Starts an attempt: picks a server (sticky, strategy, breakers), claims it, connects. */
void attempt_start(struct client *c);
/* The attempt failed before its response head reached the client: retry when the policy and
 * the budget allow, otherwise answer `status`. */
void attempt_failed(struct client *c, enum fail_kind kind, int status, const char *why);
/* Would a failure of this kind be retried now (attempts, replayability, idempotency, budget
 * not consumed)? */
bool attempt_may_retry(const struct client *c, enum fail_kind kind);
/* The final response head arrived: records the attempt's outcome in the breakers. */
void attempt_headed(struct client *c, int status);
/* Ends the attempt's claim on its server (in-flight count, passive health). */
void attempt_release_server(struct client *c, bool failed);
/* Drops the upstream connection (back to the pool when reusable). */
void exchange_drop_upstream(struct client *c, bool reusable);
/* What admission held (in-flight count, a buffered body) is released (end of exchange). */
void exchange_release(struct client *c, int status);

/* Arms the exchange's total timeout (route's, else the group's). */
void exchange_arm_total(struct client *c);

/* What a step of the pump did. */
enum { STEP_IDLE = 0, STEP_PROGRESS = 1, STEP_DONE = -1 };

/* ---- downstream.c (the response direction of the pump) ---- */
/* Reads what the upstream sent into up->in. */
int downstream_read(struct client *c);
/* Parses response heads (interim ones too) until the final one is queued for the client. */
int downstream_parse_head(struct client *c);
/* Moves response body bytes to the client (zero-copy, read-ahead or transformed). */
int downstream_step(struct client *c);

/* ---- forward.c ---- */
void exchange_connected(struct client *c);
void exchange_pump(struct client *c);
/* True when the request can be sent again (no body, a buffered body, or nothing sent yet). */
bool exchange_replayable(const struct client *c);

/* ---- admission.c ---- */
/* Runs the route's pipeline modules, then (when they all pass) the first attempt. */
void admission_start(struct client *c);
/* The client's timer fired while in CS_ADMIT. */
void admission_timeout(struct client *c);
/* The client's socket has news while in CS_ADMIT (body bytes, or it went away). */
void admission_client_event(struct client *c);

/* ---- tunnel.c ---- */
void tunnel_start(struct client *c);
void tunnel_pump(struct client *c);

#endif

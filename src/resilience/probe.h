/* probe.h — active health checks: a small non-blocking HTTP/1.1 client on a worker's loop.
 *
 * Every `interval` the probe connects, sends `METHOD path HTTP/1.1` with `Connection: close`,
 * reads the response head and passes when its status is in the expected range, all within
 * `timeout`. Results go to health_check_result(). One probe per server, on the server's checker
 * worker only. Worker thread only. A group with `tls` is checked over TLS with the group's
 * context (verification included: a certificate that does not verify fails the check), the
 * probe keeping its own session for the next check. */
#ifndef WEIR_RESILIENCE_PROBE_H
#define WEIR_RESILIENCE_PROBE_H

#include <stdint.h>

#include "core/log.h"
#include "event/loop.h"
#include "resilience/health.h"
#include "tls/tls_client.h"

struct health_probe {
    struct ev_io io;             /* first: events carry a pointer to it */
    struct timer timer;
    struct ev_loop *loop;
    struct server_state *st;
    const struct cfg_upstream *group;
    const struct cfg_server *server;
    const struct tls_client *tc; /* the group's TLS context, or NULL */
    struct tls_conn *tls;        /* the check's TLS connection while it runs */
    void *tls_session;           /* the server's last session (tls_client.h) */
    int phase;                   /* enum in probe.c */
    struct log_limit local_log;  /* checks skipped for lack of a local resource */
    uint32_t req_len, sent, len;
    char req[768];
    char buf[4096];
};

/* Sets p up and schedules its first check after `first_delay_ms` (spread checks out). */
void probe_start(struct health_probe *p, struct ev_loop *loop, struct server_state *st,
                 const struct cfg_upstream *g, const struct cfg_server *srv,
                 const struct tls_client *tc, uint32_t first_delay_ms);
/* Cancels any check in progress and stops scheduling. p may then be freed after the current
 * event batch (its io.fd is -1). */
void probe_stop(struct health_probe *p);

#endif

/* client_tls.c — see client_tls.h. */
#include "proxy/client_tls.h"

#include <stdio.h>
#include <sys/socket.h>

#include "core/log.h"
#include "h2/h2_conn.h"
#include "pipeline/arena.h"
#include "proxy/client.h"
#include "tls/tls_conn.h"
#include "tls/tls_gen.h"

static const struct cfg_tls_server *listener_tls(const struct client *c)
{
    if (c->h2_stream) /* an HTTP/2 stream's lane: its connection's listener */
        return c->h2_listener < c->wc->cfg->nlisteners ? c->wc->cfg->listeners[c->h2_listener].tls
                                                       : NULL;
    if (c->listener == CLIENT_LISTENER_INTERNAL)
        return NULL; /* weir's own connection to itself (an internal fetch): plain */
    return c->wc->cfg->listeners[c->listener].tls;
}

void client_tls_subject_header(struct client *c)
{
    const struct config *cfg = c->wc->cfg;
    if (__builtin_expect(cfg->tls_rt != NULL, 0)) {
        const struct cfg_tls_server *own = listener_tls(c);
        for (uint32_t i = 0; !c->subject_header && i < cfg->nlisteners; i++) {
            const struct cfg_tls_server *t = own && own->verify ? own : cfg->listeners[i].tls;
            if (t && t->verify != CFG_TLS_VERIFY_OFF)
                c->subject_header = t->subject_header;
        }
    }
}

uint32_t client_tls_accept(struct client *c, int fd)
{
    const struct config *cfg = c->wc->cfg;
    client_tls_subject_header(c);
    struct tls_server *ts =
        c->listener == CLIENT_LISTENER_INTERNAL ? NULL : tls_gen_listener(cfg, c->listener);
    if (!ts)
        return cfg->timeouts.client_header_ms;
    c->tls = tls_conn_new(tls_server_ctx(ts), fd, true);
    return c->tls ? cfg->listeners[c->listener].tls->handshake_timeout_ms : 0;
}

static int handshake(struct client *c)
{
    int r = tls_conn_handshake(c->tls);
    if (r >= 0)
        return r;
    tls_stats_add(&tls_stats.failed[c->tls->fail]);
    log_debug("TLS handshake with %s failed (%s): %s", c->ip, tls_stats_fail_name(c->tls->fail),
              c->tls->why);
    if (c->tls->fail != TLS_FAIL_PLAIN_HTTP)
        return -1;
    /* Like nginx: a plain request to a TLS port gets a plain answer saying so. */
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\n"
                               "Content-Type: text/plain\r\n"
                               "Content-Length: 47\r\n"
                               "Connection: close\r\n\r\n"
                               "400 Bad Request: this port speaks HTTPS (TLS)\r\n";
    tls_conn_free(c->tls);
    c->tls = NULL;
    if (send(c->io.fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(resp) - 1))
        return -1;
    return -2;
}

int client_tls_event(struct client *c, uint32_t events)
{
    tls_conn_events(c->tls, events, &c->readable, &c->writable);
    if (c->tls->established)
        return 1;
    int r = handshake(c);
    if (r == 1 && tls_conn_is_h2(c->tls))
        return h2_conn_start(c, NULL, 0) == 0 ? 1 : -1; /* ALPN h2: the connection is HTTP/2 */
    if (r == 1) {
        struct worker *w = c->w;
        timer_arm(&w->loop.timers, &c->timer, w->loop.now_ms + c->wc->cfg->timeouts.client_header_ms);
        c->readable = true; /* the request may have come with the handshake */
    }
    return r;
}

void client_tls_timeout(struct client *c)
{
    tls_stats_add(&tls_stats.failed[TLS_FAIL_TIMEOUT]);
    log_debug("TLS handshake with %s failed (timeout)", c->ip);
}

void client_tls_redirect(struct client *c, struct str host, struct str path)
{
    uint16_t port = c->wc->cfg->listeners[c->listener].redirect_https;
    if (!host.len) {
        client_reply(c, 400, "a Host is needed to redirect to HTTPS", true);
        return;
    }
    size_t cap = host.len + path.len + 64;
    char *loc = arena_alloc(&c->x->base.arena, cap);
    if (!loc) {
        client_reply(c, 503, "out of memory", true);
        return;
    }
    char portbuf[8] = "";
    if (port != 443)
        snprintf(portbuf, sizeof(portbuf), ":%u", port);
    bool v6 = host.ptr[0] != '[' && memchr(host.ptr, ':', host.len) != NULL;
    snprintf(loc, cap, "Location: https://%s%.*s%s%s%.*s\r\n", v6 ? "[" : "", (int)host.len,
             host.ptr, v6 ? "]" : "", portbuf, (int)path.len, path.ptr);
    client_reply_ex(c, 308, "this site is served over HTTPS", false, loc);
}

int client_tls_fields(struct client *c, struct response *r)
{
    const struct cfg_tls_server *t = listener_tls(c);
    if (!t || !t->hsts)
        return 0;
    return response_set(r, &c->x->base.arena, STR_LIT("Strict-Transport-Security"),
                        str_cstr(t->hsts));
}

void client_tls_subject(const struct client *c, char *buf, size_t len)
{
    if (c->h2_stream) { /* its HTTP/2 connection's, copied when the lane was made */
        snprintf(buf, len, "%s", c->h2_origin ? c->h2_origin->subject : "");
        return;
    }
    const struct cfg_tls_server *t = listener_tls(c);
    if (!c->tls || !t || t->verify == CFG_TLS_VERIFY_OFF) {
        buf[0] = '\0';
        return;
    }
    tls_server_peer_subject(c->tls->ssl, buf, len);
}

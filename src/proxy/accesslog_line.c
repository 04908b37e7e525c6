/* accesslog_line.c — see accesslog_line.h. Keys: ts, client (the address trusted_proxies
 * resolved, else the socket's peer), peer (the socket's peer, only when it differs), method,
 * path, protocol, status, bytes_in, bytes_out, upstream, upstream_ms, cache (when a cache
 * ran), total_ms, request_id, and on TLS
 * connections only tls: {protocol, cipher, sni} (documented in docs/operations.md). */
#include "proxy/accesslog_line.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/config_types.h"
#include "event/loop.h"
#include "security/mask.h"
#include "tls/tls_conn.h"

void accesslog_line_write(struct client *c)
{
    if (!accesslog_enabled())
        return;
    const struct exchange_log *l = &c->x->log;
    /* Worst case: escaped fields (6x) plus fixed text. */
    size_t need = 6 * (sizeof(l->method) + sizeof(l->path) + sizeof(c->x->request_id)) + 512 +
                  (client_is_tls(c) ? 6 * 256 + 128 : 0);
    char *p = accesslog_reserve(&c->w->alog, need);
    if (!p)
        return;
    uint64_t now = c->x->t_end_us;
    double total_ms = (double)(now - l->t_start_us) / 1000.0;
    char ts[64];
    log_timestamp(ts);
    char *o = p;
    if (l->client[0]) /* resolved from X-Forwarded-For / Forwarded by trusted_proxies */
        o += sprintf(o, "{\"ts\":\"%s\",\"client\":\"%s\",\"peer\":\"%s\",\"method\":\"", ts,
                     l->client, c->ip);
    else
        o += sprintf(o, "{\"ts\":\"%s\",\"client\":\"%s\",\"method\":\"", ts, c->ip);
    o += accesslog_json_escape(o, l->method, strlen(l->method));
    o += sprintf(o, "\",\"path\":\"");
    const struct cfg_log *lc = &c->wc->cfg->log;
    if (lc->mask) { /* secrets in the query and the built-in kinds (security/mask.h) */
        char path[sizeof(l->path)];
        size_t pn = strlen(l->path);
        memcpy(path, l->path, pn);
        pn = mask_target(path, pn, lc->mask_query, lc->nmask_query);
        o += accesslog_json_escape(o, path, pn);
    } else {
        o += accesslog_json_escape(o, l->path, strlen(l->path));
    }
    o += sprintf(o, "\",\"protocol\":\"%s", c->h2_stream ? "HTTP/2.0"
                                            : c->x->req.minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
    o += sprintf(o, "\",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"upstream\":", l->status,
                 (unsigned long long)l->bytes_in, (unsigned long long)l->bytes_out);
    if (l->upstream)
        o += sprintf(o, "\"%s\",\"upstream_ms\":%.3f", l->upstream,
                     l->t_upstream_us ? (double)(now - l->t_upstream_us) / 1000.0 : 0.0);
    else
        o += sprintf(o, "null,\"upstream_ms\":null");
    if (c->x->base.log_cache)
        o += sprintf(o, ",\"cache\":\"%s\"", c->x->base.log_cache);
    o += sprintf(o, ",\"total_ms\":%.3f,\"request_id\":\"", total_ms);
    o += accesslog_json_escape(o, c->x->request_id, strlen(c->x->request_id));
    if ((c->tls && !c->tls->vt) || c->h2_origin) { /* HTTP/2: its connection's, copied */
        const struct h2_origin *h = c->h2_origin;
        const char *sni = h ? h->sni : tls_conn_sni(c->tls);
        size_t sn = strnlen(sni, 255);
        o += sprintf(o, "\",\"tls\":{\"protocol\":\"%.16s\",\"cipher\":\"%.64s\",\"sni\":\"",
                     h ? h->protocol : tls_conn_protocol(c->tls),
                     h ? h->cipher : tls_conn_cipher(c->tls));
        o += accesslog_json_escape(o, sni, sn);
        o += sprintf(o, "\"}}\n");
    } else {
        o += sprintf(o, "\"}\n");
    }
    accesslog_commit(&c->w->alog, (size_t)(o - p));
}

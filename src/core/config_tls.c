/* config_tls.c — see config_tls.h and docs/config.md, "TLS". */
#include "core/config_tls.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Mozilla's "intermediate" configuration (server side, version 5.7). */
#define TLS_DEFAULT_CIPHERS                                                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                              \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                              \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_DEFAULT_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_DEFAULT_GROUPS "X25519:prime256v1:secp384r1"
#define MAX_CERTS 64

/* A file named in the config, made absolute against the config file's directory, and checked
 * readable now so that a typo fails the load at its position. */
static int load_path(struct ycx *cx, const struct ynode *n, const char *what, char **out)
{
    if (yscalar(cx, n, what) != 0)
        return -1;
    const char *slash = n->str[0] == '/' ? NULL : strrchr(cx->name, '/');
    char *path;
    if (slash) {
        int dlen = (int)(slash - cx->name);
        size_t len = (size_t)dlen + strlen(n->str) + 2;
        if (!(path = malloc(len)))
            return yerr(cx, n, "out of memory");
        snprintf(path, len, "%.*s/%s", dlen, cx->name, n->str);
    } else if (!(path = strdup(n->str))) {
        return yerr(cx, n, "out of memory");
    }
    if (access(path, R_OK) != 0) {
        int e = errno;
        free(path);
        return yerr(cx, n, "cannot read %s '%.200s': %s", what, n->str, strerror(e));
    }
    free(*out);
    *out = path;
    return 0;
}

static int opt_path(struct ycx *cx, const struct ynode *map, const char *key, const char *what,
                    char **out)
{
    const struct ynode *v = ymap_get(map, key);
    return v ? load_path(cx, v, what, out) : 0;
}

static int opt_dup(struct ycx *cx, const struct ynode *map, const char *key, char **out)
{
    const struct ynode *v = NULL;
    if (yopt_str(cx, map, key, &v) != 0)
        return -1;
    if (!v)
        return 0;
    free(*out);
    *out = NULL;
    return ystrdup(cx, v, v->str, out);
}

static int load_cert(struct ycx *cx, const struct ynode *v, const char *where,
                     struct cfg_tls_cert *c)
{
    static const char *const keys[] = {"cert", "key", "ocsp", NULL};
    const struct ynode *cert;
    if (ymap_check(cx, v, where, keys) != 0 || !(cert = ymap_need(cx, v, where, "cert")) ||
        load_path(cx, cert, "certificate file", &c->cert) != 0 ||
        opt_path(cx, v, "ocsp", "OCSP response file", &c->ocsp) != 0)
        return -1;
    const struct ynode *key = ymap_get(v, "key");
    if (key)
        return load_path(cx, key, "key file", &c->key);
    return ystrdup(cx, cert, c->cert, &c->key);
}

static int load_protocols(struct ycx *cx, const struct ynode *v, uint32_t *out)
{
    if (yexpect(cx, v, YNODE_SEQ, "protocols") != 0)
        return -1;
    *out = 0;
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *p = v->items[i];
        if (yscalar(cx, p, "a protocol") != 0)
            return -1;
        if (strcmp(p->str, "TLSv1.2") == 0)
            *out |= CFG_TLS_V12;
        else if (strcmp(p->str, "TLSv1.3") == 0)
            *out |= CFG_TLS_V13;
        else
            return yerr(cx, p, "unsupported protocol '%.32s' (use TLSv1.2 and/or TLSv1.3)",
                        p->str);
    }
    if (!*out)
        return yerr(cx, v, "'protocols' must list TLSv1.2 and/or TLSv1.3");
    return 0;
}

/* ALPN: http/1.1 only for now; h2 is reserved for the HTTP/2 issue. */
static int load_alpn(struct ycx *cx, const struct ynode *v)
{
    if (yexpect(cx, v, YNODE_SEQ, "alpn") != 0)
        return -1;
    for (uint32_t i = 0; i < v->nitems; i++) {
        const struct ynode *p = v->items[i];
        if (yscalar(cx, p, "a protocol") != 0)
            return -1;
        if (strcmp(p->str, "h2") == 0)
            return yerr(cx, p, "ALPN 'h2' is not available yet (HTTP/2 is a later issue)");
        if (strcmp(p->str, "http/1.1") != 0)
            return yerr(cx, p, "unsupported ALPN protocol '%.32s' (use http/1.1)", p->str);
    }
    return 0;
}

static int load_client_auth(struct ycx *cx, const struct ynode *v, const char *where,
                            struct cfg_tls_server *t)
{
    static const char *const keys[] = {"verify", "ca", "subject_header", NULL};
    char w[128];
    snprintf(w, sizeof(w), "%.100s.client_auth", where);
    const struct ynode *verify = NULL, *ca;
    if (ymap_check(cx, v, w, keys) != 0 || yopt_str(cx, v, "verify", &verify) != 0 ||
        !(ca = ymap_need(cx, v, w, "ca")) || load_path(cx, ca, "CA file", &t->client_ca) != 0 ||
        opt_dup(cx, v, "subject_header", &t->subject_header) != 0)
        return -1;
    t->verify = CFG_TLS_VERIFY_REQUIRED;
    if (verify && strcmp(verify->str, "optional") == 0)
        t->verify = CFG_TLS_VERIFY_OPTIONAL;
    else if (verify && strcmp(verify->str, "required") != 0)
        return yerr(cx, verify, "'verify' must be required or optional, got '%.32s'",
                    verify->str);
    if (!config_is_token(t->subject_header))
        return yerr(cx, v, "'subject_header' must be a header name");
    return 0;
}

static int load_server(struct ycx *cx, const struct ynode *v, const char *where,
                       struct cfg_tls_server *t)
{
    static const char *const keys[] = {
        "certificates",   "protocols",       "ciphers",       "ciphersuites",
        "groups",         "alpn",            "handshake_timeout", "session_tickets",
        "ticket_rotate",  "session_cache",   "session_timeout", "client_auth",
        "hsts",           "ktls",            NULL};
    char w[96];
    snprintf(w, sizeof(w), "%.80s.tls", where);
    const struct ynode *certs, *n;
    *t = (struct cfg_tls_server){.protocols = CFG_TLS_V12 | CFG_TLS_V13,
                                 .handshake_timeout_ms = 10000,
                                 .tickets = true,
                                 .ticket_rotate_ms = 3600000,
                                 .session_cache = 20480,
                                 .session_timeout_ms = 3600000};
    if (!(t->ciphers = strdup(TLS_DEFAULT_CIPHERS)) ||
        !(t->ciphersuites = strdup(TLS_DEFAULT_SUITES)) ||
        !(t->groups = strdup(TLS_DEFAULT_GROUPS)) ||
        !(t->subject_header = strdup("X-Client-Subject")))
        return yerr(cx, v, "out of memory");
    if (ymap_check(cx, v, w, keys) != 0 || !(certs = ymap_need(cx, v, w, "certificates")) ||
        yexpect(cx, certs, YNODE_SEQ, "certificates") != 0)
        return -1;
    if (certs->nitems == 0 || certs->nitems > MAX_CERTS)
        return yerr(cx, certs, "'certificates' must list 1 to %d certificates", MAX_CERTS);
    if (!(t->certs = calloc(certs->nitems, sizeof(*t->certs))))
        return yerr(cx, certs, "out of memory");
    for (uint32_t i = 0; i < certs->nitems; i++) {
        char cw[136];
        snprintf(cw, sizeof(cw), "%.96s.certificates[%" PRIu32 "]", w, i);
        t->ncerts = i + 1;
        if (yexpect(cx, certs->items[i], YNODE_MAP, cw) != 0 ||
            load_cert(cx, certs->items[i], cw, &t->certs[i]) != 0)
            return -1;
    }
    if ((n = ymap_get(v, "protocols")) && load_protocols(cx, n, &t->protocols) != 0)
        return -1;
    if ((n = ymap_get(v, "alpn")) && load_alpn(cx, n) != 0)
        return -1;
    if (opt_dup(cx, v, "ciphers", &t->ciphers) != 0 ||
        opt_dup(cx, v, "ciphersuites", &t->ciphersuites) != 0 ||
        opt_dup(cx, v, "groups", &t->groups) != 0 || opt_dup(cx, v, "hsts", &t->hsts) != 0 ||
        yopt_ms(cx, v, "handshake_timeout", &t->handshake_timeout_ms) != 0 ||
        yopt_bool(cx, v, "session_tickets", &t->tickets) != 0 ||
        yopt_bool(cx, v, "ktls", &t->ktls) != 0 ||
        yopt_ms(cx, v, "ticket_rotate", &t->ticket_rotate_ms) != 0 ||
        yopt_u32(cx, v, "session_cache", 0, 10000000, &t->session_cache) != 0 ||
        yopt_ms(cx, v, "session_timeout", &t->session_timeout_ms) != 0)
        return -1;
    if (t->hsts)
        for (const char *p = t->hsts; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                return yerr(cx, ymap_get(v, "hsts"), "'hsts' must be printable ASCII");
    if ((n = ymap_get(v, "client_auth")) && load_client_auth(cx, n, w, t) != 0)
        return -1;
    return 0;
}

int config_load_listener_tls(struct ycx *cx, const struct ynode *item, const char *where,
                             struct cfg_listener *l)
{
    const struct ynode *v = ymap_get(item, "tls");
    if (v) {
        if (yexpect(cx, v, YNODE_MAP, "tls") != 0)
            return -1;
        if (!(l->tls = calloc(1, sizeof(*l->tls))))
            return yerr(cx, v, "out of memory");
        if (load_server(cx, v, where, l->tls) != 0)
            return -1;
    }
    const struct ynode *r = ymap_get(item, "redirect_https");
    if (!r)
        return 0;
    if (l->tls)
        return yerr(cx, r, "'redirect_https' is for plain listeners, this one has 'tls'");
    if (r->kind == YNODE_SCALAR && strcmp(r->str, "true") == 0) {
        l->redirect_https = 443;
        return 0;
    }
    uint32_t port = 0;
    if (yopt_u32(cx, item, "redirect_https", 1, 65535, &port) != 0)
        return -1;
    l->redirect_https = (uint16_t)port;
    return 0;
}

int config_load_client_tls(struct ycx *cx, const struct ynode *parent, const char *where,
                           struct cfg_tls_upstream **out)
{
    static const char *const keys[] = {"verify", "ca",      "sni",           "client_cert",
                                       "client_key", "ciphers", "session_reuse", NULL};
    const struct ynode *v = ymap_get(parent, "tls");
    if (!v)
        return 0;
    char w[112];
    snprintf(w, sizeof(w), "%.96s.tls", where);
    enum ysection_form form;
    if (ysection_form(cx, v, w, true, &form) != 0)
        return -1;
    if (form == YSECTION_OFF)
        return 0;
    struct cfg_tls_upstream *t = calloc(1, sizeof(*t));
    if (!t)
        return yerr(cx, v, "out of memory");
    *t = (struct cfg_tls_upstream){.verify = true, .session_reuse = true};
    *out = t;
    if (form == YSECTION_ON)
        return 0;
    if (ymap_check(cx, v, w, keys) != 0 || yopt_bool(cx, v, "verify", &t->verify) != 0 ||
        yopt_bool(cx, v, "session_reuse", &t->session_reuse) != 0 ||
        opt_path(cx, v, "ca", "CA file", &t->ca) != 0 ||
        opt_path(cx, v, "client_cert", "certificate file", &t->client_cert) != 0 ||
        opt_path(cx, v, "client_key", "key file", &t->client_key) != 0 ||
        opt_dup(cx, v, "sni", &t->sni) != 0 || opt_dup(cx, v, "ciphers", &t->ciphers) != 0)
        return -1;
    if (t->client_key && !t->client_cert)
        return yerr(cx, ymap_get(v, "client_key"), "'client_key' needs 'client_cert'");
    if (t->client_cert && !t->client_key && !(t->client_key = strdup(t->client_cert)))
        return yerr(cx, v, "out of memory");
    return 0;
}

int config_load_upstream_tls(struct ycx *cx, const struct ynode *group, const char *where,
                             struct cfg_upstream *u)
{
    return config_load_client_tls(cx, group, where, &u->tls);
}

void config_tls_server_free(struct cfg_tls_server *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->ncerts; i++) {
        free(t->certs[i].cert);
        free(t->certs[i].key);
        free(t->certs[i].ocsp);
    }
    free(t->certs);
    free(t->ciphers);
    free(t->ciphersuites);
    free(t->groups);
    free(t->client_ca);
    free(t->subject_header);
    free(t->hsts);
    free(t);
}

void config_tls_upstream_free(struct cfg_tls_upstream *t)
{
    if (!t)
        return;
    free(t->ca);
    free(t->sni);
    free(t->client_cert);
    free(t->client_key);
    free(t->ciphers);
    free(t);
}

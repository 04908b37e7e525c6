/* tls_server.c — see tls_server.h. */
#include "tls/tls_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/tls_conn.h"
#include "tls/tls_sni.h"
#include "tls/tls_ticket.h"

#define MAX_SNI_MATCHES 8
#define MAX_OCSP_BYTES (1u << 20)

struct tls_cert_entry {
    X509 *leaf;
    STACK_OF(X509) *chain;
    EVP_PKEY *key;
    unsigned char *ocsp;          /* DER response, or NULL */
    long ocsp_len;
};

struct tls_server {
    SSL_CTX *ctx;
    struct tls_cert_entry *certs;
    uint32_t ncerts;
    struct tls_sni_table sni;
    bool h2;                      /* the listener offers HTTP/2 (ALPN h2) */
};

/* The first error of OpenSSL's queue as text (the queue is emptied). */
static const char *ossl_err(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, len, "%s", r ? r : "unknown error");
    ERR_clear_error();
    return buf;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return -1;
}

static void entry_free(struct tls_cert_entry *e)
{
    X509_free(e->leaf);
    sk_X509_pop_free(e->chain, X509_free);
    EVP_PKEY_free(e->key);
    free(e->ocsp);
}

static int read_ocsp(const char *path, struct tls_cert_entry *e, char *err, size_t errlen,
                     const char *where)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "%s: cannot open OCSP response '%s'", where, path);
    e->ocsp = malloc(MAX_OCSP_BYTES);
    size_t n = e->ocsp ? fread(e->ocsp, 1, MAX_OCSP_BYTES, f) : 0;
    fclose(f);
    const unsigned char *p = e->ocsp;
    OCSP_RESPONSE *resp = n ? d2i_OCSP_RESPONSE(NULL, &p, (long)n) : NULL;
    if (!resp)
        return fail(err, errlen, "%s: OCSP response '%s' is not a DER OCSP response", where,
                    path);
    OCSP_RESPONSE_free(resp);
    e->ocsp_len = (long)n;
    return 0;
}

/* Reads one certificate (leaf + chain) and its key; checks they belong together. */
static int load_entry(const struct cfg_tls_cert *c, struct tls_cert_entry *e, char *err,
                      size_t errlen, const char *where)
{
    char ebuf[128];
    BIO *b = BIO_new_file(c->cert, "r");
    if (!b)
        return fail(err, errlen, "%s: cannot open certificate '%s'", where, c->cert);
    e->leaf = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
    if (!e->leaf) {
        BIO_free(b);
        return fail(err, errlen, "%s: certificate '%s': no PEM certificate found", where,
                    c->cert);
    }
    e->chain = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        sk_X509_push(e->chain, x);
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(b);
    b = BIO_new_file(c->key, "r");
    if (!b)
        return fail(err, errlen, "%s: cannot open key '%s'", where, c->key);
    e->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!e->key)
        return fail(err, errlen, "%s: key '%s': %s", where, c->key, ossl_err(ebuf, sizeof(ebuf)));
    if (X509_check_private_key(e->leaf, e->key) != 1)
        return fail(err, errlen, "%s: key '%s' does not match certificate '%s'", where, c->key,
                    c->cert);
    if (c->ocsp && read_ocsp(c->ocsp, e, err, errlen, where) != 0)
        return -1;
    return 0;
}

/* The names a certificate covers: its DNS subjectAltNames, else its subject CN. */
static int add_names(struct tls_server *s, uint32_t idx)
{
    X509 *x = s->certs[idx].leaf;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int added = 0, rc = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_DNS)
            continue;
        const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        if (len > 0 && tls_sni_add(&s->sni, (const char *)p, (size_t)len, idx) != 0)
            rc = -1;
        added++;
    }
    GENERAL_NAMES_free(names);
    if (!added) {
        char cn[256];
        int len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                            sizeof(cn));
        if (len > 0 && tls_sni_add(&s->sni, cn, (size_t)len, idx) != 0)
            rc = -1;
    }
    return rc;
}

/* Picks the certificates for the name the client asked for; the context's (the first one
 * listed) stay for no name or an unknown one. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    struct tls_server *s = arg;
    const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!host || s->ncerts == 1)
        return SSL_TLSEXT_ERR_OK;
    uint32_t idx[MAX_SNI_MATCHES];
    uint32_t n = tls_sni_lookup(&s->sni, host, strlen(host), idx, MAX_SNI_MATCHES);
    if (!n || (n == 1 && idx[0] == 0))
        return SSL_TLSEXT_ERR_OK;
    SSL_certs_clear(ssl);
    for (uint32_t i = 0; i < n; i++) {
        struct tls_cert_entry *e = &s->certs[idx[i]];
        if (SSL_use_cert_and_key(ssl, e->leaf, e->key, e->chain, 1) != 1) {
            ERR_clear_error();
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Staples the OCSP response of the certificate the handshake uses, when there is one. */
static int on_status(SSL *ssl, void *arg)
{
    struct tls_server *s = arg;
    X509 *x = SSL_get_certificate(ssl);
    for (uint32_t i = 0; i < s->ncerts; i++) {
        struct tls_cert_entry *e = &s->certs[i];
        if (e->leaf != x && (!x || X509_cmp(e->leaf, x) != 0))
            continue;
        if (!e->ocsp)
            return SSL_TLSEXT_ERR_NOACK;
        unsigned char *copy = OPENSSL_malloc((size_t)e->ocsp_len);
        if (!copy)
            return SSL_TLSEXT_ERR_NOACK;
        memcpy(copy, e->ocsp, (size_t)e->ocsp_len);
        SSL_set_tlsext_status_ocsp_resp(ssl, copy, e->ocsp_len);
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* ALPN: h2 first when the listener has `http2: true` and the client offers it, then
 * http/1.1; otherwise no ALPN at all (the client speaks HTTP/1.1 or gives up, its choice). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const struct tls_server *s = arg;
    static const unsigned char both[] = TLS_ALPN_H2 TLS_ALPN_HTTP11;
    const unsigned char *ours = s->h2 ? both : (const unsigned char *)TLS_ALPN_HTTP11;
    unsigned ourlen = s->h2 ? sizeof(both) - 1 : sizeof(TLS_ALPN_HTTP11) - 1;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, ourlen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int setup_ctx(struct tls_server *s, const struct cfg_tls_server *t, uint32_t idx,
                     char *err, size_t errlen, const char *where)
{
    char ebuf[128];
    SSL_CTX *ctx = s->ctx;
    SSL_CTX_set_min_proto_version(ctx, (t->protocols & CFG_TLS_V12) ? TLS1_2_VERSION
                                                                     : TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, (t->protocols & CFG_TLS_V13) ? TLS1_3_VERSION
                                                                     : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 (t->ktls ? SSL_OP_ENABLE_KTLS : 0) |
                                 (t->tickets ? 0 : SSL_OP_NO_TICKET));
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if ((t->protocols & CFG_TLS_V12) && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
        return fail(err, errlen, "%s: ciphers '%s': %s", where, t->ciphers,
                    ossl_err(ebuf, sizeof(ebuf)));
    if (SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1)
        return fail(err, errlen, "%s: ciphersuites '%s': %s", where, t->ciphersuites,
                    ossl_err(ebuf, sizeof(ebuf)));
    if (SSL_CTX_set1_groups_list(ctx, t->groups) != 1)
        return fail(err, errlen, "%s: groups '%s': %s", where, t->groups,
                    ossl_err(ebuf, sizeof(ebuf)));
    SSL_CTX_set_dh_auto(ctx, 1);
    /* The first certificate is the context's: the default for no or an unknown SNI. */
    struct tls_cert_entry *e = &s->certs[0];
    if (SSL_CTX_use_cert_and_key(ctx, e->leaf, e->key, e->chain, 1) != 1)
        return fail(err, errlen, "%s: certificate '%s': %s", where, t->certs[0].cert,
                    ossl_err(ebuf, sizeof(ebuf)));
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, s);
    SSL_CTX_set_tlsext_status_cb(ctx, on_status);
    SSL_CTX_set_tlsext_status_arg(ctx, s);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, s);
    /* Sessions: a server-side cache and/or tickets; the id context ties sessions to this
     * listener (required with client certificates). */
    char sid[32];
    int sidlen = snprintf(sid, sizeof(sid), "weir-listen-%u", idx);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid, (unsigned)sidlen);
    if (t->session_cache) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, t->session_cache);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    SSL_CTX_set_timeout(ctx, (long)(t->session_timeout_ms / 1000 ? t->session_timeout_ms / 1000 : 1));
    if (t->tickets)
        tls_ticket_install(ctx, t->ticket_rotate_ms);
    if (t->verify != CFG_TLS_VERIFY_OFF) {
        if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1)
            return fail(err, errlen, "%s: client_auth CA '%s': %s", where, t->client_ca,
                        ossl_err(ebuf, sizeof(ebuf)));
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);
        if (!names)
            return fail(err, errlen, "%s: client_auth CA '%s': no certificate found", where,
                        t->client_ca);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER | (t->verify == CFG_TLS_VERIFY_REQUIRED
                                                  ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                  : 0),
                           NULL);
        SSL_CTX_set_verify_depth(ctx, 8);
    }
    return 0;
}

struct tls_server *tls_server_new(const struct config *cfg, uint32_t idx, char *err,
                                  size_t errlen)
{
    const struct cfg_tls_server *t = cfg->listeners[idx].tls;
    char where[96];
    snprintf(where, sizeof(where), "%s: listen[%u] (%s) tls", cfg->source, idx,
             cfg->listeners[idx].addr.text);
    struct tls_server *s = calloc(1, sizeof(*s));
    if (s)
        s->h2 = cfg->listeners[idx].http2;
    if (!s || !(s->certs = calloc(t->ncerts, sizeof(*s->certs)))) {
        free(s);
        fail(err, errlen, "%s: out of memory", where);
        return NULL;
    }
    for (uint32_t i = 0; i < t->ncerts; i++) {
        s->ncerts = i + 1;
        if (load_entry(&t->certs[i], &s->certs[i], err, errlen, where) != 0 ||
            add_names(s, i) != 0)
            goto bad;
    }
    if (!(s->ctx = SSL_CTX_new(TLS_server_method()))) {
        fail(err, errlen, "%s: cannot create a TLS context", where);
        goto bad;
    }
    if (setup_ctx(s, t, idx, err, errlen, where) == 0)
        return s;
bad:
    tls_server_free(s);
    return NULL;
}

void tls_server_free(struct tls_server *s)
{
    if (!s)
        return;
    SSL_CTX_free(s->ctx);
    for (uint32_t i = 0; i < s->ncerts; i++)
        entry_free(&s->certs[i]);
    free(s->certs);
    tls_sni_free(&s->sni);
    free(s);
}

SSL_CTX *tls_server_ctx(const struct tls_server *s)
{
    return s->ctx;
}

void tls_server_peer_subject(SSL *ssl, char *buf, size_t len)
{
    buf[0] = '\0';
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (!peer || SSL_get_verify_result(ssl) != X509_V_OK)
        return;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    int n = BIO_read(b, buf, (int)len - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
    /* A header value: no control characters. */
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

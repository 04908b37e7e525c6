/* tls_conn.c — see tls_conn.h. */
#include "tls/tls_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

/* One record's worth: what a write coalesces from several buffers, or reads from a file. */
#define TLS_CHUNK 16384

static __thread unsigned char scratch[TLS_CHUNK];

/* After each read(2) of the socket BIO: was the socket drained? */
static long rbio_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
                    int ret, size_t *processed)
{
    (void)argp;
    (void)argi;
    (void)argl;
    if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
        struct tls_conn *t = (struct tls_conn *)(void *)BIO_get_callback_arg(b);
        t->drained = ret <= 0 || (processed && *processed < len);
    }
    return ret;
}

struct tls_conn *tls_conn_new(SSL_CTX *ctx, int fd, bool server)
{
    struct tls_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    SSL_set_app_data(t->ssl, t);
    SSL_set_read_ahead(t->ssl, 1);
    BIO *rbio = SSL_get_rbio(t->ssl);
    BIO_set_callback_arg(rbio, (char *)t);
    BIO_set_callback_ex(rbio, rbio_cb);
    if (server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    return t;
}

struct tls_conn *tls_conn_virtual(const struct tls_vt *vt, void *arg)
{
    struct tls_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->vt = vt;
    t->vt_arg = arg;
    t->established = true;
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (!t)
        return;
    if (t->vt) {
        t->vt->close(t->vt_arg);
        free(t);
        return;
    }
    /* OpenSSL drops a session from the cache when its connection ends without close_notify
     * sent; HTTP clients routinely just close, so only a broken connection loses it. */
    if (t->established && !t->broken)
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl);
    free(t);
}

/* Why a handshake failed, from OpenSSL's error queue (then emptied). */
static void classify(struct tls_conn *t, int err)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);
    long vr = SSL_get_verify_result(t->ssl);
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN || !e) {
        t->fail = TLS_FAIL_CLOSED;
        snprintf(t->why, sizeof(t->why), "the peer closed the connection during the handshake");
    } else if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST) {
        t->fail = TLS_FAIL_PLAIN_HTTP;
        snprintf(t->why, sizeof(t->why), "plain HTTP sent to a TLS port");
    } else if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_WRONG_VERSION_NUMBER ||
               reason == SSL_R_VERSION_TOO_LOW || reason == SSL_R_UNKNOWN_PROTOCOL) {
        t->fail = TLS_FAIL_PROTOCOL;
    } else if (reason == SSL_R_NO_SHARED_CIPHER || reason == SSL_R_NO_SHARED_GROUPS ||
               reason == SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM ||
               reason == SSL_R_NO_CIPHERS_AVAILABLE) {
        t->fail = TLS_FAIL_NO_SHARED_CIPHER;
    } else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
               reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        t->fail = TLS_FAIL_CLIENT_CERT;
    } else if (reason >= SSL_AD_REASON_OFFSET) {
        t->fail = TLS_FAIL_ALERT;
    } else {
        t->fail = TLS_FAIL_OTHER;
    }
    if (t->fail != TLS_FAIL_CLOSED && t->fail != TLS_FAIL_PLAIN_HTTP) {
        const char *r = ERR_reason_error_string(e);
        if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && vr != X509_V_OK)
            snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
                     X509_verify_cert_error_string(vr));
        else
            snprintf(t->why, sizeof(t->why), "%s", r ? r : "TLS error");
    }
    ERR_clear_error();
}

int tls_conn_handshake(struct tls_conn *t)
{
    if (t->established)
        return 1;
    t->rd_wants_write = t->wr_wants_read = false;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->established = true;
        if (SSL_is_server(t->ssl))
            tls_stats_handshake(SSL_version(t->ssl), SSL_get_cipher_name(t->ssl),
                                SSL_session_reused(t->ssl));
        t->ktls_tx = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) > 0;
        if (t->ktls_tx)
            tls_stats_add(&tls_stats.ktls_tx);
        return 1;
    }
    int err = SSL_get_error(t->ssl, r);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    if (err == SSL_ERROR_WANT_WRITE) {
        t->rd_wants_write = true; /* the handshake is driven by reads */
        return 0;
    }
    classify(t, err);
    return -1;
}

/* After a failed call: EAGAIN with the wants flag, or a hard error. */
static ssize_t io_error(struct tls_conn *t, int r, bool reading)
{
    int err = SSL_get_error(t->ssl, r);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (!reading)
            t->wr_wants_read = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            t->rd_wants_write = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    default: {
        /* Kept for a caller that logs it (the Redis tunnel): an alert's name says more than
         * the errno below. */
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        if (why)
            snprintf(t->why, sizeof(t->why), "%s", why);
        ERR_clear_error();
        t->broken = true;
        errno = reading ? ECONNRESET : EPIPE;
        return -1;
    }
    }
}

ssize_t tls_conn_recv(struct tls_conn *t, void *buf, size_t len)
{
    if (t->vt)
        return t->vt->recv(t->vt_arg, buf, len);
    size_t total = 0;
    t->rd_wants_write = false;
    while (total < len) {
        size_t n = 0;
        t->drained = false; /* unknown until the socket is read */
        int r = SSL_read_ex(t->ssl, (char *)buf + total, len - total, &n);
        if (r == 1) {
            total += n;
            if (t->drained && !SSL_has_pending(t->ssl))
                return (ssize_t)total; /* a short read(2): nothing more in the socket */
            continue;
        }
        if (total) {
            /* The condition comes back on the next call; what was read goes first. */
            int err = SSL_get_error(t->ssl, r);
            if (err == SSL_ERROR_WANT_WRITE)
                t->rd_wants_write = true;
            else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_ZERO_RETURN)
                ERR_clear_error();
            return (ssize_t)total;
        }
        return io_error(t, r, true);
    }
    return (ssize_t)total;
}

ssize_t tls_conn_send(struct tls_conn *t, const void *buf, size_t len)
{
    if (t->vt)
        return t->vt->sendv(t->vt_arg, &(struct iovec){.iov_base = (void *)buf, .iov_len = len}, 1);
    size_t total = 0;
    t->wr_wants_read = false;
    while (total < len) {
        size_t n = 0;
        int r = SSL_write_ex(t->ssl, (const char *)buf + total, len - total, &n);
        if (r == 1) {
            total += n;
            continue;
        }
        if (total) {
            if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
                t->wr_wants_read = true;
            ERR_clear_error();
            return (ssize_t)total;
        }
        return io_error(t, r, false);
    }
    return (ssize_t)total;
}

/* Buffers of a record's size or more go as they are; smaller ones are gathered into one
 * record (a head and a small body: one record, one send, as writev would). The same bytes
 * offered again after EAGAIN are gathered the same way, as OpenSSL requires. */
ssize_t tls_conn_sendv(struct tls_conn *t, const struct iovec *iov, int n)
{
    if (t->vt)
        return t->vt->sendv(t->vt_arg, iov, n);
    if (n == 1)
        return tls_conn_send(t, iov[0].iov_base, iov[0].iov_len);
    size_t total = 0;
    int i = 0;
    size_t off = 0; /* into iov[i] */
    while (i < n) {
        size_t left = iov[i].iov_len - off;
        if (!left) {
            i++;
            off = 0;
            continue;
        }
        ssize_t w;
        size_t want;
        if (left >= TLS_CHUNK) {
            want = left;
            w = tls_conn_send(t, (const char *)iov[i].iov_base + off, left);
            if (w > 0)
                off += (size_t)w;
        } else {
            size_t fill = 0;
            int k = i;
            size_t koff = off;
            while (k < n && fill < TLS_CHUNK) {
                size_t take = iov[k].iov_len - koff;
                if (take > TLS_CHUNK - fill)
                    take = TLS_CHUNK - fill;
                memcpy(scratch + fill, (const char *)iov[k].iov_base + koff, take);
                fill += take;
                koff += take;
                if (koff == iov[k].iov_len) {
                    k++;
                    koff = 0;
                }
            }
            want = fill;
            w = tls_conn_send(t, scratch, fill);
            /* Advance over what went. */
            for (size_t adv = w > 0 ? (size_t)w : 0; adv;) {
                size_t l = iov[i].iov_len - off;
                size_t s = adv < l ? adv : l;
                off += s;
                adv -= s;
                if (off == iov[i].iov_len) {
                    i++;
                    off = 0;
                }
            }
        }
        if (w < 0)
            return total ? (ssize_t)total : -1;
        total += (size_t)w;
        if ((size_t)w < want)
            break; /* the socket is full */
    }
    return (ssize_t)total;
}

ssize_t tls_conn_sendfile(struct tls_conn *t, int fd, off_t *off, size_t len)
{
    if (t->ktls_tx) {
        ossl_ssize_t w = SSL_sendfile(t->ssl, fd, *off, len, 0);
        if (w > 0) {
            *off += w;
            return w;
        }
        return io_error(t, (int)w, false);
    }
    size_t total = 0;
    while (total < len) {
        size_t want = len - total < TLS_CHUNK ? len - total : TLS_CHUNK;
        ssize_t n = pread(fd, scratch, want, *off);
        if (n <= 0)
            return total ? (ssize_t)total : n;
        ssize_t w = tls_conn_send(t, scratch, (size_t)n);
        if (w < 0)
            return total ? (ssize_t)total : -1;
        *off += w;
        total += (size_t)w;
        if (w < n)
            break;
    }
    return (ssize_t)total;
}

bool tls_conn_idle_ok(struct tls_conn *t)
{
    unsigned char b;
    size_t n;
    if (SSL_read_ex(t->ssl, &b, 1, &n) == 1)
        return false;
    bool ok = SSL_get_error(t->ssl, 0) == SSL_ERROR_WANT_READ;
    ERR_clear_error();
    return ok;
}

void tls_conn_shutdown(struct tls_conn *t)
{
    if (t->vt)
        return; /* its end comes with tls_conn_free */
    if (t->established && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN))
        SSL_shutdown(t->ssl);
    ERR_clear_error();
}

const char *tls_conn_protocol(const struct tls_conn *t)
{
    return SSL_get_version(t->ssl);
}

const char *tls_conn_cipher(const struct tls_conn *t)
{
    return SSL_get_cipher_name(t->ssl);
}

const char *tls_conn_sni(const struct tls_conn *t)
{
    const char *s = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    return s ? s : "";
}

bool tls_conn_is_h2(const struct tls_conn *t)
{
    const unsigned char *p = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    return len == 2 && p[0] == 'h' && p[1] == '2';
}

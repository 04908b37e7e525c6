/* test_tls_conn.c — tls_conn's recv/send conventions over a real TLS session on a socketpair
 * with a small send buffer: writes that stop at a full socket and are offered again (OpenSSL's
 * retry rule, gathered writev included), reads that fill the buffer from several records and
 * return short exactly when the socket is drained, a file sent through the fallback, EOF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "tls/tls_conn.h"
#include "tls_test_cert.h"

struct pair {
    SSL_CTX *sctx, *cctx;
    int fd[2];
    struct tls_conn *s, *c;
};

static void make_pair(struct pair *p)
{
    p->sctx = tls_test_server_ctx("t");
    p->cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_mode(p->cctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd), 0);
    int small = 4096;
    setsockopt(p->fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(p->fd[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    p->s = tls_conn_new(p->sctx, p->fd[0], true);
    p->c = tls_conn_new(p->cctx, p->fd[1], false);
    assert_non_null(p->s);
    assert_non_null(p->c);
    int hs = 0, hc = 0;
    for (int i = 0; i < 100 && !(hs == 1 && hc == 1); i++) {
        if (hc != 1)
            hc = tls_conn_handshake(p->c);
        if (hs != 1)
            hs = tls_conn_handshake(p->s);
        assert_true(hs >= 0 && hc >= 0);
    }
    assert_true(p->s->established && p->c->established);
}

static void free_pair(struct pair *p)
{
    tls_conn_free(p->s);
    tls_conn_free(p->c);
    close(p->fd[0]);
    close(p->fd[1]);
    SSL_CTX_free(p->sctx);
    SSL_CTX_free(p->cctx);
}

/* Reads what the client can now; returns bytes appended at got + *have. */
static void drain_client(struct pair *p, char *got, size_t *have, size_t cap)
{
    while (*have < cap) {
        ssize_t n = tls_conn_recv(p->c, got + *have, cap - *have);
        if (n <= 0) {
            assert_true(n == -1 && errno == EAGAIN);
            return;
        }
        *have += (size_t)n;
    }
}

static void test_sendv_full_socket_and_retry(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p);
    size_t total = 1u << 20;
    char *src = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++)
        src[i] = (char)(i * 7 + i / 251);
    size_t sent = 0, have = 0;
    int short_writes = 0;
    while (have < total) {
        /* The proxy's shape: a small head, then the body, always from the first unsent byte. */
        struct iovec iov[3];
        int n = 0;
        size_t left = total - sent;
        size_t a = left < 100 ? left : (sent % 3 ? 100 : 37);
        if (left) {
            iov[n++] = (struct iovec){.iov_base = src + sent, .iov_len = a};
            if (left > a)
                iov[n++] = (struct iovec){.iov_base = src + sent + a, .iov_len = left - a};
        }
        if (n) {
            ssize_t w = tls_conn_sendv(p.s, iov, n);
            if (w > 0) {
                sent += (size_t)w;
                short_writes += (size_t)w < left;
            } else {
                assert_true(w == -1 && errno == EAGAIN);
            }
        }
        drain_client(&p, got, &have, total);
    }
    assert_int_equal(sent, total);
    assert_memory_equal(src, got, total);
    assert_true(short_writes > 0); /* the socket did fill up */
    free(src);
    free(got);
    free_pair(&p);
}

static void test_recv_short_means_drained(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p);
    char msg[3000], buf[32768];
    memset(msg, 'm', sizeof(msg));
    /* Two records back to back: one read call returns both, and says the socket is empty. */
    assert_int_equal(tls_conn_send(p.s, msg, 1000), 1000);
    assert_int_equal(tls_conn_send(p.s, msg, 2000), 2000);
    assert_int_equal(tls_conn_recv(p.c, buf, sizeof(buf)), 3000);
    assert_true(p.c->drained);
    errno = 0;
    assert_int_equal(tls_conn_recv(p.c, buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);
    /* A buffer smaller than what arrived: full, then the rest. */
    assert_int_equal(tls_conn_send(p.s, msg, 3000), 3000);
    assert_int_equal(tls_conn_recv(p.c, buf, 1000), 1000);
    assert_int_equal(tls_conn_recv(p.c, buf, sizeof(buf)), 2000);
    /* The end: close_notify reads as 0. */
    tls_conn_shutdown(p.s);
    assert_int_equal(tls_conn_recv(p.c, buf, sizeof(buf)), 0);
    free_pair(&p);
}

static void test_sendfile_fallback(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p);
    char path[] = "/tmp/weir-tls-conn-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    size_t total = 200000;
    char *src = malloc(total), *got = malloc(total);
    for (size_t i = 0; i < total; i++)
        src[i] = (char)(i % 253);
    assert_int_equal(write(fd, src, total), (ssize_t)total);
    off_t off = 0;
    size_t have = 0;
    while (have < total) {
        if ((size_t)off < total) {
            ssize_t w = tls_conn_sendfile(p.s, fd, &off, total - (size_t)off);
            assert_true(w > 0 || (w == -1 && errno == EAGAIN));
        }
        drain_client(&p, got, &have, total);
    }
    assert_int_equal(off, (off_t)total);
    assert_memory_equal(src, got, total);
    close(fd);
    free(src);
    free(got);
    free_pair(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendv_full_socket_and_retry),
        cmocka_unit_test(test_recv_short_means_drained),
        cmocka_unit_test(test_sendfile_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

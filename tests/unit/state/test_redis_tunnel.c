/* test_redis_tunnel.c — the Redis connection over TLS (state/redis_tunnel.c under
 * state/redis_conn.c) against a fake TLS Redis on the same loop, with a certificate made in
 * memory: the handshake and commands through the tunnel, backpressure (the fake stops
 * reading while megabytes of commands are queued: everything arrives, in order, once it
 * reads again), Redis closing (pending answers NULL, reconnect resuming the TLS session), and
 * a certificate that does not verify (never ready, retried, nothing hangs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "event/loop.h"
#include "state/redis_conn.h"
#include "state/redis_script.h"
#include "state/store_stats.h"
#include "tls/tls_conn.h"
#include "tls/tls_gen.h"
#include "../tls/tls_test_cert.h"
#include "redis_test_util.h"

/* ---- a fake Redis speaking TLS ---------------------------------------------------------- */

#define IN_CAP (4u << 20)

struct fake {
    struct ev_io lio, cio;
    int lfd, cfd;
    uint16_t port;
    SSL_CTX *sctx;
    struct tls_conn *tls;
    char *in;
    size_t inlen;
    bool hold;            /* read nothing (backpressure) */
    uint32_t scripts, evals, accepts;
    size_t arg_bytes;     /* bytes of EVALSHA arguments after the key, all commands */
    bool reused;          /* the last handshake resumed a session */
};

static struct fake fk;

static void fake_send(const char *s)
{
    ssize_t n = tls_conn_send(fk.tls, s, strlen(s));
    assert_int_equal((size_t)n, strlen(s));
}

static void fake_drop_client(void);
static void fake_commands(void);

static void fake_io(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
    (void)l, (void)io, (void)events;
    if (!fk.tls->established) {
        int r = tls_conn_handshake(fk.tls);
        if (r < 0)
            return fake_drop_client(); /* the client refused our certificate */
        if (r == 0)
            return;
        fk.reused = SSL_session_reused(fk.tls->ssl);
    }
    for (;;) {
        assert_true(fk.inlen < IN_CAP);
        ssize_t n = tls_conn_recv(fk.tls, fk.in + fk.inlen, IN_CAP - fk.inlen);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return fake_drop_client();
        if (n < 0)
            return;
        fk.inlen += (size_t)n;
        fake_commands();
    }
}

static void fake_commands(void)
{
    char args[8][256];
    size_t lens[8], used;
    int argc;
    while ((used = resp_test_cmd(fk.in, fk.inlen, args, lens, &argc))) {
        const char *name = args[0];
        memmove(fk.in, fk.in + used, fk.inlen - used);
        fk.inlen -= used;
        if (strcasecmp(name, "SCRIPT") == 0) {
            char r[64];
            snprintf(r, sizeof(r), "$40\r\n%040u\r\n", fk.scripts++);
            fake_send(r);
        } else if (strcasecmp(name, "ROLE") == 0) {
            fake_send(RESP_TEST_ROLE_MASTER);
        } else if (strcasecmp(name, "EVALSHA") == 0) {
            fk.evals++;
            for (int i = 4; i < argc && i < 8; i++) /* EVALSHA sha nkeys key args... */
                fk.arg_bytes += lens[i];
            fake_send("*2\r\n:1\r\n:250\r\n");
        } else {
            fake_send("+OK\r\n");
        }
    }
}

static void fake_set_hold(bool hold)
{
    fk.hold = hold;
    assert_int_equal(ev_io_mod(&loop, &fk.cio, hold ? 0 : EPOLLIN), 0);
}

static void fake_accept(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
    (void)events;
    int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    fk.cfd = fd;
    fk.accepts++;
    fk.inlen = 0;
    fk.tls = tls_conn_new(fk.sctx, fd, true);
    assert_non_null(fk.tls);
    assert_int_equal(ev_io_add_events(l, &fk.cio, fd, fake_io, EPOLLIN), 0);
}

static void fake_drop_client(void)
{
    ev_io_del(&loop, &fk.cio);
    tls_conn_free(fk.tls);
    fk.tls = NULL;
    close(fk.cfd);
    fk.cfd = -1;
}

static struct redis_conn *conn;
static struct config *cfg;
static int answers, nulls;

static bool is_ready(void)
{
    return redis_conn_ready(conn);
}

static void on_reply(void *arg, const redisReply *r)
{
    (void)arg;
    if (r)
        answers++;
    else
        nulls++;
}

static struct redis_req *ask(size_t big)
{
    static char arg[3][65536];
    const char *argv[4] = {"{weir:rl:k}", arg[0], arg[1], arg[2]};
    size_t lens[4] = {11, big, big, big};
    memset(arg, 'x', sizeof(arg));
    return redis_conn_eval(conn, REDIS_SCRIPT_GCRA, 1, 4, argv, lens, on_reply, NULL);
}

static void start(const char *tls)
{
    memset(&fk, 0, sizeof(fk));
    fk.cfd = -1;
    fk.in = malloc(IN_CAP);
    assert_non_null(fk.in);
    fk.sctx = tls_test_server_ctx("redis");
    loop_test_init();
    /* Redis's receive buffer small, so backpressure reaches the tunnel soon */
    fk.lfd = listen_local(&fk.port, 16384);
    assert_int_equal(ev_io_add(&loop, &fk.lio, fk.lfd, fake_accept, false), 0);

    char yaml[512], err[256];
    snprintf(yaml, sizeof(yaml),
             "listen: [127.0.0.1:8080]\nupstreams: {b: {servers: [127.0.0.1:9001]}}\n"
             "routes: [{upstream: b}]\nstate: {backend: redis, address: 127.0.0.1:%u, "
             "command_timeout: 5s, connect_timeout: 300ms, reconnect_min: 20ms, "
             "reconnect_max: 40ms, tls: %s}\n", fk.port, tls);
    struct cfg_error cerr;
    cfg = config_load_buffer(yaml, strlen(yaml), "t.yaml", &cerr);
    assert_non_null(cfg);
    assert_int_equal(tls_gen_build(cfg, err, sizeof(err)), 0);
    assert_non_null(tls_gen_state(cfg));
    conn = redis_conn_new(&loop, cfg, NULL, NULL, NULL);
    assert_non_null(conn);
    answers = nulls = 0;
}

static int teardown(void **state)
{
    (void)state;
    redis_conn_free(conn);
    config_unref(cfg);
    if (fk.cfd >= 0)
        fake_drop_client();
    ev_io_del(&loop, &fk.lio);
    close(fk.lfd);
    ev_loop_destroy(&loop);
    SSL_CTX_free(fk.sctx);
    free(fk.in);
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static bool answered_all(void)
{
    return answers + nulls >= 40;
}

static void test_commands_and_backpressure(void **state)
{
    (void)state;
    start("{verify: false}");
    run(is_ready, 3000);
    assert_true(redis_conn_ready(conn));
    assert_int_equal(fk.scripts, REDIS_SCRIPT_COUNT);
    assert_non_null(ask(10));
    run(NULL, 100);
    assert_int_equal(answers, 1);
    assert_int_equal(fk.arg_bytes, 30);
    /* 40 commands of 192 KiB (7.5 MiB) while the fake reads nothing: the kernel's buffers and
     * the tunnel's fill, hiredis keeps the rest; all of it arrives once the fake reads. */
    answers = 0;
    fk.arg_bytes = 0;
    fake_set_hold(true);
    for (int i = 0; i < 40; i++)
        assert_non_null(ask(65536));
    run(NULL, 200);
    assert_int_equal(answers + nulls, 0);
    fake_set_hold(false);
    run(answered_all, 5000);
    assert_int_equal(answers, 40);
    assert_int_equal(nulls, 0);
    assert_int_equal(fk.arg_bytes, 40u * 3 * 65536);
    assert_true(redis_conn_ready(conn));
}

static bool reconnected(void)
{
    return fk.accepts >= 2 && redis_conn_ready(conn);
}

static bool answered(void)
{
    return answers + nulls > 0;
}

static void test_redis_closes_then_resumed_session(void **state)
{
    (void)state;
    start("{verify: false}");
    run(is_ready, 3000);
    assert_false(fk.reused);
    run(NULL, 50); /* the TLS 1.3 session tickets arrive after the handshake */
    fake_drop_client(); /* Redis closes (FIN): the session stays good */
    run(reconnected, 3000);
    assert_true(redis_conn_ready(conn));
    assert_true(fk.reused); /* the connection offered its last session */
    assert_non_null(ask(10));
    run(answered, 1000);
    assert_int_equal(answers, 1);
    /* Redis goes away with a command pending: answered NULL, then reconnected. */
    answers = 0;
    uint32_t accepts = fk.accepts;
    fake_set_hold(true);
    assert_non_null(ask(10));
    run(NULL, 20);
    fake_drop_client();
    run(answered, 2000);
    assert_int_equal(nulls, 1);
    run(is_ready, 3000);
    assert_true(redis_conn_ready(conn) && fk.accepts == accepts + 1);
}

static bool retried(void)
{
    return fk.accepts >= 3;
}

static void test_certificate_not_verified(void **state)
{
    (void)state;
    uint64_t reconnects = atomic_load(&store_stats.reconnects);
    start("on"); /* the system's CAs: the fake's self-signed certificate fails */
    run(retried, 3000);
    assert_true(fk.accepts >= 3);
    assert_false(redis_conn_ready(conn));
    assert_null(ask(10)); /* refused at once, nothing waits */
    assert_true(atomic_load(&store_stats.reconnects) >= reconnects + 2);
    assert_int_equal(fk.scripts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_commands_and_backpressure, teardown),
        cmocka_unit_test_teardown(test_redis_closes_then_resumed_session, teardown),
        cmocka_unit_test_teardown(test_certificate_not_verified, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

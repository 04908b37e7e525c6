/* test_redis_conn.c — the Redis connection (state/redis_conn.c) and its adapter on weir's loop
 * (state/redis_ev.c) against a fake Redis on the same loop: the handshake (SCRIPT LOAD of every
 * script), EVALSHA with its arguments and the answer, a command past its timeout (answered
 * NULL at the timeout, later commands refused while the connection is stalled, the late reply
 * ending the stall), a lost connection (pending answers NULL, reconnect with backoff), a
 * replica refused by the ROLE check, a READONLY answer (demoted: reconnect), the primary-change
 * hook and following a named address, and the key layout with its Redis Cluster hash tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "event/loop.h"
#include "state/kv.h"
#include "state/redis_conn.h"
#include "state/redis_script.h"
#include "state/store_stats.h"
#include "redis_test_util.h"

/* ---- a fake Redis ----------------------------------------------------------------------- */

struct fake {
    struct ev_io lio, cio;
    int lfd, cfd;
    uint16_t port;
    char in[65536];
    size_t inlen;
    bool hold;            /* keep EVALSHA answers back */
    bool replica;         /* ROLE says slave */
    bool readonly;        /* EVALSHA answers -READONLY (demoted under the client) */
    uint32_t held;
    uint32_t scripts, evals, accepts;
    char last_key[256], last_key2[256];
};

static struct fake fk;

static void fake_send(const char *s)
{
    ssize_t n = write(fk.cfd, s, strlen(s));
    assert_int_equal((size_t)n, strlen(s));
}

static void fake_read(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
    (void)l, (void)events;
    for (;;) {
        ssize_t n = read(io->fd, fk.in + fk.inlen, sizeof(fk.in) - fk.inlen);
        if (n <= 0)
            break;
        fk.inlen += (size_t)n;
    }
    char args[8][256];
    size_t lens[8];
    int argc;
    size_t used;
    while ((used = resp_test_cmd(fk.in, fk.inlen, args, lens, &argc))) {
        memmove(fk.in, fk.in + used, fk.inlen - used);
        fk.inlen -= used;
        if (strcasecmp(args[0], "SCRIPT") == 0) {
            char r[64];
            snprintf(r, sizeof(r), "$40\r\n%040u\r\n", fk.scripts++);
            fake_send(r);
        } else if (strcasecmp(args[0], "ROLE") == 0) {
            fake_send(fk.replica ? RESP_TEST_ROLE_REPLICA : RESP_TEST_ROLE_MASTER);
        } else if (strcasecmp(args[0], "EVALSHA") == 0 && fk.readonly) {
            fake_send("-READONLY You can't write against a read only replica.\r\n");
        } else if (strcasecmp(args[0], "EVALSHA") == 0) {
            fk.evals++;
            snprintf(fk.last_key, sizeof(fk.last_key), "%s", args[3]);
            snprintf(fk.last_key2, sizeof(fk.last_key2), "%s", atoi(args[2]) > 1 ? args[4] : "");
            if (fk.hold)
                fk.held++;
            else
                fake_send("*2\r\n:1\r\n:250\r\n");
        } else {
            fake_send("+OK\r\n");
        }
    }
}

static void fake_accept(struct ev_loop *l, struct ev_io *io, uint32_t events)
{
    (void)events;
    int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (fk.cfd >= 0) { /* the client closed the previous one */
        ev_io_del(l, &fk.cio);
        close(fk.cfd);
    }
    int one = 1; /* as Redis does: replies are small, Nagle would hold the second one back */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fk.cfd = fd;
    fk.accepts++;
    fk.inlen = 0;
    assert_int_equal(ev_io_add(l, &fk.cio, fd, fake_read, false), 0);
}

static void fake_drop_client(void)
{
    ev_io_del(&loop, &fk.cio);
    close(fk.cfd);
    fk.cfd = -1;
}

static struct redis_conn *conn;
static int answers, nulls;
static int64_t last_allowed;

static bool is_ready(void)
{
    return redis_conn_ready(conn);
}

static bool answered(void)
{
    return answers + nulls > 0;
}

static void on_reply(void *arg, const redisReply *r)
{
    (void)arg;
    if (!r) {
        nulls++;
        return;
    }
    answers++;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    last_allowed = r->element[0]->integer;
}

static struct redis_req *ask(void)
{
    const char *argv[3] = {"{weir:rl:k}", "1000", "0"};
    size_t lens[3] = {11, 4, 1};
    return redis_conn_eval(conn, REDIS_SCRIPT_GCRA, 1, 3, argv, lens, on_reply, NULL);
}

static int setup(void **state)
{
    (void)state;
    memset(&fk, 0, sizeof(fk));
    fk.cfd = -1;
    loop_test_init();
    fk.lfd = listen_local(&fk.port, 0);
    assert_int_equal(ev_io_add(&loop, &fk.lio, fk.lfd, fake_accept, false), 0);

    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "listen: [127.0.0.1:8080]\nupstreams: {b: {servers: [127.0.0.1:9001]}}\n"
             "routes: [{upstream: b}]\nstate: {backend: redis, address: 127.0.0.1:%u, "
             "command_timeout: 30ms, reconnect_min: 20ms, reconnect_max: 40ms}\n", fk.port);
    struct cfg_error err;
    struct config *cfg = config_load_buffer(yaml, strlen(yaml), "t.yaml", &err);
    assert_non_null(cfg);
    conn = redis_conn_new(&loop, cfg, NULL, NULL, NULL);
    config_unref(cfg); /* the connection keeps its own reference */
    assert_non_null(conn);
    answers = nulls = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    redis_conn_free(conn);
    if (fk.cfd >= 0)
        fake_drop_client();
    ev_io_del(&loop, &fk.lio);
    close(fk.lfd);
    ev_loop_destroy(&loop);
    return 0;
}

static void test_handshake_and_eval(void **state)
{
    (void)state;
    assert_null(ask()); /* not connected yet: refused at once, nothing waits */
    run(is_ready, 2000);
    assert_true(redis_conn_ready(conn));
    assert_int_equal(fk.scripts, REDIS_SCRIPT_COUNT);
    assert_non_null(ask());
    run(answered, 2000);
    assert_int_equal(answers, 1);
    assert_int_equal(last_allowed, 1);
    assert_string_equal(fk.last_key, "{weir:rl:k}");
    /* pipelined: three in one go, three answers in order */
    answers = 0;
    for (int i = 0; i < 3; i++)
        assert_non_null(ask());
    run(NULL, 100);
    assert_int_equal(answers, 3);
}

static bool late_done(void)
{
    return fk.held == 0 && redis_conn_ready(conn);
}

static void test_timeout_stall_and_late_reply(void **state)
{
    (void)state;
    run(is_ready, 2000);
    uint64_t timeouts = atomic_load(&store_stats.timeouts);
    fk.hold = true;
    uint64_t t0 = ev_clock_us();
    assert_non_null(ask());
    run(answered, 2000);
    uint64_t took_ms = (ev_clock_us() - t0) / 1000;
    assert_int_equal(nulls, 1); /* answered NULL at the timeout */
    assert_true(took_ms >= 25 && took_ms < 1000);
    assert_int_equal(atomic_load(&store_stats.timeouts), timeouts + 1);
    assert_false(redis_conn_ready(conn)); /* stalled */
    assert_null(ask());                   /* refused at once while stalled */
    /* Redis answers again: the late reply ends the stall, its caller hears nothing more */
    fk.hold = false;
    fk.held = 0;
    fake_send("*2\r\n:1\r\n:250\r\n");
    run(late_done, 2000);
    assert_true(redis_conn_ready(conn));
    assert_int_equal(nulls, 1);
    assert_int_equal(answers, 0);
}

static void test_cancel(void **state)
{
    (void)state;
    run(is_ready, 2000);
    struct redis_req *r = ask();
    assert_non_null(r);
    redis_req_cancel(r);
    run(NULL, 80);
    assert_int_equal(answers + nulls, 0); /* a cancelled answer never runs */
}

static bool reconnected(void)
{
    return fk.accepts >= 2 && redis_conn_ready(conn);
}

static void test_lost_connection_and_reconnect(void **state)
{
    (void)state;
    run(is_ready, 2000);
    uint64_t reconnects = atomic_load(&store_stats.reconnects);
    fk.hold = true;
    assert_non_null(ask());
    run(NULL, 5);
    fake_drop_client(); /* Redis dies with a command pending */
    fk.hold = false;
    run(answered, 2000);
    assert_int_equal(nulls, 1);
    run(reconnected, 3000);
    assert_true(redis_conn_ready(conn));
    assert_true(atomic_load(&store_stats.reconnects) > reconnects);
    assert_non_null(ask());
    run(NULL, 100);
    assert_int_equal(answers, 1);
}

static bool accepted3(void)
{
    return fk.accepts >= 3;
}

/* A replica (ROLE slave) is never used: closed and tried again (one address: after the
 * backoff) until it is the primary. */
static void test_replica_skipped(void **state)
{
    (void)state;
    fk.replica = true;
    run(accepted3, 3000);
    assert_true(fk.accepts >= 3);
    assert_false(redis_conn_ready(conn));
    assert_null(ask());
    assert_int_equal(fk.evals, 0);
    fk.replica = false; /* promoted */
    run(is_ready, 3000);
    assert_true(redis_conn_ready(conn));
    assert_non_null(ask());
    run(answered, 2000);
    assert_int_equal(answers, 1);
}

/* -READONLY: the server was made a replica under the connection; it is dropped at once (no
 * command sent to it any more) and the primary looked for again. */
static void test_readonly_reconnects(void **state)
{
    (void)state;
    run(is_ready, 2000);
    fk.readonly = true;
    fk.replica = true;
    assert_non_null(ask());
    run(answered, 2000);
    assert_int_equal(nulls, 1);
    assert_false(redis_conn_ready(conn));
    assert_null(ask());
    run(NULL, 60);
    assert_false(redis_conn_ready(conn)); /* reconnected, but to a replica: skipped */
    fk.readonly = fk.replica = false;
    run(reconnected, 3000);
    assert_true(redis_conn_ready(conn));
    nulls = 0;
    assert_non_null(ask());
    run(answered, 2000);
    assert_int_equal(answers, 1);
}

static unsigned hooks;

static void count_hook(void)
{
    hooks++;
}

/* The hook runs once per change of the process's primary (not again on a reconnect to the
 * same one); following the address c is on, or one not among its addresses, does nothing. */
static void test_primary_hook_and_follow(void **state)
{
    (void)state;
    char here_addr[32];
    snprintf(here_addr, sizeof(here_addr), "127.0.0.1:%u", fk.port);
    store_stats_set_primary("192.0.2.1:6379"); /* some earlier primary */
    hooks = 0;
    redis_conn_on_primary(count_hook);
    run(is_ready, 2000);
    assert_int_equal(hooks, 1);
    char p[64];
    store_stats_primary(p, sizeof(p));
    assert_string_equal(p, here_addr);
    assert_false(redis_conn_follow(conn, here_addr));
    assert_false(redis_conn_follow(conn, "192.0.2.1:6379"));
    assert_true(redis_conn_ready(conn));
    fake_drop_client();
    run(reconnected, 3000);
    assert_int_equal(hooks, 1); /* the same primary again */
    assert_non_null(ask());
    run(answered, 2000);
    assert_int_equal(answers, 1);
    redis_conn_on_primary(NULL);
}

static void test_key_layout(void **state)
{
    (void)state;
    char out[64];
    size_t n = redis_key(out, sizeof(out), "weir", "rl", "route|1.2.3.4", 13);
    assert_string_equal(out, "{weir:rl:route|1.2.3.4}");
    assert_int_equal(n, strlen(out));
    /* bytes are kept as they are: braces inside only move the tag's end, keys stay distinct */
    redis_key(out, sizeof(out), "weir", "idem", "a}b", 3);
    assert_string_equal(out, "{weir:idem:a}b}");
    assert_int_equal(redis_key(out, 10, "weir", "rl", "long-key", 8), 0);
    for (int i = 0; i < REDIS_SCRIPT_COUNT; i++)
        assert_non_null(strstr(redis_script_text[i], "KEYS[1]")); /* one key per script */
}

static uint32_t want_evals;

static bool evals_reached(void)
{
    return fk.evals >= want_evals;
}

/* Every script's keys share one hash tag (Redis Cluster: one slot): the tagged layout, the
 * check on every call (a call crossing tags is refused, never sent), and the kv's two-key
 * script (abnormal access: a count key under its lock key) sending keys of one tag. */
static void test_one_slot_per_script(void **state)
{
    (void)state;
    char out[96];
    redis_key_tagged(out, sizeof(out), "weir", "kv", "abnormal|z|ip|1.2.3.4|r0", 24, 21);
    assert_string_equal(out, "{weir:kv:abnormal|z|ip|1.2.3.4}|r0");
    struct redis_tag t = redis_key_tag(out, strlen(out));
    assert_int_equal(t.len, strlen("weir:kv:abnormal|z|ip|1.2.3.4"));
    t = redis_key_tag("{}x", 3); /* an empty tag: the whole key */
    assert_int_equal(t.len, 3);
    const char *same[3] = {"{weir:wr:r}:m", "{weir:wr:r}:w", "{weir:wr:r}"};
    const char *cross[2] = {"{weir:kv:a}", "{weir:kv:a|r0}"};
    size_t sl[3] = {13, 13, 11}, cl[2] = {11, 14};
    assert_true(redis_keys_one_tag(3, same, sl));
    assert_false(redis_keys_one_tag(2, cross, cl));

    run(is_ready, 2000);
    uint32_t evals = fk.evals;
    const char *argv[3] = {cross[0], cross[1], "1"};
    size_t lens[3] = {cl[0], cl[1], 1};
    assert_null(redis_conn_eval(conn, REDIS_SCRIPT_KV_HIT_LOCK, 2, 3, argv, lens, on_reply,
                                NULL));
    /* the kv through this connection: abnormal's count and lock keys, one tag */
    redis_conn_set_here(&conn, 1);
    void *st = kv_redis.open(100);
    struct kv_rule rule = {.count = 5, .base_ms = 1000, .max_ms = 1000};
    struct str ck = STR_LIT("abnormal|z|ip|1.2.3.4|r0"), lk = STR_LIT("abnormal|z|ip|1.2.3.4");
    kv_hit_lock(&kv_redis, st, ck, lk, 0, 1000, 1000, &rule, NULL);
    want_evals = evals + 1;
    run(evals_reached, 2000);
    assert_int_equal(fk.evals, evals + 1);
    assert_string_equal(fk.last_key, "{weir:kv:abnormal|z|ip|1.2.3.4}|r0");
    assert_string_equal(fk.last_key2, "{weir:kv:abnormal|z|ip|1.2.3.4}");
    /* a pair that cannot share a tag is not sent (the local view still decides) */
    kv_hit_lock(&kv_redis, st, STR_LIT("a|r0"), STR_LIT("b"), 0, 1000, 1000, &rule, NULL);
    run(NULL, 50);
    assert_int_equal(fk.evals, evals + 1);
    kv_redis.close(st);
    redis_conn_set_here(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_eval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_stall_and_late_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_connection_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_hook_and_follow, setup, teardown),
        cmocka_unit_test(test_key_layout),
        cmocka_unit_test_setup_teardown(test_one_slot_per_script, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

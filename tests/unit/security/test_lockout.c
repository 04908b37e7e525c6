/* test_lockout.c — brute-force lock-out: per-address locks, doubling, account locks only for
 * distributed failures, success resetting an account, the account read from a JSON body, the
 * kv store's list/unlock; the clock is the fixture's (fx_advance). */
#include "module_fixture.h"

#include "security/lockout.h"
#include "state/kv.h"

#define ROUTE FX_ROUTE_HEAD "routes:\n  - {path: /login, upstream: g, request_buffering: off, "

/* One login attempt: the module's verdict, and the upstream's `status` when it went on. */
static uint16_t attempt(const char *ip, const char *user, uint16_t status, const char **retry)
{
    char head[512];
    snprintf(head, sizeof(head), "POST /login HTTP/1.1\r\nHost: a\r\nX-User: %s\r\n\r\n", user);
    struct fx_exchange *e = fx_exchange(0, head, ip);
    enum pipeline_verdict v = pipeline_request(&e->x);
    uint16_t st;
    if (v == PIPELINE_RESPOND) {
        st = e->x.reply.status;
        if (retry) {
            static char ra[256];
            snprintf(ra, sizeof(ra), "%s", fx_reply_header(e, "Retry-After"));
            *retry = ra;
        }
        pipeline_response_head(&e->x, &e->x.reply);
    } else {
        assert_int_equal(v, PIPELINE_NEXT);
        struct response r;
        assert_int_equal(response_init(&r, &e->x.arena, status, 4), 0);
        e->x.upstream_head = true;
        pipeline_response_head(&e->x, &r);
        st = status;
    }
    fx_end(e, st);
    return st;
}

static void per_address_then_doubling(void **state)
{
    (void)state;
    fx_setup(ROUTE "lockout: {account: {header: X-User}, max_failures: 3, window: 10s, "
                   "lock: 30s, max_lock: 100s}}\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(attempt("10.0.0.1", "alice", 401, NULL), 401);
    const char *ra = NULL;
    assert_int_equal(attempt("10.0.0.1", "alice", 200, &ra), 429);
    assert_string_equal(ra, "30");
    assert_int_equal(attempt("10.0.0.2", "alice", 200, NULL), 200); /* the user is not locked */
    fx_advance(29000);
    assert_int_equal(attempt("10.0.0.1", "bob", 200, NULL), 429);
    fx_advance(1000);
    assert_int_equal(attempt("10.0.0.1", "bob", 401, NULL), 401); /* free again */
    assert_int_equal(attempt("10.0.0.1", "bob", 401, NULL), 401);
    assert_int_equal(attempt("10.0.0.1", "bob", 403, NULL), 403);
    assert_int_equal(attempt("10.0.0.1", "bob", 200, &ra), 429);
    assert_string_equal(ra, "60"); /* doubled */
    fx_advance(60000);
    for (int i = 0; i < 3; i++)
        attempt("10.0.0.1", "bob", 401, NULL);
    assert_int_equal(attempt("10.0.0.1", "bob", 200, &ra), 429);
    assert_string_equal(ra, "100"); /* capped */
    fx_teardown();
}

static void window_expires(void **state)
{
    (void)state;
    fx_setup(ROUTE "lockout: {max_failures: 2, window: 1s, lock: 5s}}\n");
    assert_int_equal(attempt("10.0.0.1", "x", 401, NULL), 401);
    fx_advance(1500);
    assert_int_equal(attempt("10.0.0.1", "x", 401, NULL), 401); /* a new window */
    assert_int_equal(attempt("10.0.0.1", "x", 200, NULL), 200);
    assert_int_equal(attempt("10.0.0.1", "x", 500, NULL), 500); /* not a failure status */
    assert_int_equal(attempt("10.0.0.1", "x", 401, NULL), 401);
    assert_int_equal(attempt("10.0.0.1", "x", 200, NULL), 429);
    fx_teardown();
}

static void distributed_account(void **state)
{
    (void)state;
    fx_setup(ROUTE "lockout: {account: {header: X-User}, max_failures: 5, window: 60s, "
                   "lock: 10s, account_failures: 4, account_ips: 3}}\n");
    /* many failures for carol from one address: that address gets locked, carol does not */
    for (int i = 0; i < 5; i++)
        attempt("10.1.0.1", "carol", 401, NULL);
    assert_int_equal(attempt("10.1.0.1", "carol", 200, NULL), 429);
    assert_int_equal(attempt("10.1.0.2", "carol", 200, NULL), 200);
    /* success reset carol's count; now 4 failures from 3 addresses lock the account */
    attempt("10.2.0.1", "carol", 401, NULL);
    attempt("10.2.0.2", "carol", 401, NULL);
    attempt("10.2.0.1", "carol", 401, NULL);
    assert_int_equal(attempt("10.2.0.9", "carol", 200, NULL), 200); /* success: reset */
    attempt("10.2.0.1", "carol", 401, NULL);
    attempt("10.2.0.2", "carol", 401, NULL);
    attempt("10.2.0.3", "carol", 401, NULL);
    attempt("10.2.0.3", "carol", 401, NULL);
    assert_int_equal(attempt("10.9.9.9", "carol", 200, NULL), 429);
    assert_int_equal(attempt("10.9.9.9", "dave", 200, NULL), 200);
    fx_teardown();
}

static void account_from_json(void **state)
{
    (void)state;
    fx_setup(ROUTE "lockout: {account: {json: user}, max_failures: 100, account_failures: 1, "
                   "account_ips: 1, lock: 10s}}\n");
    const char *head = "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n";
    struct fx_exchange *e = fx_exchange(0, head, "10.0.0.1");
    e->body = "{\"pw\":\"x\",\"user\":\"erin\",\"n\":{\"user\":1}}";
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_int_equal(e->need_body_calls, 1);
    struct response r;
    response_init(&r, &e->x.arena, 401, 4);
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, &r);
    fx_end(e, 401);
    e = fx_exchange(0, head, "10.0.0.2");
    e->body = "{\"user\" : \"erin\" }";
    assert_int_equal(pipeline_request(&e->x), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 429);
    fx_end(e, 429);
    fx_teardown();

    struct str b = str_cstr("{\"a\":\"\\\"user\\\":\",\"x\":[{\"user\":\"no\"}],\"user\":\"yes\"}");
    struct str v = lockout_json_field(b, STR_LIT("user"));
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.ptr, "yes", 3);
    assert_int_equal(lockout_json_field(str_cstr("{\"user\":\"unterminated"), STR_LIT("user")).len, 0);
    assert_int_equal(lockout_json_field(str_cstr("[\"user\",\"x\"]"), STR_LIT("user")).len, 0);
    v = lockout_form_field(str_cstr("a=1&user=fred&b=2"), STR_LIT("user"));
    assert_int_equal(v.len, 4);
}

static void kv_list_unlock(void **state)
{
    (void)state;
    void *st = kv_memory.open(4);
    assert_int_equal(kv_memory.lock(st, STR_LIT("z|ip|1"), 100, 1000, 8000, true), 1000);
    assert_int_equal(kv_memory.lock(st, STR_LIT("z|ip|2"), 100, 1000, 8000, true), 1000);
    assert_int_equal(kv_memory.lock(st, STR_LIT("y|ip|3"), 100, 1000, 8000, true), 1000);
    assert_int_equal(kv_memory.list(st, STR_LIT("z|"), 500, NULL, NULL), 2);
    assert_int_equal(kv_memory.list(st, STR_LIT(""), 1200, NULL, NULL), 0); /* expired */
    assert_int_equal(kv_memory.lock(st, STR_LIT("y|ip|3"), 1200, 1000, 8000, true), 2000);
    assert_int_equal(kv_memory.unlock_prefix(st, STR_LIT("z|")), 2); /* strikes forgotten too */
    assert_int_equal(kv_memory.lock(st, STR_LIT("z|ip|1"), 1200, 1000, 8000, true), 1000);
    assert_true(kv_memory.unlock(st, STR_LIT("z|ip|1")));
    uint32_t strikes;
    assert_int_equal(kv_memory.check(st, STR_LIT("z|ip|1"), 1300, &strikes), 0);
    assert_int_equal(strikes, 0);
    kv_memory.close(st);
    /* full: a new key is not counted, until the old ones are dead */
    st = kv_memory.open(1);
    kv_memory.hit(st, STR_LIT("a"), 1, 1300, 100);
    struct kv_hit h = kv_memory.hit(st, STR_LIT("b"), 1, 1300, 100);
    assert_int_equal(h.count, 0);
    h = kv_memory.hit(st, STR_LIT("b"), 1, 100000, 100);
    assert_int_equal(h.count, 1);
    kv_memory.close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_address_then_doubling),
        cmocka_unit_test(window_expires),
        cmocka_unit_test(distributed_account),
        cmocka_unit_test(account_from_json),
        cmocka_unit_test(kv_list_unlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

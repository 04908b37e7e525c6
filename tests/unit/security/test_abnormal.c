/* test_abnormal.c — abnormal access: too many 403/404s, too many requests to one path, the
 * penalty and its end, clients told apart by subject when one is set. */
#include "module_fixture.h"

#define ROUTE FX_ROUTE_HEAD "routes:\n  - {path: /, upstream: g, request_buffering: off, "

static uint16_t req(const char *path, const char *ip, const char *subject, uint16_t status)
{
    char head[256];
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
    struct fx_exchange *e = fx_exchange(0, head, ip);
    e->x.client_id = subject;
    enum pipeline_verdict v = pipeline_request(&e->x);
    uint16_t st;
    if (v == PIPELINE_RESPOND) {
        st = e->x.reply.status;
        pipeline_response_head(&e->x, &e->x.reply);
    } else {
        struct response r;
        response_init(&r, &e->x.arena, status, 4);
        e->x.upstream_head = true;
        pipeline_response_head(&e->x, &r);
        st = status;
    }
    fx_end(e, st);
    return st;
}

static void errors_then_penalty(void **state)
{
    (void)state;
    fx_setup(ROUTE "abnormal: {rules: [{status: [403, 404], max: 3, window: 10s}], "
                   "penalty: 20s, status: 403}}\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(req("/x", "10.0.0.1", NULL, 404), 404);
    assert_int_equal(req("/y", "10.0.0.1", NULL, 200), 200);
    assert_int_equal(req("/z", "10.0.0.1", NULL, 403), 403); /* the 4th: over 3 */
    assert_int_equal(req("/y", "10.0.0.1", NULL, 200), 403); /* penalized */
    assert_int_equal(req("/y", "10.0.0.2", NULL, 200), 200);
    fx_advance(20000);
    assert_int_equal(req("/y", "10.0.0.1", NULL, 200), 200);
    fx_teardown();
}

static void same_path_and_subject(void **state)
{
    (void)state;
    fx_setup(ROUTE "abnormal: {rules: [{same_path: true, max: 3, window: 1s}], penalty: 5s}}\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(req("/a?i=1", "10.0.0.1", "u1", 200), 200);
    assert_int_equal(req("/b", "10.0.0.1", "u1", 200), 200);
    assert_int_equal(req("/a?i=2", "10.0.0.1", "u1", 200), 429);   /* 4th to /a */
    assert_int_equal(req("/b", "10.0.0.1", "u1", 200), 429);       /* the subject is penalized */
    assert_int_equal(req("/b", "10.0.0.1", "u2", 200), 200);       /* another subject, same IP */
    assert_int_equal(req("/b", "10.0.0.1", NULL, 200), 200);
    fx_advance(1000);                                              /* a new window for u2 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(req("/a", "10.0.0.1", "u2", 200), 200);
    fx_teardown();

    modules_register();
    const char *bad = ROUTE "abnormal: {rules: [{status: [404], same_path: true, max: 1}]}}\n";
    struct cfg_error err;
    assert_null(config_load_buffer(bad, strlen(bad), "t.yaml", &err));
    assert_non_null(strstr(err.msg, "either"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_then_penalty),
        cmocka_unit_test(same_path_and_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

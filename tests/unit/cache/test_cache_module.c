/* test_cache_module.c — the cache module against the fake host (module_fixture.h): a miss goes
 * on and its response is stored as its bytes are seen, the next request is answered from the
 * store (Age, X-Cache, its own request id); a second miss on another worker waits for the
 * first and is woken across workers when the response is stored (COALESCED); an uncacheable
 * answer releases the waiters at its head and leaves a hit-for-pass marker (PASS); unsafe
 * methods invalidate; the access-log word is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../modules/module_fixture.h"

static const char *config =
    FX_ROUTE_HEAD "routes:\n  - path: /\n    upstream: g\n    cache: on\n";

static int setup(void **state)
{
    (void)state;
    fx_setup(config);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_teardown();
    return 0;
}

/* The upstream answers e: a head with `cc` (NULL: none) and `body`, all of it seen. */
static void upstream_answers(struct fx_exchange *e, const char *cc, const char *body)
{
    struct response r;
    assert_int_equal(response_init(&r, &e->x.arena, 200, 8), 0);
    if (cc)
        response_add(&r, &e->x.arena, STR_LIT("Cache-Control"), str_cstr(cc));
    response_add(&r, &e->x.arena, STR_LIT("Content-Type"), STR_LIT("text/plain"));
    r.content_length = (int64_t)strlen(body);
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, &r);
    pipeline_observe(&e->x, body, strlen(body));
    e->x.response_complete = true;
}

static struct fx_exchange *request(uint32_t w, const char *head)
{
    return fx_exchange(w, head, NULL);
}

static void test_miss_then_hit(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    assert_string_equal(a->x.log_cache, "MISS");
    upstream_answers(a, "max-age=60", "hello");
    fx_end(a, 200);

    struct fx_exchange *b = request(1, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_RESPOND);
    assert_int_equal(b->x.reply.status, 200);
    assert_string_equal(fx_reply_body(b), "hello");
    assert_string_equal(fx_reply_header(b, "X-Cache"), "HIT");
    assert_string_equal(fx_reply_header(b, "Age"), "0");
    assert_string_equal(fx_reply_header(b, "X-Request-Id"), "rid");
    assert_string_equal(fx_reply_header(b, "Content-Type"), "text/plain");
    assert_string_equal(b->x.log_cache, "HIT");
    fx_end(b, 200);

    /* another host is another key */
    struct fx_exchange *c = request(0, "GET /a HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_NEXT);
    fx_end(c, 0);
}

static void test_coalesced_across_workers(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = request(1, "GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    assert_int_equal(b->done_calls, 0);
    upstream_answers(a, "max-age=60", "shared");
    /* stored at the last byte: the waiter on worker 1 is woken through a posted call */
    assert_true(fx_run_posts() >= 1);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->done, PIPELINE_RESPOND);
    assert_string_equal(fx_reply_body(b), "shared");
    assert_string_equal(fx_reply_header(b, "X-Cache"), "COALESCED");
    fx_end(a, 200);
    fx_end(b, 200);
}

static void test_hit_for_pass(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = request(0, "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    upstream_answers(a, NULL, "not cacheable"); /* no freshness, no validator */
    /* released at the head: b goes upstream itself, as a pass */
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->done, PIPELINE_NEXT);
    assert_string_equal(b->x.log_cache, "PASS");
    struct fx_exchange *c = request(1, "GET /p HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_NEXT); /* no waiting */
    assert_string_equal(c->x.log_cache, "PASS");
    fx_end(a, 200);
    fx_end(b, 200);
    fx_end(c, 200);
}

static void test_waiter_gone_and_timeout(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = request(0, "GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    struct fx_exchange *d = request(1, "GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    assert_int_equal(pipeline_request(&d->x), PIPELINE_WAIT);
    fx_end(b, 0);               /* the client went away while waiting */
    fx_advance(10001);          /* coalesce_wait (10 s): d goes up alone */
    assert_int_equal(d->done_calls, 1);
    assert_int_equal(d->done, PIPELINE_NEXT);
    fx_end(a, 0);               /* the leader's client went away: nothing stored */
    fx_run_posts();
    fx_end(d, 0);
    struct fx_exchange *e = request(0, "GET /t HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    assert_string_equal(e->x.log_cache, "MISS");
    fx_end(e, 0);
}

static void test_unsafe_method_invalidates(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /u HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    upstream_answers(a, "max-age=60", "v1");
    fx_end(a, 200);
    struct fx_exchange *p = request(0, "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(pipeline_request(&p->x), PIPELINE_NEXT);
    struct response r;
    response_init(&r, &p->x.arena, 204, 4);
    p->x.upstream_head = true;
    pipeline_response_head(&p->x, &r);
    fx_end(p, 204);
    struct fx_exchange *b = request(1, "GET /u HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_NEXT);
    fx_end(b, 0);
    fx_run_posts();
}

static void test_conditional_and_head_from_store(void **state)
{
    (void)state;
    struct fx_exchange *a = request(0, "GET /e HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct response r;
    response_init(&r, &a->x.arena, 200, 8);
    response_add(&r, &a->x.arena, STR_LIT("Cache-Control"), STR_LIT("max-age=60"));
    response_add(&r, &a->x.arena, STR_LIT("ETag"), STR_LIT("\"t1\""));
    r.content_length = 4;
    a->x.upstream_head = true;
    pipeline_response_head(&a->x, &r);
    pipeline_observe(&a->x, "body", 4);
    fx_end(a, 200);
    struct fx_exchange *b =
        request(0, "GET /e HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"t1\"\r\n\r\n");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_RESPOND);
    assert_int_equal(b->x.reply.status, 304);
    assert_true(b->x.reply.no_body);
    assert_string_equal(fx_reply_header(b, "ETag"), "\"t1\"");
    fx_end(b, 304);
    struct fx_exchange *c = request(1, "HEAD /e HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_RESPOND);
    assert_int_equal(c->x.reply.status, 200);
    assert_int_equal(c->x.reply.content_length, 4);
    fx_end(c, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_miss_then_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coalesced_across_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hit_for_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiter_gone_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_method_invalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional_and_head_from_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

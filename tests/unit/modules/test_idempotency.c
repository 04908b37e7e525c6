/* test_idempotency.c — the idempotency module: claim, record (head + observed body), replay
 * with Idempotent-Replayed, a duplicate in flight waits and is woken by the completion, 422 on
 * another body, 409 after the wait, refusals and incomplete responses are not stored, and a
 * store that answers later (the claim waits, resumes, carries its token; a leaver cancels). */
#include "module_fixture.h"

#include "resilience/shared_state.h"
#include "state/store.h"

static const char *yaml = FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\n"
                                        "routes:\n  - path: /\n    upstream: g\n"
                                        "    request_buffering: off\n"
                                        "    idempotency: {wait: 100ms}\n";

#define POST(key, len) "POST /pay HTTP/1.1\r\nHost: a\r\nIdempotency-Key: " key \
                       "\r\nContent-Length: " #len "\r\n\r\n"

/* The upstream's answer as the host would pass it: head hooks, then body bytes, then end. */
static void answer(struct fx_exchange *e, const char *body, bool complete)
{
    struct response r;
    assert_int_equal(response_init(&r, &e->x.arena, 201, 4), 0);
    response_add(&r, &e->x.arena, STR_LIT("X-Order"), STR_LIT("42"));
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, &r);
    pipeline_observe(&e->x, body, strlen(body));
    e->x.response_complete = complete;
    fx_end(e, 201);
}

static struct fx_exchange *post(uint32_t w, const char *head, const char *body)
{
    struct fx_exchange *e = fx_exchange(w, head, NULL);
    e->body = body;
    return e;
}

static void claim_record_replay(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *a = post(0, POST("k1", 9), "amount=10");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    assert_int_equal(a->need_body_calls, 1);
    assert_true(a->x.retry_safe); /* a keyed POST may be retried */
    answer(a, "{\"ok\":1}", true);

    struct fx_exchange *b = post(1, POST("k1", 9), "amount=10");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_RESPOND);
    assert_int_equal(b->x.reply.status, 201);
    assert_string_equal(fx_reply_header(b, "Idempotent-Replayed"), "true");
    assert_string_equal(fx_reply_header(b, "X-Order"), "42");
    assert_string_equal(fx_reply_body(b), "{\"ok\":1}");
    assert_int_equal(b->x.reply.content_length, 8);
    fx_end(b, 201);

    struct fx_exchange *c = post(0, POST("k1", 9), "amount=99");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_RESPOND);
    assert_int_equal(c->x.reply.status, 422);
    fx_end(c, 422);
    fx_teardown();
}

static void duplicate_waits_and_is_woken(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *a = post(0, POST("k2", 1), "x");
    a->body_async = true;
    assert_int_equal(pipeline_request(&a->x), PIPELINE_WAIT); /* reading the body */
    fx_supply_body(a);
    assert_int_equal(a->done_calls, 1);
    assert_int_equal(a->done, PIPELINE_NEXT);
    struct fx_exchange *b = post(1, POST("k2", 1), "x");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    struct fx_exchange *c = post(0, POST("k2", 1), "x");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_WAIT);
    answer(a, "done", true);
    assert_int_equal(c->done_calls, 1); /* same worker: at once */
    assert_int_equal(c->done, PIPELINE_RESPOND);
    assert_int_equal(fx_run_posts(), 1);
    assert_int_equal(b->done_calls, 1);
    assert_int_equal(b->done, PIPELINE_RESPOND);
    assert_string_equal(fx_reply_body(b), "done");
    fx_end(b, 201);
    fx_end(c, 201);
    fx_teardown();
}

static void wait_ends_with_409_and_failures_are_not_stored(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *a = post(0, POST("k3", 1), "x");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    struct fx_exchange *b = post(0, POST("k3", 1), "x");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    fx_advance(101);
    assert_int_equal(b->done, PIPELINE_RESPOND);
    assert_int_equal(b->x.reply.status, 409);
    fx_end(b, 409);
    /* The first one's response never completed: nothing stored, the next claims anew. */
    answer(a, "partial", false);
    struct fx_exchange *c = post(0, POST("k3", 1), "x");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_NEXT);
    /* A refusal by weir (no upstream head) is not stored either. */
    struct response r;
    response_init(&r, &c->x.arena, 502, 2);
    pipeline_response_head(&c->x, &r);
    c->x.response_complete = true;
    fx_end(c, 502);
    struct fx_exchange *d = post(0, POST("k3", 1), "x");
    assert_int_equal(pipeline_request(&d->x), PIPELINE_NEXT);
    fx_end(d, 0);
    fx_teardown();
}

static void unkeyed_and_unbufferable_go_through(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct fx_exchange *a = post(0, "POST /pay HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", "x");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_NEXT);
    assert_int_equal(a->need_body_calls, 0);
    assert_false(a->x.retry_safe);
    fx_end(a, 200);
    struct fx_exchange *b = post(0, POST("k4", 1), NULL); /* the host cannot keep the body */
    assert_int_equal(pipeline_request(&b->x), PIPELINE_NEXT);
    assert_false(b->x.retry_safe);
    fx_end(b, 200);
    fx_teardown();
}

/* A store that answers later (as Redis will): begin_async keeps the call, the test answers it. */
static struct store_call *pending_call;
static int cancels;
static uint64_t completed_token, aborted_token;

static void slow_begin(void *st, struct store_call *call)
{
    (void)st;
    call->backend = call;
    pending_call = call;
}

static void slow_cancel(void *st, struct store_call *call)
{
    (void)st;
    assert_ptr_equal(call, pending_call);
    pending_call = NULL;
    cancels++;
}

static void slow_complete(void *st, struct str key, uint64_t token, const char *resp, size_t len,
                          uint64_t now_ms)
{
    (void)st, (void)key, (void)resp, (void)len, (void)now_ms;
    completed_token = token;
}

static void slow_abort(void *st, struct str key, uint64_t token)
{
    (void)st, (void)key;
    aborted_token = token;
}

static const struct store_ops slow_store = {
    .name = "slow",
    .complete = slow_complete,
    .abort = slow_abort,
    .begin_async = slow_begin,
    .cancel = slow_cancel,
};

static void answer_store(enum store_begin status, uint64_t token)
{
    struct store_call *call = pending_call;
    assert_non_null(call);
    pending_call = NULL;
    call->status = status;
    call->token = token;
    call->pending = false;
    call->done(call);
}

/* The claim waits for the store's answer (no worker ever blocks on it), resumes on it, and
 * completes or aborts with the claim's token; an exchange that leaves first cancels the call. */
static void store_answers_later(void **state)
{
    (void)state;
    fx_setup(yaml);
    struct route_state *rs = route_state_get(&fx.cfg->routes[0]);
    assert_non_null(rs);
    const struct store_ops *real_ops = rs->store_ops;
    rs->store_ops = &slow_store;

    struct fx_exchange *a = post(0, POST("k5", 1), "x");
    assert_int_equal(pipeline_request(&a->x), PIPELINE_WAIT);
    assert_int_equal(a->done_calls, 0);
    answer_store(STORE_NEW, 77);
    assert_int_equal(a->done_calls, 1);
    assert_int_equal(a->done, PIPELINE_NEXT);
    answer(a, "paid", true);
    assert_int_equal(completed_token, 77);

    struct fx_exchange *b = post(0, POST("k6", 1), "x");
    assert_int_equal(pipeline_request(&b->x), PIPELINE_WAIT);
    answer_store(STORE_NEW, 78);
    answer(b, "cut", false); /* incomplete: dropped with its token */
    assert_int_equal(aborted_token, 78);

    struct fx_exchange *c = post(0, POST("k7", 1), "x");
    assert_int_equal(pipeline_request(&c->x), PIPELINE_WAIT);
    fx_end(c, 499); /* the client left while the store worked */
    assert_int_equal(cancels, 1);
    assert_null(pending_call);

    rs->store_ops = real_ops;
    route_state_put(rs);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claim_record_replay),
        cmocka_unit_test(duplicate_waits_and_is_woken),
        cmocka_unit_test(wait_ends_with_409_and_failures_are_not_stored),
        cmocka_unit_test(unkeyed_and_unbufferable_go_through),
        cmocka_unit_test(store_answers_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

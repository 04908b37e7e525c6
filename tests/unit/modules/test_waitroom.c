/* test_waitroom.c — the waiting-room module against the fake host: an admitted visitor's cookie
 * (attributes, no store call and no new cookie on the next request), the queue response (status,
 * no-store, Retry-After, JSON fields), an early poll answered from the cookie alone, tampered
 * cookies counted, the origin's revoke header stripped with the cookie cleared and the slot
 * freed, bypass by header. */
#include "module_fixture.h"

#include "waitroom/wr_handle.h"

#define ROOM "    waiting_room:\n      name: u\n      max_active: 1\n      admit_per_minute: 1\n" \
             "      status: 202\n      refresh: 10s\n" \
             "      secret: 0123456789abcdef0123456789abcdef\n" \
             "      bypass: [{header: X-Key, value: open-sesame}]\n"

static const char *yaml = FX_ROUTE_HEAD "limits: {shed_loop_lag: off}\n"
                                        "routes:\n  - path: /\n    upstream: g\n"
                                        "    request_buffering: off\n" ROOM;

static char cookie[256];

/* Runs a request; returns its verdict and leaves the Set-Cookie value (or "") in cookie_out. */
static enum pipeline_verdict run(const char *extra, char *cookie_out, struct fx_exchange **keep)
{
    char head[1024];
    snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n%s\r\n",
             extra);
    struct fx_exchange *e = fx_exchange(0, head, "10.0.0.1");
    enum pipeline_verdict v = pipeline_request(&e->x);
    struct response up, *r = &e->x.reply;
    if (v == PIPELINE_NEXT) {
        assert_int_equal(response_init(&up, &e->x.arena, 200, 4), 0);
        r = &up;
    }
    pipeline_response_head(&e->x, r);
    struct str sc = response_get(r, STR_LIT("Set-Cookie"));
    snprintf(cookie_out, 256, "%.*s", (int)sc.len, sc.ptr ? sc.ptr : "");
    if (keep)
        *keep = e;
    else
        fx_end(e, v == PIPELINE_NEXT ? 200 : r->status);
    return v;
}

static void figures(struct wr_figures *f)
{
    struct wr_handle *h = wr_handle_find("u");
    assert_non_null(h);
    wr_handle_figures(h, f);
    wr_handle_put(h);
}

static void admitted_then_queue(void **state)
{
    (void)state;
    fx_setup(yaml);
    char sc[256], hdr[300];
    assert_int_equal(run("", sc, NULL), PIPELINE_NEXT);
    assert_non_null(strstr(sc, "weir_wr_u=a."));
    assert_non_null(strstr(sc, "; Path=/; HttpOnly; SameSite=Lax"));
    assert_null(strstr(sc, "Secure"));
    snprintf(cookie, sizeof(cookie), "%.*s", (int)(strchr(sc, ';') - sc), sc);
    /* the admitted visitor's next request: no store call, no new cookie */
    snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
    assert_int_equal(run(hdr, sc, NULL), PIPELINE_NEXT);
    assert_string_equal(sc, "");
    /* a second visitor queues */
    struct fx_exchange *e;
    assert_int_equal(run("", sc, &e), PIPELINE_RESPOND);
    assert_int_equal(e->x.reply.status, 202);
    assert_string_equal(fx_reply_header(e, "Cache-Control"), "no-store");
    assert_string_equal(fx_reply_header(e, "Retry-After"), "10");
    assert_string_equal(fx_reply_header(e, "Content-Type"), "application/json");
    assert_non_null(strstr(fx_reply_body(e), "\"state\":\"waiting\",\"position\":1,\"ahead\":0"));
    assert_non_null(strstr(sc, "weir_wr_u=w."));
    fx_end(e, 202);
    char waiter[256];
    snprintf(waiter, sizeof(waiter), "%.*s", (int)(strchr(sc, ';') - sc), sc);
    /* an immediate poll is answered from the cookie alone: no new cookie */
    snprintf(hdr, sizeof(hdr), "Cookie: other=1; %s\r\n", waiter);
    assert_int_equal(run(hdr, sc, NULL), PIPELINE_RESPOND);
    assert_string_equal(sc, "");
    /* a tampered cookie is a new visitor, counted */
    char bad[300];
    snprintf(bad, sizeof(bad), "Cookie: %s\r\n", waiter);
    bad[strlen(bad) - 4] ^= 1;
    assert_int_equal(run(bad, sc, NULL), PIPELINE_RESPOND);
    assert_non_null(strstr(sc, "weir_wr_u=w."));
    /* bypass */
    assert_int_equal(run("X-Key: open-sesame\r\n", sc, NULL), PIPELINE_NEXT);
    assert_int_equal(run("X-Key: open-sesamE\r\n", sc, NULL), PIPELINE_RESPOND);
    struct wr_figures f;
    figures(&f);
    assert_int_equal(f.cookies_rejected, 1);
    assert_int_equal(f.bypassed, 1);
    assert_int_equal(f.st.active, 1);
    assert_int_equal(f.st.waiting, 3);
    assert_int_equal(f.queue_replies, 4);

    /* the origin revokes the admitted session: header stripped, cookie cleared, slot granted */
    snprintf(hdr, sizeof(hdr), "Cookie: %s\r\n", cookie);
    char head[512];
    snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", hdr);
    e = fx_exchange(1, head, NULL);
    assert_int_equal(pipeline_request(&e->x), PIPELINE_NEXT);
    struct response up;
    assert_int_equal(response_init(&up, &e->x.arena, 200, 4), 0);
    response_add(&up, &e->x.arena, STR_LIT("Weir-Waiting-Room"), STR_LIT("revoke"));
    e->x.upstream_head = true;
    pipeline_response_head(&e->x, &up);
    assert_int_equal(response_find(&up, STR_LIT("Weir-Waiting-Room")), -1);
    struct str v = response_get(&up, STR_LIT("Set-Cookie"));
    assert_non_null(v.ptr);
    assert_memory_equal(v.ptr, "weir_wr_u=; Path=/; Max-Age=0", 29);
    fx_end(e, 200);
    figures(&f);
    assert_int_equal(f.st.active, 0);
    assert_int_equal(f.st.reserved, 0); /* the slot is free; the rate (1 a minute) holds */
    assert_int_equal(f.st.revoked, 1);
    fx_teardown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(admitted_then_queue)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

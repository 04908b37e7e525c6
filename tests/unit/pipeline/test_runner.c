/* test_runner.c — the pipeline runner against a fake host and fake modules: hook order,
 * short-circuit, wait and resume (timer, explicit, from inside the hook), on_end exactly once
 * for every module that ran (also when abandoned while waiting), response hooks in reverse,
 * body transforms alone and chained. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/config_types.h"
#include "pipeline/chain.h"
#include "pipeline/runner.h"

/* ---- fake modules: A (access), B (limit), C (cache); behaviour set per test ---------------- */

struct fake {
    enum pipeline_verdict verdict;  /* what on_request says */
    int wait_times;                 /* say WAIT this many times first */
    bool resume_inside;             /* call pipeline_resume before returning WAIT */
    bool transform;                 /* turn on its body transform in on_response_head */
    bool enabled;
};

static struct fake fakes[3];
static char trace[256];
static int ends[3];

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = strlen(trace);
    vsnprintf(trace + n, sizeof(trace) - n, fmt, ap);
    va_end(ap);
}

struct fctx {
    int calls;
};

#define FAKE(idx, letter)                                                                         \
    static enum pipeline_verdict req_##letter(struct exchange *x, void *ctx)                     \
    {                                                                                             \
        struct fctx *c = ctx;                                                                     \
        note(#letter);                                                                            \
        if (c->calls++ < fakes[idx].wait_times) {                                                \
            if (fakes[idx].resume_inside)                                                         \
                pipeline_resume(x);                                                               \
            else                                                                                  \
                return pipeline_wait_until(x, x->worker->loop->now_ms + 10);                     \
            return PIPELINE_WAIT;                                                                 \
        }                                                                                         \
        if (fakes[idx].verdict == PIPELINE_RESPOND)                                               \
            return pipeline_reply(x, 429, "fake " #letter);                                       \
        return fakes[idx].verdict;                                                                \
    }                                                                                             \
    static void head_##letter(struct exchange *x, void *ctx, struct response *r)                  \
    {                                                                                             \
        note("h" #letter);                                                                       \
        response_add(r, &x->arena, STR_LIT("X-By"), STR_LIT(#letter));                           \
        if (fakes[idx].transform)                                                                 \
            pipeline_transform_on(x, ctx);                                                        \
    }                                                                                             \
    static void end_##letter(struct exchange *x, void *ctx)                                       \
    {                                                                                             \
        (void)x;                                                                                  \
        (void)ctx;                                                                                \
        note("e" #letter);                                                                       \
        ends[idx]++;                                                                              \
    }                                                                                             \
    static bool on_##letter(const struct config *cfg, const struct cfg_route *r)                  \
    {                                                                                             \
        (void)cfg;                                                                                \
        (void)r;                                                                                  \
        return fakes[idx].enabled;                                                                \
    }

FAKE(0, A)
FAKE(1, B)
FAKE(2, C)

/* A: upper-cases. B: doubles every byte (output larger than input: pending output). */
static int upper(struct exchange *x, void *ctx, const char **in, size_t *in_len, char *out,
                 size_t cap, size_t *out_len, bool fin)
{
    (void)x, (void)ctx, (void)fin;
    size_t n = *in_len < cap ? *in_len : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)(*in)[i]);
    *in += n;
    *in_len -= n;
    *out_len = n;
    return *in_len ? 1 : 0;
}

struct dctx {
    struct fctx base;
    bool half; /* the second copy of the last byte is still owed */
    char owed;
};

static int doubler(struct exchange *x, void *ctx, const char **in, size_t *in_len, char *out,
                   size_t cap, size_t *out_len, bool fin)
{
    (void)x, (void)fin;
    struct dctx *d = ctx;
    size_t o = 0;
    if (d->half && o < cap) {
        out[o++] = d->owed;
        d->half = false;
    }
    while (*in_len && o < cap) {
        char ch = **in;
        (*in)++;
        (*in_len)--;
        out[o++] = ch;
        if (o < cap) {
            out[o++] = ch;
        } else {
            d->half = true;
            d->owed = ch;
        }
    }
    *out_len = o;
    return (*in_len || d->half) ? 1 : 0;
}

static const struct pipeline_module mod_a = {
    .name = "a", .phase = PIPELINE_PHASE_ACCESS, .ctx_size = sizeof(struct fctx),
    .enabled = on_A, .on_request = req_A, .on_response_head = head_A, .on_end = end_A,
    .on_response_body = upper};
static const struct pipeline_module mod_b = {
    .name = "b", .phase = PIPELINE_PHASE_LIMIT, .ctx_size = sizeof(struct dctx),
    .enabled = on_B, .on_request = req_B, .on_response_head = head_B, .on_end = end_B,
    .on_response_body = doubler};
static const struct pipeline_module mod_c = {
    .name = "c", .phase = PIPELINE_PHASE_CACHE, .ctx_size = sizeof(struct fctx),
    .enabled = on_C, .on_request = req_C, .on_response_head = head_C, .on_end = end_C};

static const struct pipeline_module *const modules[] = {&mod_a, &mod_b, &mod_c};
static const struct pipeline_registry registry = {.modules = modules, .n = 3};

/* ---- fake host --------------------------------------------------------------------------- */

static struct ev_loop loop;
static struct pipeline_worker worker = {.loop = &loop, .id = 0, .nworkers = 1};
static int done_calls;
static enum pipeline_verdict done_verdict;

static void request_done(struct exchange *x, enum pipeline_verdict v)
{
    (void)x;
    done_calls++;
    done_verdict = v;
}

static const struct exchange_host_ops host = {.request_done = request_done};
static struct config cfg;
static struct cfg_route route;
static struct h1_request req;

static struct exchange *x_new(struct pipeline_chain **chain)
{
    static struct exchange x;
    *chain = pipeline_chain_build(&cfg, &route);
    assert_non_null(*chain);
    x = (struct exchange){.host = &host, .worker = &worker, .cfg = &cfg, .route = &route,
                          .chain = *chain, .req = &req, .client_ip = "127.0.0.1",
                          .request_id = "rid"};
    pipeline_start(&x);
    return &x;
}

static int setup(void **state)
{
    (void)state;
    memset(fakes, 0, sizeof(fakes));
    for (int i = 0; i < 3; i++)
        fakes[i].enabled = true;
    memset(ends, 0, sizeof(ends));
    trace[0] = '\0';
    done_calls = 0;
    loop = (struct ev_loop){.now_ms = 1000};
    timer_wheel_init(&loop.timers, 1000);
    pipeline_registry_set(&registry);
    return 0;
}

static void advance(uint64_t ms)
{
    loop.now_ms += ms;
    timer_wheel_run(&loop.timers, loop.now_ms);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void all_next_in_order_then_end_reverse(void **state)
{
    (void)state;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(c->n, 3);
    assert_int_equal(pipeline_request(x), PIPELINE_NEXT);
    struct response r;
    assert_int_equal(response_init(&r, &x->arena, 200, 4), 0);
    pipeline_response_head(x, &r);
    assert_int_equal(r.nheaders, 3);
    assert_memory_equal(r.headers[0].value.ptr, "C", 1); /* nearest the upstream first */
    pipeline_end(x, 200);
    pipeline_end(x, 200); /* idempotent */
    assert_string_equal(trace, "ABChChBhAeCeBeA");
    for (int i = 0; i < 3; i++)
        assert_int_equal(ends[i], 1);
    pipeline_chain_free(c);
}

static void disabled_modules_are_not_in_the_chain(void **state)
{
    (void)state;
    fakes[1].enabled = false;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(c->n, 2);
    assert_int_equal(pipeline_request(x), PIPELINE_NEXT);
    pipeline_end(x, 200);
    assert_string_equal(trace, "ACeCeA");
    pipeline_chain_free(c);
}

static void respond_short_circuits_and_later_modules_never_run(void **state)
{
    (void)state;
    fakes[1].verdict = PIPELINE_RESPOND;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_RESPOND);
    assert_true(x->has_reply);
    assert_int_equal(x->reply.status, 429);
    assert_true(x->reply.body_len > 0);
    assert_non_null(strstr(x->reply.body, "fake B (request id rid)"));
    pipeline_response_head(x, &x->reply); /* the reply passes the hooks of A and B only */
    pipeline_end(x, 429);
    assert_string_equal(trace, "ABhBhAeBeA");
    assert_int_equal(ends[2], 0);
    pipeline_chain_free(c);
}

static void fail_names_the_module(void **state)
{
    (void)state;
    fakes[0].verdict = PIPELINE_FAIL;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_FAIL);
    assert_string_equal(x->fail_reason, "a");
    pipeline_end(x, 500);
    assert_string_equal(trace, "AeA");
    pipeline_chain_free(c);
}

static void wait_resumes_from_timer_and_reruns_the_waiting_hook(void **state)
{
    (void)state;
    fakes[1].wait_times = 2;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_WAIT);
    assert_string_equal(trace, "AB");
    advance(5);
    assert_int_equal(done_calls, 0);
    advance(6);
    assert_string_equal(trace, "ABB");
    assert_int_equal(done_calls, 0); /* waits again */
    advance(10);
    assert_int_equal(done_calls, 1);
    assert_int_equal(done_verdict, PIPELINE_NEXT);
    assert_string_equal(trace, "ABBBC");
    pipeline_end(x, 200);
    pipeline_chain_free(c);
}

static void resume_from_inside_the_hook_reruns_at_once(void **state)
{
    (void)state;
    fakes[0].wait_times = 1;
    fakes[0].resume_inside = true;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_NEXT);
    assert_string_equal(trace, "AABC");
    assert_int_equal(done_calls, 0);
    pipeline_end(x, 200);
    pipeline_chain_free(c);
}

static void explicit_resume_and_abandon_while_waiting(void **state)
{
    (void)state;
    fakes[2].wait_times = 100;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_WAIT);
    pipeline_resume(x);
    assert_string_equal(trace, "ABCC");
    /* The client goes away: every module that ran gets on_end, the wait timer is gone. */
    pipeline_end(x, 0);
    assert_string_equal(trace, "ABCCeCeBeA");
    assert_int_equal(loop.timers.count, 0);
    advance(100);
    pipeline_resume(x); /* too late: ignored */
    assert_int_equal(done_calls, 0);
    assert_string_equal(trace, "ABCCeCeBeA");
    pipeline_chain_free(c);
}

static void run_body(struct exchange *x, const char *input, size_t cap, char *got, size_t *glen)
{
    const char *in = input;
    size_t in_len = strlen(input);
    *glen = 0;
    char out[64];
    assert_true(cap <= sizeof(out));
    for (int guard = 0; guard < 10000; guard++) {
        size_t n = 0;
        /* feed at most 3 bytes at a time, finish at the end */
        size_t give = in_len < 3 ? in_len : 3;
        const char *p = in;
        size_t left = give;
        bool fin = give == in_len;
        int r = pipeline_body(x, &p, &left, out, cap, &n, fin);
        assert_true(r >= 0);
        memcpy(got + *glen, out, n);
        *glen += n;
        in += give - left;
        in_len -= give - left;
        if (r == 0 && fin && in_len == 0)
            return;
    }
    fail_msg("body transform did not finish");
}

static void body_transforms_single_and_chained(void **state)
{
    (void)state;
    fakes[0].transform = true;
    struct pipeline_chain *c;
    struct exchange *x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_NEXT);
    struct response r;
    response_init(&r, &x->arena, 200, 4);
    pipeline_response_head(x, &r);
    assert_int_equal(x->ntransforms, 1);
    char got[256];
    size_t glen;
    run_body(x, "hello, pipeline", 4, got, &glen);
    assert_int_equal(glen, 15);
    assert_memory_equal(got, "HELLO, PIPELINE", 15);
    pipeline_end(x, 200);
    pipeline_chain_free(c);

    /* B (nearer the upstream) doubles, then A upper-cases: small output buffers throughout. */
    fakes[1].transform = true;
    x = x_new(&c);
    assert_int_equal(pipeline_request(x), PIPELINE_NEXT);
    response_init(&r, &x->arena, 200, 4);
    pipeline_response_head(x, &r);
    assert_int_equal(x->ntransforms, 2);
    assert_int_equal(x->transforms[0], 1);
    run_body(x, "abcdefghij", 5, got, &glen);
    assert_int_equal(glen, 20);
    assert_memory_equal(got, "AABBCCDDEEFFGGHHIIJJ", 20);
    pipeline_end(x, 200);
    pipeline_chain_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(all_next_in_order_then_end_reverse, setup),
        cmocka_unit_test_setup(disabled_modules_are_not_in_the_chain, setup),
        cmocka_unit_test_setup(respond_short_circuits_and_later_modules_never_run, setup),
        cmocka_unit_test_setup(fail_names_the_module, setup),
        cmocka_unit_test_setup(wait_resumes_from_timer_and_reruns_the_waiting_hook, setup),
        cmocka_unit_test_setup(resume_from_inside_the_hook_reruns_at_once, setup),
        cmocka_unit_test_setup(explicit_resume_and_abandon_while_waiting, setup),
        cmocka_unit_test_setup(body_transforms_single_and_chained, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

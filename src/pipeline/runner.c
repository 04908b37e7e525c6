/* runner.c — see runner.h. The request side is a cursor over the chain (x->next): a hook that
 * says WAIT leaves the cursor on itself, so the resume re-runs it (nginx's phase handlers work
 * the same way). A resume that happens inside a hook (a store answering at once) is only
 * flagged, and the loop in run_request picks it up: hooks never recurse into the runner. */
#include "pipeline/runner.h"

#include <stdio.h>
#include <string.h>

#include "core/dlist.h"
#include "http/h1.h"

static void on_wait_timer(struct timer *t);

void pipeline_start(struct exchange *x)
{
    x->next = x->nran = 0;
    x->waiting = x->in_request = x->resume_pending = x->ended = false;
    x->ntransforms = x->nobservers = 0;
    x->status = 0;
    x->upstream_head = x->response_complete = false;
    x->fail_reason = NULL;
    x->has_reply = false;
    x->replier = 0;
    x->body = STR_NULL;
    x->body_ready = false;
    x->upstream_drop = NULL;
    x->nupstream_drop = 0;
    x->upstream_add = STR_NULL;
    x->upstream_target = STR_NULL;
    x->log_cache = NULL;
    x->client_id = NULL;
    x->auth_claims = STR_NULL;
    x->stages = NULL;
    timer_init(&x->wait_timer, on_wait_timer);
    arena_init(&x->arena, x->arena_inline, sizeof(x->arena_inline));
}

void *pipeline_ctx(struct exchange *x, const struct pipeline_module *m)
{
    const struct pipeline_chain *c = x->chain;
    for (uint32_t i = 0; c && i < c->n && i < x->nran; i++)
        if (c->links[i].m == m)
            return x->ctx[i];
    return NULL;
}

static enum pipeline_verdict run_request(struct exchange *x)
{
    const struct pipeline_chain *c = x->chain;
    x->in_request = true;
    while (c && x->next < c->n) {
        uint32_t i = x->next;
        const struct pipeline_module *m = c->links[i].m;
        if (i >= x->nran) {
            if (m->ctx_size) {
                x->ctx[i] = arena_calloc(&x->arena, m->ctx_size);
                if (!x->ctx[i]) {
                    x->in_request = false;
                    x->fail_reason = "out of memory";
                    return PIPELINE_FAIL;
                }
            } else {
                x->ctx[i] = NULL;
            }
            x->nran = (uint8_t)(i + 1);
        }
        x->resume_pending = false;
        x->link = &c->links[i];
        enum pipeline_verdict v = m->on_request ? m->on_request(x, x->ctx[i]) : PIPELINE_NEXT;
        if (v == PIPELINE_WAIT) {
            if (x->resume_pending)
                continue; /* woken before it returned: run it again */
            x->waiting = true;
            x->in_request = false;
            return v;
        }
        timer_disarm(&x->worker->loop->timers, &x->wait_timer);
        if (v != PIPELINE_NEXT) {
            x->in_request = false;
            if (v == PIPELINE_RESPOND)
                x->replier = (uint8_t)(i + 1);
            if (v == PIPELINE_FAIL && !x->fail_reason)
                x->fail_reason = m->name;
            return v;
        }
        x->next++;
    }
    x->in_request = false;
    return PIPELINE_NEXT;
}

enum pipeline_verdict pipeline_request(struct exchange *x)
{
    if (!x->chain || x->chain->n == 0)
        return PIPELINE_NEXT; /* the common route: nothing to run */
    return run_request(x);
}

void pipeline_resume(struct exchange *x)
{
    if (x->ended)
        return;
    if (x->in_request) {
        x->resume_pending = true;
        return;
    }
    if (!x->waiting)
        return;
    x->waiting = false;
    timer_disarm(&x->worker->loop->timers, &x->wait_timer);
    enum pipeline_verdict v = run_request(x);
    if (v != PIPELINE_WAIT)
        x->host->request_done(x, v);
}

static void on_wait_timer(struct timer *t)
{
    struct exchange *x = container_of(t, struct exchange, wait_timer);
    pipeline_resume(x);
}

enum pipeline_verdict pipeline_wait_until(struct exchange *x, uint64_t deadline_ms)
{
    timer_arm(&x->worker->loop->timers, &x->wait_timer, deadline_ms);
    return PIPELINE_WAIT;
}

int pipeline_file_window(struct exchange *x, uint64_t off, size_t len)
{
    if (!x->replier || x->ended)
        return 0;
    uint32_t i = x->replier - 1u;
    const struct pipeline_module *m = x->chain->links[i].m;
    if (!m->on_file_window)
        return 0;
    x->link = &x->chain->links[i];
    return m->on_file_window(x, x->ctx[i], off, len);
}

void pipeline_body_continue(struct exchange *x)
{
    if (!x->ended && x->host->body_continue)
        x->host->body_continue(x);
}

enum pipeline_verdict pipeline_need_body(struct exchange *x)
{
    if (x->body_ready)
        return PIPELINE_NEXT;
    if (!x->host->need_body || x->host->need_body(x) != 0)
        return PIPELINE_NEXT;
    return x->body_ready ? PIPELINE_NEXT : PIPELINE_WAIT;
}

void pipeline_response_head(struct exchange *x, struct response *r)
{
    const struct pipeline_chain *c = x->chain;
    if (!c || !c->response_hooks)
        return;
    for (uint32_t i = x->nran; i-- > 0;) {
        const struct pipeline_module *m = c->links[i].m;
        x->link = &c->links[i];
        if (m->on_response_head)
            m->on_response_head(x, x->ctx[i], r);
    }
}

/* Adds the chain index of the module whose context is ctx to a set (kept in call order). */
static int add_to_set(struct exchange *x, const void *ctx, uint8_t *set, uint8_t *n, bool body)
{
    const struct pipeline_chain *c = x->chain;
    for (uint32_t i = 0; c && i < x->nran; i++) {
        const struct pipeline_module *m = c->links[i].m;
        if (x->ctx[i] != ctx || !(body ? m->on_response_body != NULL : m->on_response_data != NULL))
            continue;
        for (uint32_t k = 0; k < *n; k++)
            if (set[k] == i)
                return 0;
        set[(*n)++] = (uint8_t)i;
        return 0;
    }
    return -1;
}

int pipeline_transform_on(struct exchange *x, const void *ctx)
{
    return add_to_set(x, ctx, x->transforms, &x->ntransforms, true);
}

int pipeline_observe_on(struct exchange *x, const void *ctx)
{
    return add_to_set(x, ctx, x->observers, &x->nobservers, false);
}

/* payload: the transforms' input (observe_payload observers), else what the client gets. */
static void observe(struct exchange *x, const char *p, size_t n, bool payload)
{
    for (uint32_t k = 0; k < x->nobservers && n; k++) {
        uint32_t i = x->observers[k];
        if (x->ntransforms && x->chain->links[i].m->observe_payload != payload)
            continue;
        x->link = &x->chain->links[i];
        x->chain->links[i].m->on_response_data(x, x->ctx[i], p, n);
    }
}

void pipeline_observe(struct exchange *x, const char *p, size_t n)
{
    observe(x, p, n, false);
}

void pipeline_end(struct exchange *x, uint16_t status)
{
    if (x->ended)
        return;
    x->ended = true;
    x->status = status;
    timer_disarm(&x->worker->loop->timers, &x->wait_timer);
    const struct pipeline_chain *c = x->chain;
    for (uint32_t i = x->nran; c && c->end_hooks && i-- > 0;) {
        const struct pipeline_module *m = c->links[i].m;
        x->link = &c->links[i];
        if (m->on_end)
            m->on_end(x, x->ctx[i]);
    }
    x->nran = 0;
    x->ntransforms = x->nobservers = 0;
    x->stages = NULL;
    x->has_reply = false;
    arena_reset(&x->arena);
}

int pipeline_error_response(struct exchange *x, uint16_t status, const char *detail,
                            const char *request_id)
{
    struct response *r = &x->reply;
    if (response_init(r, &x->arena, status, 8) != 0)
        return -1;
    char tmp[512];
    int n = snprintf(tmp, sizeof(tmp), "%u %s: %s (request id %s)\n", status,
                     h1_status_text(status), detail, request_id ? request_id : "-");
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(tmp))
        n = (int)sizeof(tmp) - 1;
    char *body = arena_strndup(&x->arena, tmp, (size_t)n);
    if (!body)
        return -1;
    response_set_body(r, body, (size_t)n);
    if (response_add(r, &x->arena, STR_LIT("Content-Type"),
                     STR_LIT("text/plain; charset=utf-8")) != 0)
        return -1;
    if (request_id && response_add(r, &x->arena, STR_LIT("X-Request-Id"), str_cstr(request_id)) != 0)
        return -1;
    if ((status == 503 || status == 429) &&
        response_add(r, &x->arena, STR_LIT("Retry-After"), STR_LIT("1")) != 0)
        return -1;
    x->has_reply = true;
    return 0;
}

enum pipeline_verdict pipeline_reply(struct exchange *x, uint16_t status, const char *detail)
{
    if (pipeline_error_response(x, status, detail, x->request_id) != 0) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    return PIPELINE_RESPOND;
}

void pipeline_observe_trailers(struct exchange *x, struct str fields)
{
    for (uint32_t k = 0; k < x->nobservers && fields.len; k++) {
        uint32_t i = x->observers[k];
        x->link = &x->chain->links[i];
        if (x->chain->links[i].m->on_response_trailers)
            x->chain->links[i].m->on_response_trailers(x, x->ctx[i], fields);
    }
}

/* ---- body transforms ------------------------------------------------------------------- */

#define STAGE_SIZE 16384u

/* Output of transform k that the next one has not consumed yet. */
struct stage {
    char *buf;
    size_t off, len;
    bool done;    /* the transform finished its stream (after fin) */
};

static int stage_run(struct exchange *x, uint32_t k, const char **in, size_t *in_len,
                     char *out, size_t cap, size_t *out_len, bool fin)
{
    uint32_t i = x->transforms[k];
    x->link = &x->chain->links[i];
    return x->chain->links[i].m->on_response_body(x, x->ctx[i], in, in_len, out, cap, out_len,
                                                  fin);
}

static int run_transforms(struct exchange *x, const char **in, size_t *in_len, char *out,
                          size_t cap, size_t *out_len, bool fin);

int pipeline_body(struct exchange *x, const char **in, size_t *in_len, char *out, size_t cap,
                  size_t *out_len, bool fin)
{
    const char *start = *in;
    size_t before = *in_len;
    int r = run_transforms(x, in, in_len, out, cap, out_len, fin);
    if (x->nobservers && before > *in_len)
        observe(x, start, before - *in_len, true);
    return r;
}

static int run_transforms(struct exchange *x, const char **in, size_t *in_len, char *out,
                          size_t cap, size_t *out_len, bool fin)
{
    uint32_t n = x->ntransforms;
    if (n == 1)
        return stage_run(x, 0, in, in_len, out, cap, out_len, fin);
    /* Several: each but the last writes into a staging buffer in the arena, allocated on
     * first use and kept for the exchange. */
    struct stage *st = x->stages;
    if (!st) {
        st = arena_calloc(&x->arena, (n - 1) * sizeof(*st));
        if (!st)
            return -1;
        for (uint32_t k = 0; k + 1 < n; k++)
            if (!(st[k].buf = arena_alloc(&x->arena, STAGE_SIZE)))
                return -1;
        x->stages = st;
    }
    *out_len = 0;
    for (;;) {
        bool progress = false;
        /* Fill the stages front to back, then drain the last one into out. */
        for (uint32_t k = 0; k + 1 < n; k++) {
            struct stage *s = &st[k];
            if (s->done || s->len == STAGE_SIZE)
                continue;
            if (s->off + s->len == STAGE_SIZE || !s->len) {
                memmove(s->buf, s->buf + s->off, s->len);
                s->off = 0;
            }
            const char *src;
            size_t srclen, before;
            bool src_fin;
            if (k == 0) {
                src = *in;
                srclen = *in_len;
                src_fin = fin;
            } else {
                src = st[k - 1].buf + st[k - 1].off;
                srclen = st[k - 1].len;
                src_fin = st[k - 1].done;
            }
            before = srclen;
            size_t made = 0;
            int r = stage_run(x, k, &src, &srclen, s->buf + s->off + s->len,
                              STAGE_SIZE - s->off - s->len, &made, src_fin);
            if (r < 0)
                return -1;
            if (k == 0) {
                *in = src;
                *in_len = srclen;
            } else {
                st[k - 1].off += before - srclen;
                st[k - 1].len = srclen;
            }
            s->len += made;
            if (r == 0 && src_fin && srclen == 0)
                s->done = true;
            progress |= made > 0 || before != srclen || s->done;
        }
        struct stage *last_in = &st[n - 2];
        const char *src = last_in->buf + last_in->off;
        size_t srclen = last_in->len, before = srclen, made = 0;
        int r = stage_run(x, n - 1, &src, &srclen, out + *out_len, cap - *out_len, &made,
                          last_in->done);
        if (r < 0)
            return -1;
        last_in->off += before - srclen;
        last_in->len = srclen;
        *out_len += made;
        progress |= made > 0 || before != srclen;
        if (r == 1 || *out_len == cap)
            return 1;
        bool all_in = *in_len == 0;
        for (uint32_t k = 0; k + 1 < n; k++)
            all_in &= st[k].len == 0;
        if (all_in && (!fin || last_in->done))
            return 0;
        if (!progress)
            return *in_len || !all_in ? -1 : 0; /* stuck with room and input: broken */
    }
}

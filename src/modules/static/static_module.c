/* static_module.c — see static_module.h.
 *
 * Threads and ownership:
 * - the config (struct static_conf) is immutable and read by every worker;
 * - the open-file cache is the chain link's local state: one per worker per generation, touched
 *   by that worker only, so no lock;
 * - the I/O pool is one shared object for the process (pipeline_shared_get keyed by its type),
 *   taken by every static chain link and stopped with the last;
 * - a warm-up job is shared by the exchange (worker thread) and a pool thread: `refs` (atomic)
 *   counts the two; `x` and `finished` are touched on the worker thread only. The pool thread
 *   posts the completion to the worker's mailbox, where it resumes the exchange if it is still
 *   there. An exchange that ends first only drops its reference: the completion never touches
 *   a freed exchange. The job reads through its own dup of the fd, so it does not pin the
 *   cache entry (nor the cache, which may go with its generation meanwhile). */
#include "modules/static/static_module.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config_types.h"
#include "http/h1.h"
#include "modules/compress/accept_encoding.h"
#include "modules/static/file_cache.h"
#include "modules/static/static_config.h"
#include "modules/static/static_cond.h"
#include "modules/static/static_io.h"
#include "pipeline/chain.h"
#include "pipeline/exchange.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"

/* The first bytes of a GET are probed, and warmed by the pool when cold, before the reply. */
#define STATIC_PROBE_BYTES (256u * 1024u)
/* How long an exchange waits for the pool before it answers 503. */
#define STATIC_WARM_WAIT_MS 10000u
/* First bytes seen in the page cache are trusted to stay there this long (no probe meanwhile:
 * two syscalls saved per request of a hot file; an eviction within it makes one sendfile wait
 * for the disk on the worker). */
#define STATIC_WARM_TRUST_MS 1000u

int (*static_module_probe)(int fd, uint64_t offset, size_t len) = static_io_probe;

struct static_shared {
    struct static_io_pool *pool;
};

struct static_job {
    struct static_io_job io;   /* io.fd is the job's own dup */
    atomic_int refs;           /* the exchange's and the pool's */
    bool finished;             /* worker thread: the completion arrived */
    bool window;               /* warms a later window of the body (else the first bytes) */
    struct exchange *x;        /* worker thread: NULL once the exchange let go */
    struct pipeline_worker *w;
};

struct static_ctx {
    struct file_cache *fc;
    struct file_cache_entry *e; /* held until on_end: the reply's fd stays open */
    struct static_job *job;     /* a warm-up in flight */
    struct file_cache_variant *v; /* its variant, when it warms the first bytes */
    uint64_t warm_end;          /* the reply's file is known warm (or being warmed) below this */
};

/* ---- the I/O pool (process-wide) ---------------------------------------------------------- */

static int pool_init(void *obj, const void *key)
{
    (void)key;
    struct static_shared *s = obj;
    s->pool = static_io_pool_new(0);
    return s->pool ? 0 : -1;
}

static void pool_fini(void *obj)
{
    struct static_shared *s = obj;
    static_io_pool_free(s->pool);
}

static const struct pipeline_shared_type pool_type = {
    .name = "static_io", .size = sizeof(struct static_shared), .init = pool_init,
    .fini = pool_fini};

static void *static_shared_get(const struct cfg_route *route, const void *conf)
{
    (void)route;
    (void)conf;
    return pipeline_shared_get(&pool_type, &pool_type);
}

static void static_shared_put(void *shared)
{
    pipeline_shared_put(shared);
}

static void *static_local_new(const void *conf, void *shared)
{
    (void)shared;
    return file_cache_new(&((const struct static_conf *)conf)->cache);
}

static void static_local_free(void *local)
{
    file_cache_free(local);
}

/* ---- warm-up jobs -------------------------------------------------------------------------- */

static void job_put(struct static_job *j)
{
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
        close(j->io.fd);
        free(j);
    }
}

static void job_detach(struct static_ctx *c);

/* Worker thread, from the mailbox. */
static void job_resume(void *arg)
{
    struct static_job *j = arg;
    j->finished = true;
    if (j->x && j->window) {
        /* The body waits for it; whatever the result, sendfile goes on (and reads what the
         * pool could not itself: an error shows there). */
        struct exchange *x = j->x;
        job_detach(pipeline_ctx(x, &static_module));
        pipeline_body_continue(x);
    } else if (j->x) {
        pipeline_resume(j->x); /* the hook detaches the job */
    }
    job_put(j);
}

/* Pool thread (or the thread stopping the pool, with -ECANCELED). */
static void job_finished(struct static_io_job *io)
{
    struct static_job *j = (struct static_job *)io;
    if (atomic_load_explicit(&j->refs, memory_order_acquire) == 1) {
        job_put(j); /* the exchange is gone: nobody to tell */
        return;
    }
    if (j->w->post(j->w, j->w->id, job_resume, j) != 0)
        job_put(j); /* the exchange's deadline answers it */
}

/* The exchange lets go of its job (worker thread). */
static void job_detach(struct static_ctx *c)
{
    if (!c->job)
        return;
    c->job->x = NULL;
    job_put(c->job);
    c->job = NULL;
}

/* Starts warming [off, off + len) of fd; false when it cannot (then serve without waiting). */
static bool job_start(struct exchange *x, struct static_ctx *c, int fd, uint64_t off, size_t len)
{
    struct static_shared *s = x->link->shared;
    struct static_job *j = calloc(1, sizeof(*j));
    if (!j)
        return false;
    j->io = (struct static_io_job){.op = STATIC_IO_WARM, .offset = off, .len = len,
                                   .done = job_finished};
    j->io.fd = dup(fd);
    if (j->io.fd < 0) {
        free(j);
        return false;
    }
    atomic_init(&j->refs, 2);
    j->x = x;
    j->w = x->worker;
    if (static_io_submit(s->pool, NULL, &j->io) != 0) {
        close(j->io.fd);
        free(j);
        return false;
    }
    c->job = j;
    return true;
}

/* ---- Accept-Encoding ----------------------------------------------------------------------- */

#define STATIC_MAX_AE_VALUES 8

/* The sibling to send: accept_encoding_negotiate over the codings this file has a sibling
 * for, in the configured order. No header, identity preferred, or nothing acceptable: the
 * file itself (a 406 for a GET would break pages for no gain). */
static enum precompressed_enc ae_choose(const struct h1_request *req, const struct static_conf *conf,
                                        const struct file_cache_entry *e)
{
    struct str values[STATIC_MAX_AE_VALUES];
    size_t n = 0;
    for (uint32_t i = 0; i < req->nheaders && n < STATIC_MAX_AE_VALUES; i++)
        if (str_eq_nocase(req->headers[i].name, STR_LIT("Accept-Encoding")))
            values[n++] = req->headers[i].value;
    if (!n)
        return PRECOMPRESSED_NONE;
    struct str prefs[PRECOMPRESSED_COUNT];
    enum precompressed_enc encs[PRECOMPRESSED_COUNT];
    size_t np = 0;
    for (size_t k = 0; k < conf->npre; k++)
        if (e->sib[conf->pre[k]].fd >= 0) {
            encs[np] = conf->pre[k];
            prefs[np++] = precompressed_coding(conf->pre[k]);
        }
    int i = accept_encoding_negotiate(values, n, prefs, np);
    return i >= 0 ? encs[i] : PRECOMPRESSED_NONE;
}

/* ---- the request --------------------------------------------------------------------------- */

static struct str header(const struct h1_request *req, struct str name)
{
    int i = h1_find_header(req->headers, req->nheaders, name);
    return i < 0 ? STR_NULL : req->headers[i].value;
}

/* Range: a repeated field is invalid (ignored). */
static struct str header_once(const struct h1_request *req, struct str name)
{
    int i = h1_find_header(req->headers, req->nheaders, name);
    if (i < 0 || h1_find_header(req->headers + i + 1, req->nheaders - (uint32_t)i - 1, name) >= 0)
        return STR_NULL;
    return req->headers[i].value;
}

/* The path part of the target (absolute-form too), without the route's prefix when asked. */
static struct str request_path(struct exchange *x, const struct static_conf *conf)
{
    struct str t = x->req->target;
    if (x->req->flags & H1F_ABSOLUTE_FORM) {
        const char *p = memmem(t.ptr, t.len, "://", 3);
        size_t from = p ? (size_t)(p - t.ptr) + 3 : 0;
        size_t i = from;
        while (i < t.len && t.ptr[i] != '/' && t.ptr[i] != '?')
            i++;
        t = str_from(t.ptr + i, t.len - i);
    }
    if (conf->strip_prefix) {
        size_t pl = strlen(x->route->path);
        if (pl && x->route->path[pl - 1] == '/')
            pl--; /* keep the slash */
        if (pl <= t.len && memcmp(t.ptr, x->route->path, pl) == 0)
            t = str_from(t.ptr + pl, t.len - pl);
    }
    if (!t.len || t.ptr[0] != '/') {
        char *p = arena_alloc(&x->arena, t.len + 1);
        if (!p)
            return STR_NULL;
        p[0] = '/';
        memcpy(p + 1, t.ptr, t.len);
        t = str_from(p, t.len + 1);
    }
    return t;
}

static const char *status_detail(int status)
{
    switch (status) {
    case 400: return "the path is not valid";
    case 403: return "the file cannot be read";
    case 404: return "no such file";
    case 414: return "the path is too long";
    case 503: return "out of file descriptors or memory";
    default: return "the file cannot be served";
    }
}

static enum pipeline_verdict add_or_fail(struct exchange *x, int rc)
{
    if (rc != 0) {
        x->fail_reason = "out of memory";
        return PIPELINE_FAIL;
    }
    return PIPELINE_RESPOND;
}

static enum pipeline_verdict redirect(struct exchange *x, const struct static_conf *conf,
                                      const struct file_cache_entry *e, struct str query)
{
    size_t plen = 0;
    const char *prefix = x->route->path;
    if (conf->strip_prefix) {
        plen = strlen(prefix);
        while (plen && prefix[plen - 1] == '/')
            plen--;
    }
    size_t cap = plen + 3 * (e->path_len + query.len) + 4;
    char *loc = arena_alloc(&x->arena, cap);
    if (!loc)
        return add_or_fail(x, -1);
    memcpy(loc, prefix, plen);
    int n = static_path_location(e->path, e->path_len, query, loc + plen, cap - plen);
    if (n < 0)
        return pipeline_reply(x, 414, status_detail(414));
    enum pipeline_verdict v = pipeline_reply(x, 301, "this is a directory: add a slash");
    if (v != PIPELINE_RESPOND)
        return v;
    return add_or_fail(x, response_add(&x->reply, &x->arena, STR_LIT("Location"),
                                       str_from(loc, plen + (size_t)n)));
}

/* The reply to a 200/206/304 decision on variant v of e. */
static int build(struct exchange *x, const struct file_cache_entry *e,
                 const struct file_cache_variant *v, enum precompressed_enc enc, bool vary,
                 const struct static_cond_decision *d)
{
    struct response *r = &x->reply;
    struct arena *a = &x->arena;
    if (response_init(r, a, (uint16_t)d->status, 12) != 0)
        return -1;
    bool full = d->status != 304;
    int rc = 0;
    if (full && e->content_type.ptr)
        rc |= response_add(r, a, STR_LIT("Content-Type"), e->content_type);
    rc |= response_add(r, a, STR_LIT("ETag"), str_from(v->etag, v->etag_len));
    rc |= response_add(r, a, STR_LIT("Last-Modified"), str_from(e->last_modified, STATIC_DATE_LEN));
    if (e->cache_control)
        rc |= response_add(r, a, STR_LIT("Cache-Control"), str_cstr(e->cache_control));
    if (vary)
        rc |= response_add(r, a, STR_LIT("Vary"), STR_LIT("Accept-Encoding"));
    if (full) {
        rc |= response_add(r, a, STR_LIT("Accept-Ranges"), STR_LIT("bytes"));
        if (enc != PRECOMPRESSED_NONE)
            rc |= response_add(r, a, STR_LIT("Content-Encoding"), precompressed_coding(enc));
    }
    if (d->status == 206) {
        char cr[64];
        int n = static_cond_content_range(d, (uint64_t)v->st.st_size, cr, sizeof(cr));
        rc |= n < 0 ? -1 : response_add(r, a, STR_LIT("Content-Range"),
                                          arena_str(a, str_from(cr, (size_t)n)));
    }
    if (x->request_id)
        rc |= response_add(r, a, STR_LIT("X-Request-Id"), str_cstr(x->request_id));
    if (rc)
        return -1;
    if (!full) {
        r->no_body = true; /* 304: no Content-Length either */
    } else if (v->data) {
        response_set_body(r, v->data + d->offset, (size_t)d->length); /* one send with the head */
    } else if (d->length) {
        r->body_kind = RESPONSE_BODY_FILE;
        r->file_fd = v->fd;
        r->file_off = (off_t)d->offset;
        r->file_len = d->length;
        r->content_length = (int64_t)d->length;
    } else {
        response_set_body(r, "", 0);
    }
    return 0;
}

/* Back from the pool (or its deadline). */
static enum pipeline_verdict after_warm(struct exchange *x, struct static_ctx *c)
{
    bool finished = c->job->finished;
    ssize_t res = c->job->io.result;
    job_detach(c);
    if (!finished)
        return pipeline_reply(x, 503, "the disk did not answer in time");
    if (res < 0 && res != -ECANCELED)
        return pipeline_reply(x, 500, "the file cannot be read");
    if (c->v && res > 0)
        c->v->warm_until_ms = x->worker->loop->now_ms + STATIC_WARM_TRUST_MS;
    x->has_reply = true;
    return PIPELINE_RESPOND;
}

static enum pipeline_verdict file_reply(struct exchange *x, struct static_ctx *c,
                                        const struct static_conf *conf,
                                        struct file_cache_entry *e)
{
    const struct h1_request *req = x->req;
    bool vary = false;
    for (size_t k = 0; k < conf->npre; k++)
        vary |= e->sib[conf->pre[k]].fd >= 0;
    enum precompressed_enc enc = vary ? ae_choose(req, conf, e) : PRECOMPRESSED_NONE;
    struct file_cache_variant *v = enc == PRECOMPRESSED_NONE ? &e->file : &e->sib[enc];

    bool get = req->method_id == H1_M_GET;
    struct static_cond_req cr = {
        .method = get ? STATIC_GET : STATIC_HEAD,
        .if_match = header(req, STR_LIT("If-Match")),
        .if_none_match = header(req, STR_LIT("If-None-Match")),
        .if_modified_since = header(req, STR_LIT("If-Modified-Since")),
        .if_unmodified_since = header(req, STR_LIT("If-Unmodified-Since")),
        .if_range = header(req, STR_LIT("If-Range")),
        .range = header_once(req, STR_LIT("Range")),
    };
    if (cr.if_modified_since.ptr || cr.if_unmodified_since.ptr || cr.if_range.ptr)
        cr.now = (int64_t)time(NULL);
    struct static_cond_rep rep = {.etag = str_from(v->etag, v->etag_len),
                                  .last_modified = e->file.st.st_mtim.tv_sec,
                                  .size = (uint64_t)v->st.st_size};
    struct static_cond_decision d;
    static_cond_evaluate(&cr, &rep, &d);

    if (d.status == 412)
        return pipeline_reply(x, 412, "a precondition failed");
    if (d.status == 416) {
        enum pipeline_verdict r = pipeline_reply(x, 416, "the range is outside the file");
        if (r != PIPELINE_RESPOND)
            return r;
        return add_or_fail(x, response_addf(&x->reply, &x->arena, STR_LIT("Content-Range"),
                                            "bytes */%llu", (unsigned long long)rep.size));
    }
    if (build(x, e, v, enc, vary, &d) != 0)
        return add_or_fail(x, -1);

    uint64_t now = x->worker->loop->now_ms;
    if (get && d.length && !v->data && !(d.offset == 0 && now < v->warm_until_ms)) {
        size_t n = d.length < STATIC_PROBE_BYTES ? (size_t)d.length : STATIC_PROBE_BYTES;
        int p = static_module_probe(v->fd, d.offset, n);
        if (p == 0 && job_start(x, c, v->fd, d.offset, n)) {
            c->v = d.offset == 0 ? v : NULL;
            c->warm_end = d.offset + n;
            return pipeline_wait_until(x, now + STATIC_WARM_WAIT_MS);
        }
        if (p == 1 && d.offset == 0)
            v->warm_until_ms = now + STATIC_WARM_TRUST_MS;
    }
    c->warm_end = d.offset + (d.length < STATIC_PROBE_BYTES ? d.length : STATIC_PROBE_BYTES);
    x->has_reply = true;
    return PIPELINE_RESPOND;
}

static enum pipeline_verdict static_request(struct exchange *x, void *ctx)
{
    struct static_ctx *c = ctx;
    if (c->job)
        return after_warm(x, c);
    const struct static_conf *conf = x->link->conf;
    const struct h1_request *req = x->req;
    if (req->method_id != H1_M_GET && req->method_id != H1_M_HEAD) {
        enum pipeline_verdict v = pipeline_reply(x, 405, "only GET and HEAD are served here");
        if (v != PIPELINE_RESPOND)
            return v;
        return add_or_fail(x, response_add(&x->reply, &x->arena, STR_LIT("Allow"),
                                           STR_LIT("GET, HEAD")));
    }
    struct str target = request_path(x, conf);
    if (!target.ptr)
        return add_or_fail(x, -1);
    struct static_norm norm;
    int rc = static_path_normalize(target, true, &conf->resolve.opts, &norm);
    if (rc != STATIC_PATH_OK)
        return pipeline_reply(x, (uint16_t)-rc, status_detail(-rc));
    c->fc = x->link->local;
    if (!c->fc)
        return pipeline_reply(x, 503, "out of memory");
    struct file_cache_entry *e = file_cache_get(c->fc, &norm, x->worker->loop->now_ms);
    if (!e)
        return pipeline_reply(x, 503, "out of memory");
    c->e = e;
    if (e->status == 301)
        return redirect(x, conf, e, norm.query);
    if (e->status != 200)
        return pipeline_reply(x, (uint16_t)e->status, status_detail(e->status));
    return file_reply(x, c, conf, e);
}

/* Before each window of the body past what the request probed: the same probe, and a cold
 * window is read into the page cache by the pool while the worker serves others. */
static int static_file_window(struct exchange *x, void *ctx, uint64_t off, size_t len)
{
    struct static_ctx *c = ctx;
    if (off + len <= c->warm_end || c->job || x->reply.body_kind != RESPONSE_BODY_FILE)
        return 0;
    uint64_t from = off > c->warm_end ? off : c->warm_end;
    size_t n = (size_t)(off + len - from);
    c->warm_end = off + len;
    if (static_module_probe(x->reply.file_fd, from, n) != 0 ||
        !job_start(x, c, x->reply.file_fd, from, n))
        return 0; /* cached, cannot tell, or cannot wait: send */
    c->job->window = true;
    return 1;
}

static void static_end(struct exchange *x, void *ctx)
{
    (void)x;
    struct static_ctx *c = ctx;
    job_detach(c);
    if (c->e)
        file_cache_unref(c->fc, c->e);
    c->e = NULL;
}

const struct pipeline_module static_module = {
    .name = "static",
    .key = "static",
    .phase = PIPELINE_PHASE_CONTENT,
    .ctx_size = sizeof(struct static_ctx),
    .terminal = true,
    .config_load = static_config_load,
    .config_free = static_config_free,
    .shared_get = static_shared_get,
    .shared_put = static_shared_put,
    .local_new = static_local_new,
    .local_free = static_local_free,
    .on_request = static_request,
    .on_end = static_end,
    .on_file_window = static_file_window,
};

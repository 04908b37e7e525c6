/* cache_serve.c — see cache_serve.h. */
#include "cache/cache_serve.h"

#include <stdio.h>
#include <time.h>

#include "http/h1.h"
#include "modules/static/static_cond.h"
#include "pipeline/exchange.h"

static struct str req_header(const struct h1_request *req, struct str name)
{
    int i = h1_find_header(req->headers, req->nheaders, name);
    return i >= 0 ? req->headers[i].value : STR_NULL;
}

/* Range only when it appears once (a repeated one is invalid: ignored). */
static struct str req_header_once(const struct h1_request *req, struct str name)
{
    int i = h1_find_header(req->headers, req->nheaders, name);
    if (i < 0)
        return STR_NULL;
    for (uint32_t k = (uint32_t)i + 1; k < req->nheaders; k++)
        if (str_eq_nocase(req->headers[k].name, name))
            return STR_NULL;
    return req->headers[i].value;
}

/* Fields a 304 carries (RFC 9110 §15.4.5), beside Age and X-Cache. */
static bool in_304(struct str name)
{
    static const struct str keep[] = {STR_LIT("Cache-Control"), STR_LIT("Content-Location"),
                                      STR_LIT("Date"),          STR_LIT("ETag"),
                                      STR_LIT("Expires"),       STR_LIT("Last-Modified"),
                                      STR_LIT("Vary")};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (str_eq_nocase(name, keep[i]))
            return true;
    return false;
}

int cache_serve_fill(struct exchange *x, const struct cache_obj *o, int64_t age,
                     const char *label, bool conditionals, struct response *r)
{
    const struct h1_request *req = x->req;
    struct arena *a = &x->arena;
    struct static_cond_decision d = {.status = o->status, .offset = 0, .length = o->body_len};
    if (conditionals && o->status >= 200 && o->status < 300) {
        struct static_cond_req cr = {
            .method = req->method_id == H1_M_HEAD ? STATIC_HEAD : STATIC_GET,
            .if_match = req_header(req, STR_LIT("If-Match")),
            .if_none_match = req_header(req, STR_LIT("If-None-Match")),
            .if_modified_since = req_header(req, STR_LIT("If-Modified-Since")),
            .if_unmodified_since = req_header(req, STR_LIT("If-Unmodified-Since")),
            .if_range = req_header(req, STR_LIT("If-Range")),
            .range = o->status == 200 ? req_header_once(req, STR_LIT("Range")) : STR_NULL,
            .now = (int64_t)time(NULL),
        };
        struct static_cond_rep rep = {
            .etag = o->etag,
            .last_modified = o->times.last_modified != CACHE_ABSENT ? o->times.last_modified
                                                                    : o->times.date,
            .size = o->body_len,
        };
        /* Without Last-Modified, If-Modified-Since compares with Date (RFC 9111 §4.3.2); but
         * a date in If-Range needs a real Last-Modified: without one it never matches, and
         * the whole response goes out. */
        if (!o->last_modified.ptr && cr.if_range.len && cr.if_range.ptr[0] != '"' &&
            cr.if_range.ptr[0] != 'W')
            cr.range = cr.if_range = STR_NULL;
        static_cond_evaluate(&cr, &rep, &d);
        if (d.status == 200)
            d.status = o->status;
    }
    if (response_init(r, a, (uint16_t)d.status, o->nheaders + 6) != 0)
        return -1;
    if (d.status == o->status)
        r->reason = o->reason;
    int rc = 0;
    bool not_modified = d.status == 304;
    bool refused = d.status == 412 || d.status == 416;
    for (uint32_t i = 0; i < o->nheaders; i++) {
        struct str name = o->headers[i].name;
        if (not_modified && !in_304(name))
            continue;
        if (refused && !str_eq_nocase(name, STR_LIT("Date")))
            continue;
        rc |= response_add(r, a, name, o->headers[i].value);
    }
    rc |= response_addf(r, a, STR_LIT("Age"), "%lld", (long long)age);
    if (x->request_id)
        rc |= response_add(r, a, STR_LIT("X-Request-Id"), str_cstr(x->request_id));
    if (label)
        rc |= response_add(r, a, STR_LIT("X-Cache"), str_cstr(label));
    if (d.status == 206 || d.status == 416) {
        char cr[80];
        int n = static_cond_content_range(&d, o->body_len, cr, sizeof(cr));
        rc |= n < 0 ? -1 : response_add(r, a, STR_LIT("Content-Range"),
                                          arena_str(a, str_from(cr, (size_t)n)));
    }
    if (rc)
        return -1;
    if (not_modified || d.status == 204 || (o->status >= 100 && o->status < 200)) {
        r->no_body = true;
    } else if (refused) {
        response_set_body(r, "", 0);
    } else {
        response_set_body(r, o->body ? o->body + d.offset : "", (size_t)d.length);
    }
    return 0;
}

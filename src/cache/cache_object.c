/* cache_object.c — see cache_object.h. */
#include "cache/cache_object.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modules/static/static_cond.h"

struct cache_obj *cache_object_alloc(size_t data_len)
{
    struct cache_obj *o = calloc(1, sizeof(*o) + data_len);
    if (!o)
        return NULL;
    atomic_init(&o->refs, 1);
    cache_control_init(&o->cc);
    return o;
}

void cache_object_ref(struct cache_obj *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void cache_object_unref(struct cache_obj *o)
{
    if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1) {
        free(o->body);
        free(o);
    }
}

/* Fields never stored: Age is recomputed on every use, X-Cache is this cache's own,
 * X-Request-Id names the request that stored it (each hit gets its own). */
static bool never_stored(struct str name, const struct cache_control *cc)
{
    if (str_eq_nocase(name, STR_LIT("Age")) || str_eq_nocase(name, STR_LIT("X-Cache")) ||
        str_eq_nocase(name, STR_LIT("X-Request-Id")))
        return true;
    return (cc->no_cache_fields.len && cache_control_list_has(cc->no_cache_fields, name)) ||
           (cc->private_fields.len && cache_control_list_has(cc->private_fields, name));
}

bool cache_object_directives(const struct response_header *h, uint32_t n,
                             struct cache_control *cc)
{
    bool cdn = false;
    for (uint32_t i = 0; i < n && !cdn; i++)
        cdn = str_eq_nocase(h[i].name, STR_LIT("CDN-Cache-Control"));
    struct str field = cdn ? STR_LIT("CDN-Cache-Control") : STR_LIT("Cache-Control");
    cache_control_init(cc);
    for (uint32_t i = 0; i < n; i++)
        if (str_eq_nocase(h[i].name, field))
            cache_control_parse(cc, h[i].value);
    return cdn;
}

static struct cache_control parse_cc(const struct response_header *h, uint32_t n)
{
    struct cache_control cc;
    cache_object_directives(h, n, &cc);
    return cc;
}

void cache_object_times(const struct response *r, int64_t request_time, int64_t response_time,
                        struct cache_times *t)
{
    *t = (struct cache_times){.request_time = request_time,
                              .response_time = response_time,
                              .date = response_time,
                              .last_modified = CACHE_ABSENT};
    int64_t v;
    struct str s;
    if ((s = response_get(r, STR_LIT("Date"))).ptr && static_cond_date_parse(s, response_time, &v))
        t->date = v;
    if ((s = response_get(r, STR_LIT("Age"))).ptr && cache_fresh_parse_age(s, &v))
        t->age_value = v;
    /* A CDN-Cache-Control field replaces Cache-Control and Expires (RFC 9213 §2.1). */
    bool cdn = response_find(r, STR_LIT("CDN-Cache-Control")) >= 0;
    if (!cdn && (s = response_get(r, STR_LIT("Expires"))).ptr) {
        t->has_expires = true;
        t->expires = static_cond_date_parse(s, response_time, &v) ? v : 0;
    }
    if ((s = response_get(r, STR_LIT("Last-Modified"))).ptr &&
        static_cond_date_parse(s, response_time, &v))
        t->last_modified = v;
}

/* Builds an object from fields (already filtered) and facts. */
static struct cache_obj *build(uint16_t status, struct str reason, const struct response_header *h,
                               uint32_t n, const struct cache_object_facts *f)
{
    size_t len = f->key.len + f->vary_names.len + f->vary_key.len + reason.len +
                 n * sizeof(struct response_header) + 16;
    for (uint32_t i = 0; i < n; i++)
        len += h[i].name.len + h[i].value.len;
    struct cache_obj *o = cache_object_alloc(len);
    if (!o)
        return NULL;
    /* The header array first (aligned), then the bytes. */
    o->headers = (struct response_header *)(void *)o->data;
    char *p = o->data + n * sizeof(struct response_header);
#define COPY(dst, s)                                                                           \
    do {                                                                                       \
        if ((s).len)                                                                           \
            memcpy(p, (s).ptr, (s).len);                                                      \
        (dst) = str_from(p, (s).len);                                                          \
        p += (s).len;                                                                          \
    } while (0)
    COPY(o->key, f->key);
    COPY(o->vary_names, f->vary_names);
    COPY(o->vary_key, f->vary_key);
    COPY(o->reason, reason);
    for (uint32_t i = 0; i < n; i++) {
        COPY(o->headers[i].name, h[i].name);
        COPY(o->headers[i].value, h[i].value);
    }
#undef COPY
    o->nheaders = n;
    o->status = status;
    o->pn.hash = f->hash;
    o->cc = parse_cc(o->headers, n);
    o->times = f->times;
    o->lifetime = cache_fresh_lifetime(&o->cc, &o->times, status, f->default_ttl,
                                       f->heuristic_max);
    o->auth_ok = f->auth_ok;
    for (uint32_t i = 0; i < n; i++) {
        struct str nm = o->headers[i].name;
        if (str_eq_nocase(nm, STR_LIT("ETag")) && !o->etag.ptr)
            o->etag = o->headers[i].value;
        else if (str_eq_nocase(nm, STR_LIT("Last-Modified")) && !o->last_modified.ptr)
            o->last_modified = o->headers[i].value;
        else if (f->tag_header.len && str_eq_nocase(nm, f->tag_header) && !o->tags.ptr)
            o->tags = o->headers[i].value;
    }
    o->pn.charge = (uint32_t)(sizeof(*o) + len);
    return o;
}

struct cache_obj *cache_object_new(const struct response *r, const struct cache_object_facts *f)
{
    struct cache_control cc = parse_cc(r->headers, r->nheaders);
    struct response_header *keep = malloc((r->nheaders + 1) * sizeof(*keep));
    if (!keep)
        return NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        const struct response_header *h = &r->headers[i];
        if (never_stored(h->name, &cc))
            continue;
        if (f->own_cookie.len && str_eq_nocase(h->name, STR_LIT("Set-Cookie")) &&
            h->value.len > f->own_cookie.len && h->value.ptr[f->own_cookie.len] == '=' &&
            memcmp(h->value.ptr, f->own_cookie.ptr, f->own_cookie.len) == 0)
            continue;
        keep[n++] = *h;
    }
    /* A response without Date gets one before it is stored (RFC 9110 §6.6.1): when the cache
     * received it, which its age is counted from. */
    char date[STATIC_DATE_LEN + 1];
    if (response_find(r, STR_LIT("Date")) < 0) {
        static_cond_date_format(f->times.response_time, date);
        keep[n++] = (struct response_header){.name = STR_LIT("Date"),
                                             .value = str_from(date, STATIC_DATE_LEN)};
    }
    struct cache_obj *o = build(r->status, r->reason, keep, n, f);
    free(keep);
    return o;
}

/* Fields a 304 does not update (RFC 9111 §3.2: every field it carries replaces the stored
 * ones of that name, Content-Length and framing aside). */
static bool not_updated(struct str name)
{
    return str_eq_nocase(name, STR_LIT("Content-Length")) ||
           str_eq_nocase(name, STR_LIT("Transfer-Encoding"));
}

struct cache_obj *cache_object_update(const struct cache_obj *old, const struct response *r304,
                                      const struct cache_times *t, int64_t default_ttl,
                                      int64_t heuristic_max)
{
    uint32_t cap = old->nheaders + r304->nheaders;
    struct response_header *h = malloc((cap ? cap : 1) * sizeof(*h));
    if (!h)
        return NULL;
    struct cache_control cc = parse_cc(r304->headers, r304->nheaders);
    uint32_t n = 0;
    for (uint32_t i = 0; i < old->nheaders; i++) {
        struct str name = old->headers[i].name;
        if (response_find(r304, name) >= 0 && !not_updated(name))
            continue; /* replaced below */
        h[n++] = old->headers[i];
    }
    for (uint32_t i = 0; i < r304->nheaders; i++)
        if (!not_updated(r304->headers[i].name) && !never_stored(r304->headers[i].name, &cc))
            h[n++] = r304->headers[i];
    struct cache_object_facts f = {
        .key = old->key, .hash = old->pn.hash,
        .vary_names = old->vary_names, .vary_key = old->vary_key,
        .times = *t, .default_ttl = default_ttl, .heuristic_max = heuristic_max,
        .auth_ok = old->auth_ok,
    };
    struct cache_obj *o = build(old->status, old->reason, h, n, &f);
    free(h);
    if (!o)
        return NULL;
    /* Tags are in the fields: find them again under the old object's tag field name. */
    o->tags = STR_NULL;
    for (uint32_t i = 0; i < o->nheaders && old->tags.ptr; i++)
        if (str_eq(o->headers[i].value, old->tags)) {
            o->tags = o->headers[i].value;
            break;
        }
    char *body = NULL;
    if (old->body_len && !(body = malloc(old->body_len))) {
        cache_object_unref(o);
        return NULL;
    }
    if (old->body_len)
        memcpy(body, old->body, old->body_len);
    cache_object_set_body(o, body, old->body_len);
    return o;
}

struct cache_obj *cache_object_pass(struct str key, uint64_t hash, int64_t until)
{
    struct cache_object_facts f = {.key = key, .hash = hash};
    struct cache_obj *o = build(0, STR_NULL, NULL, 0, &f);
    if (o) {
        o->pass = true;
        o->pass_until = until;
    }
    return o;
}

void cache_object_set_body(struct cache_obj *o, char *body, uint64_t len)
{
    free(o->body);
    o->body = body;
    o->body_len = len;
    o->pn.charge = (uint32_t)(o->pn.charge + len);
}

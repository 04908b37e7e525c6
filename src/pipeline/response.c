/* response.c — see response.h. */
#include "pipeline/response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/arena.h"

int response_init(struct response *r, struct arena *a, uint16_t status, uint32_t cap)
{
    *r = (struct response){.status = status, .content_length = -1, .file_fd = -1};
    if (cap < 4)
        cap = 4;
    r->headers = arena_alloc(a, cap * sizeof(*r->headers));
    if (!r->headers)
        return -1;
    r->cap = cap;
    return 0;
}

int response_grow(struct response *r, struct arena *a)
{
    uint32_t cap = r->cap ? r->cap * 2 : 4;
    struct response_header *h = arena_alloc(a, cap * sizeof(*h));
    if (!h)
        return -1;
    memcpy(h, r->headers, r->nheaders * sizeof(*h));
    r->headers = h; /* the old array stays in the arena until the exchange ends */
    r->cap = cap;
    return 0;
}

int response_addf(struct response *r, struct arena *a, struct str name, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    char *p;
    if ((size_t)n < sizeof(tmp)) {
        p = arena_strndup(a, tmp, (size_t)n);
    } else {
        p = arena_alloc(a, (size_t)n + 1);
        if (p) {
            va_start(ap, fmt);
            vsnprintf(p, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }
    if (!p)
        return -1;
    return response_add(r, a, name, str_from(p, (size_t)n));
}

int response_find(const struct response *r, struct str name)
{
    for (uint32_t i = 0; i < r->nheaders; i++)
        if (str_eq_nocase(r->headers[i].name, name))
            return (int)i;
    return -1;
}

struct str response_get(const struct response *r, struct str name)
{
    int i = response_find(r, name);
    return i >= 0 ? r->headers[i].value : STR_NULL;
}

uint32_t response_remove(struct response *r, struct str name)
{
    uint32_t kept = 0, removed = 0;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        if (str_eq_nocase(r->headers[i].name, name))
            removed++;
        else
            r->headers[kept++] = r->headers[i];
    }
    r->nheaders = kept;
    return removed;
}

int response_set(struct response *r, struct arena *a, struct str name, struct str value)
{
    int i = response_find(r, name);
    if (i < 0)
        return response_add(r, a, name, value);
    r->headers[i].value = value;
    /* Later duplicates go; the first keeps its place in the order. */
    uint32_t kept = (uint32_t)i + 1;
    for (uint32_t k = (uint32_t)i + 1; k < r->nheaders; k++)
        if (!str_eq_nocase(r->headers[k].name, name))
            r->headers[kept++] = r->headers[k];
    r->nheaders = kept;
    return 0;
}

void response_set_body(struct response *r, const char *body, size_t len)
{
    r->body_kind = RESPONSE_BODY_MEMORY;
    r->body = body;
    r->body_len = len;
    r->content_length = (int64_t)len;
}

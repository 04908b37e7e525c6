/* upstream_edit.c — see upstream_edit.h. */
#include "pipeline/upstream_edit.h"

#include <stdbool.h>
#include <string.h>

int upstream_edit_drop(struct exchange *x, struct str name)
{
    struct str *l = arena_alloc(&x->arena, (x->nupstream_drop + 1) * sizeof(*l));
    if (!l)
        return -1;
    if (x->nupstream_drop)
        memcpy(l, x->upstream_drop, x->nupstream_drop * sizeof(*l));
    l[x->nupstream_drop] = name;
    x->upstream_drop = l;
    x->nupstream_drop++;
    return 0;
}

int upstream_edit_add(struct exchange *x, struct str name, struct str value)
{
    for (size_t i = 0; i < value.len; i++) {
        unsigned char ch = (unsigned char)value.ptr[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return -1;
    }
    size_t old = x->upstream_add.len, n = old + name.len + 2 + value.len + 2;
    char *p = arena_alloc(&x->arena, n);
    if (!p)
        return -1;
    if (old)
        memcpy(p, x->upstream_add.ptr, old);
    char *w = p + old;
    memcpy(w, name.ptr, name.len);
    w += name.len;
    *w++ = ':';
    *w++ = ' ';
    memcpy(w, value.ptr, value.len);
    w += value.len;
    *w++ = '\r';
    *w++ = '\n';
    x->upstream_add = str_from(p, n);
    return 0;
}

int upstream_edit_drop_query(struct exchange *x, struct str name)
{
    struct str t = x->upstream_target.ptr ? x->upstream_target : x->req->target;
    const char *q = memchr(t.ptr, '?', t.len);
    if (!q)
        return 0;
    char *out = arena_alloc(&x->arena, t.len);
    if (!out)
        return -1;
    size_t o = (size_t)(q - t.ptr);
    memcpy(out, t.ptr, o);
    bool dropped = false, first = true;
    const char *end = t.ptr + t.len;
    for (const char *p = q + 1;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        size_t n = (size_t)(e - p);
        if (n >= name.len && !memcmp(p, name.ptr, name.len) &&
            (n == name.len || p[name.len] == '=')) {
            dropped = true;
        } else if (n) {
            out[o++] = first ? '?' : '&';
            memcpy(out + o, p, n);
            o += n;
            first = false;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    if (dropped)
        x->upstream_target = str_from(out, o);
    return 0;
}

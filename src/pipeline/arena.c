/* arena.c — see arena.h. */
#include "pipeline/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *arg);
    void *arg;
};

static void *grow(struct arena *a, size_t n)
{
    size_t size = a->next_size;
    while (size < n)
        size *= 2;
    struct arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = a->chunks;
    c->size = size;
    a->chunks = c;
    if (a->next_size < 64u * 1024u)
        a->next_size *= 2;
    a->cur = c->data + n;
    a->end = c->data + size;
    return c->data;
}

/* n is rounded already (arena_alloc): a new chunk. */
void *arena_alloc_slow(struct arena *a, size_t n)
{
    return grow(a, n);
}

void *arena_calloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

struct str arena_str(struct arena *a, struct str s)
{
    if (!s.len)
        return STR_LIT("");
    char *p = arena_strndup(a, s.ptr, s.len);
    return p ? str_from(p, s.len) : STR_NULL;
}

int arena_on_reset(struct arena *a, void (*fn)(void *arg), void *arg)
{
    struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
    if (!c)
        return -1;
    *c = (struct arena_cleanup){.next = a->cleanups, .fn = fn, .arg = arg};
    a->cleanups = c;
    return 0;
}

void arena_reset(struct arena *a)
{
    /* Hooks first: what they release may live in the chunks freed below. */
    while (a->cleanups) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
    while (a->chunks) {
        struct arena_chunk *c = a->chunks;
        a->chunks = c->next;
        free(c);
    }
    arena_init(a, a->first, a->first_size);
}

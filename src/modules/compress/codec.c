/* codec.c — the registry of content codings and the counting allocator every codec context
 * allocates through. Adding a codec = one codec_<name>.c file, one extern in codec.h, one line
 * in the table below. Pure: no global mutable state; a context is used by one thread. */
#include "modules/compress/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct compress_codec_ops *const registry[] = {
    &compress_codec_gzip,
    &compress_codec_br,
    &compress_codec_zstd,
};

const struct compress_codec_ops *const *compress_codec_all(size_t *n)
{
    *n = sizeof(registry) / sizeof(registry[0]);
    return registry;
}

const struct compress_codec_ops *compress_codec_find(struct str name)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
        if (str_eq_nocase(name, str_cstr(registry[i]->name)))
            return registry[i];
    return NULL;
}

void compress_codec_destroy(struct compress_ctx *c)
{
    if (c)
        c->ops->destroy(c);
}

/* Each block carries its size in a 16-byte header (the libraries' free callbacks give none);
 * 16 keeps malloc's alignment for the library's own structs. */
#define BLOCK_HDR 16

static void *block_alloc(size_t n)
{
    if (n > SIZE_MAX - BLOCK_HDR)
        return NULL;
    unsigned char *p = malloc(n + BLOCK_HDR);
    if (!p)
        return NULL;
    *(size_t *)(void *)p = n;
    return p + BLOCK_HDR;
}

static size_t block_size(void *p)
{
    return *(size_t *)(void *)((unsigned char *)p - BLOCK_HDR);
}

static void block_free(void *p)
{
    free((unsigned char *)p - BLOCK_HDR);
}

void *compress_codec_alloc(struct compress_ctx *c, size_t n)
{
    if (c->mem_hard && n > c->mem_limit - c->mem_used)
        return NULL;
    void *p = block_alloc(n);
    if (!p)
        return NULL;
    c->mem_used += n;
    if (c->mem_used > c->mem_peak)
        c->mem_peak = c->mem_used;
    return p;
}

void compress_codec_free(struct compress_ctx *c, void *p)
{
    if (!p)
        return;
    c->mem_used -= block_size(p);
    block_free(p);
}

void *compress_codec_alloc_cb(void *ctx, size_t n)
{
    return compress_codec_alloc(ctx, n);
}

void compress_codec_free_cb(void *ctx, void *p)
{
    compress_codec_free(ctx, p);
}

bool compress_codec_flush_idle(struct compress_ctx *c, const struct compress_io *io,
                               enum compress_flush flush)
{
    if (io->in_used < io->in_len)
        c->unflushed = true;
    return flush == COMPRESS_FLUSH_SYNC && !c->unflushed;
}

void *compress_codec_ctx_new(const struct compress_codec_ops *ops, size_t size, size_t limit,
                             bool hard)
{
    if (size < sizeof(struct compress_ctx) || size > limit)
        return NULL;
    struct compress_ctx *c = block_alloc(size);
    if (!c)
        return NULL;
    memset(c, 0, size);
    *c = (struct compress_ctx){
        .ops = ops, .mem_used = size, .mem_peak = size, .mem_limit = limit, .mem_hard = hard};
    return c;
}

void compress_codec_ctx_free(struct compress_ctx *c)
{
    if (c)
        block_free(c);
}

/* buf.h — a fixed-capacity byte buffer with a read offset, for socket I/O.
 *
 * Bytes live in data[off .. off+len). Writers append at data[off+len]; readers consume from
 * data[off]. buf_compact moves the live bytes to the front when the tail runs out. Owned by one
 * connection on one worker thread. */
#ifndef WEIR_CORE_BUF_H
#define WEIR_CORE_BUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *data;
    uint32_t cap;
    uint32_t off;
    uint32_t len;
};

static inline char *buf_head(const struct buf *b)
{
    return b->data + b->off;
}

static inline char *buf_tail(const struct buf *b)
{
    return b->data + b->off + b->len;
}

static inline uint32_t buf_room(const struct buf *b)
{
    return b->cap - b->off - b->len;
}

static inline void buf_consume(struct buf *b, uint32_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

static inline void buf_compact(struct buf *b)
{
    if (b->off && b->len)
        memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
}

/* Appends n bytes; returns 0, or -1 when they do not fit (nothing is written). */
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > buf_room(b)) {
        buf_compact(b);
        if (n > buf_room(b))
            return -1;
    }
    memcpy(buf_tail(b), p, n);
    b->len += (uint32_t)n;
    return 0;
}

#endif

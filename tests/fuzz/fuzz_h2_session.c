/* fuzz_h2_session.c — libFuzzer driver for the HTTP/2 server session (src/h2/h2_session.c over
 * nghttp2, with h2_map.c): the input, after the client preface, is fed to the session in pieces
 * whose sizes come from the input itself, with frames sent back between pieces so the send
 * callbacks (reset counting, flood accounting) run too. A fake stream sink stands in for
 * h2_stream.c: a started stream gets a small response with a body, request bytes are consumed
 * at once. Checked: no crash, no leak, the stream count never goes negative, and every stream
 * is freed by the end. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/h2_session.h"
#include "h2/h2_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long live_streams;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond))                                                                              \
            abort();                                                                              \
    } while (0)

/* ---- the fake sink (h2_stream.h) ------------------------------------------------------- */

static ssize_t on_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    (void)ng;
    (void)id;
    (void)src;
    (void)user;
    size_t n = len < 10 ? len : 10;
    memset(buf, 'b', n);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

int h2_stream_start(struct h2_stream *s)
{
    CHECK(s->wlen > 0 && s->wbuf != NULL); /* the mapped request head */
    CHECK(memcmp(s->wbuf + s->wlen - 4, "\r\n\r\n", 4) == 0 || s->info.chunked ||
          s->wlen > 4);
    live_streams++;
    s->started = true;
    if (s->id % 3 == 0)
        return -1; /* refused: the session resets it */
    nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE}};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = on_read};
    s->submitted = true;
    nghttp2_submit_response(s->sess->ng, s->id, nv, 1, &prd);
    return 0;
}

void h2_stream_push(struct h2_stream *s)
{
    if (!s->started)
        return;
    s->woff = s->wlen = 0;
    if (s->unconsumed)
        nghttp2_session_consume_stream(s->sess->ng, s->id, s->unconsumed);
    s->unconsumed = 0;
}

void h2_stream_free(struct h2_stream *s)
{
    if (s->started)
        live_streams--;
    CHECK(live_streams >= 0);
    free(s->wbuf);
    free(s);
}

/* ---- the driver ------------------------------------------------------------------------ */

static const struct cfg_http2 h2cfg = {
    .max_concurrent_streams = 16, .stream_window = 65535, .max_resets = 50, .max_control = 200};
static const struct cfg_limits limits = {.max_header_bytes = 4096, .max_headers = 32};

static void drain(struct h2_session *h)
{
    const uint8_t *p;
    for (int i = 0; i < 64 && nghttp2_session_mem_send(h->ng, &p) > 0; i++) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    struct h2_session h;
    CHECK(h2_session_init(&h, &h2cfg, &limits, NULL) == 0);
    uint64_t now = 1000;
    if (h2_session_recv(&h, preface, sizeof(preface) - 1, now) == 0) {
        size_t off = 0;
        while (off < size) {
            size_t piece = 1 + data[off] % 64 * 37; /* 1..2332 bytes */
            off++;
            if (piece > size - off)
                piece = size - off;
            now += 7;
            int r = h2_session_recv(&h, data + off, piece, now);
            off += piece;
            drain(&h);
            if (r != 0)
                break;
        }
        if (size && data[0] & 1)
            h2_session_shutdown(&h);
        drain(&h);
        (void)h2_session_done(&h);
    }
    h2_session_free(&h);
    CHECK(live_streams == 0);
    return 0;
}

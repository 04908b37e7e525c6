/* h1_chunked.c — incremental codec for the chunked transfer coding (RFC 9112 §7.1).
 *
 * Purpose: find where a chunked body ends (validate mode) or strip its framing in place
 * (decode mode), rejecting anything another parser could delimit differently.
 *
 * Invariants:
 *  - Pure: the only memory touched is the caller's struct h1_chunked and buf.
 *  - Byte-at-a-time state machine, except chunk data, which is skipped (or moved) in bulk: the
 *    common case costs one memmove per chunk, nothing per byte.
 *  - Until the message ends every byte fed is consumed into the state, so callers may feed any
 *    split of the stream; after the final CRLF nothing more is consumed (pipelined bytes).
 *  - Errors are sticky: once -400 was returned, every later call returns -400.
 *
 * Strictness (all -400): chunk-size is 1..15 hex digits (so it is below 2^60); no whitespace
 * anywhere on a size line (BWS before ';' is rejected, deliberately); an extension is
 * ";name" or ";name=token" or ";name=\"quoted-string\"" with no control characters; size lines
 * are at most H1_CHUNK_LINE_MAX bytes; chunk data is followed by exactly CRLF; trailer fields
 * follow the header field-line rules (token name, colon right after it, no obs-fold, no CTLs)
 * and the trailer section is at most H1_CHUNK_TRAILER_MAX bytes; every line ends in CRLF. */

#include <string.h>

#include "http/h1.h"

#define H1_CHUNK_LINE_MAX 4096     /* a size line with its extensions */
#define H1_CHUNK_SIZE_DIGITS 15

enum {
    CS_SIZE = 0,         /* hex digits of chunk-size (zeroed struct == initial state) */
    CS_EXT_NAME_START,   /* right after ';' */
    CS_EXT_NAME,         /* inside an extension name */
    CS_EXT_VAL_START,    /* right after '=' */
    CS_EXT_VAL_TOKEN,    /* inside a token value */
    CS_EXT_VAL_QUOTED,   /* inside a quoted-string value */
    CS_EXT_VAL_QPAIR,    /* after a backslash inside a quoted-string */
    CS_EXT_AFTER_QUOTED, /* after the closing quote */
    CS_SIZE_LF,          /* after the CR ending a size line */
    CS_DATA,             /* inside chunk data, `remaining` bytes left */
    CS_DATA_CR,          /* after chunk data, expecting CR */
    CS_DATA_LF,          /* expecting LF after that CR */
    CS_TRAILER_START,    /* at the start of a trailer line or of the final CRLF */
    CS_TRAILER_NAME,     /* inside a trailer field name */
    CS_TRAILER_VALUE,    /* after the colon of a trailer field */
    CS_TRAILER_LF,       /* after the CR ending a trailer line */
    CS_END_LF,           /* after the CR of the final empty line */
    CS_DONE,
    CS_ERROR,
};

/* Extensions and trailers are rare, so plain functions instead of a table are fast enough. */
static bool is_tchar(unsigned char c)
{
    if ((unsigned)((c | 0x20) - 'a') < 26u || (unsigned)(c - '0') < 10u)
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* HTAB, SP, VCHAR, obs-text: what a field value and a quoted-pair may hold. */
static bool is_value(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int hex_value(unsigned char c)
{
    if ((unsigned)(c - '0') < 10u)
        return c - '0';
    if ((unsigned)((c | 0x20) - 'a') < 6u)
        return (c | 0x20) - 'a' + 10;
    return -1;
}

void h1_chunked_init(struct h1_chunked *c)
{
    *c = (struct h1_chunked){.state = CS_SIZE};
}

ssize_t h1_chunked_feed(struct h1_chunked *c, char *buf, size_t len, size_t *decoded)
{
    const char *p = buf, *end = len ? buf + len : buf; /* buf may be NULL when len is 0 */
    size_t out = 0;
    uint8_t st = c->state;

    if (decoded)
        *decoded = 0;
    if (st == CS_ERROR)
        return -400;

    while (p < end && st != CS_DONE) {
        if (st == CS_DATA) {
            size_t avail = (size_t)(end - p);
            size_t n = c->remaining < avail ? (size_t)c->remaining : avail;
            if (decoded) {
                if (buf + out != p)
                    memmove(buf + out, p, n);
                out += n;
            }
            p += n;
            c->remaining -= n;
            if (c->remaining == 0)
                st = CS_DATA_CR;
            continue;
        }

        unsigned char ch = (unsigned char)*p++;
        if (st < CS_DATA) {
            if (++c->line_bytes > H1_CHUNK_LINE_MAX)
                goto fail;
        } else if (st >= CS_TRAILER_START) {
            if (++c->trailer_bytes > H1_CHUNK_TRAILER_MAX)
                goto fail;
            if (c->trailers)
                c->trailers[c->trailer_bytes - 1] = (char)ch;
        }

        switch (st) {
        case CS_SIZE: {
            int h = hex_value(ch);
            if (h >= 0) {
                if (c->line_bytes > H1_CHUNK_SIZE_DIGITS)
                    goto fail;
                c->remaining = (c->remaining << 4) | (uint64_t)h;
                break;
            }
            if (c->line_bytes == 1) /* no digit before this byte */
                goto fail;
            if (ch == ';')
                st = CS_EXT_NAME_START;
            else if (ch == '\r')
                st = CS_SIZE_LF;
            else
                goto fail;
            break;
        }
        case CS_EXT_NAME_START:
            if (!is_tchar(ch))
                goto fail;
            st = CS_EXT_NAME;
            break;
        case CS_EXT_NAME:
        case CS_EXT_VAL_TOKEN:
            if (is_tchar(ch))
                break;
            if (ch == '=' && st == CS_EXT_NAME)
                st = CS_EXT_VAL_START;
            else if (ch == ';')
                st = CS_EXT_NAME_START;
            else if (ch == '\r')
                st = CS_SIZE_LF;
            else
                goto fail;
            break;
        case CS_EXT_VAL_START:
            if (ch == '"')
                st = CS_EXT_VAL_QUOTED;
            else if (is_tchar(ch))
                st = CS_EXT_VAL_TOKEN;
            else
                goto fail;
            break;
        case CS_EXT_VAL_QUOTED:
            if (ch == '"')
                st = CS_EXT_AFTER_QUOTED;
            else if (ch == '\\')
                st = CS_EXT_VAL_QPAIR;
            else if (!is_value(ch))
                goto fail;
            break;
        case CS_EXT_VAL_QPAIR:
            if (!is_value(ch))
                goto fail;
            st = CS_EXT_VAL_QUOTED;
            break;
        case CS_EXT_AFTER_QUOTED:
            if (ch == ';')
                st = CS_EXT_NAME_START;
            else if (ch == '\r')
                st = CS_SIZE_LF;
            else
                goto fail;
            break;
        case CS_SIZE_LF:
            if (ch != '\n')
                goto fail;
            c->line_bytes = 0;
            if (c->remaining) {
                st = CS_DATA;
            } else {
                c->trailer_bytes = 0;
                st = CS_TRAILER_START;
            }
            break;
        case CS_DATA_CR:
            if (ch != '\r')
                goto fail;
            st = CS_DATA_LF;
            break;
        case CS_DATA_LF:
            if (ch != '\n')
                goto fail;
            st = CS_SIZE;
            break;
        case CS_TRAILER_START:
            if (ch == '\r')
                st = CS_END_LF;
            else if (is_tchar(ch))
                st = CS_TRAILER_NAME;
            else
                goto fail; /* obs-fold, empty name, bare LF, CTL */
            break;
        case CS_TRAILER_NAME:
            if (ch == ':')
                st = CS_TRAILER_VALUE;
            else if (!is_tchar(ch))
                goto fail;
            break;
        case CS_TRAILER_VALUE:
            if (ch == '\r')
                st = CS_TRAILER_LF;
            else if (!is_value(ch))
                goto fail;
            break;
        case CS_TRAILER_LF:
            if (ch != '\n')
                goto fail;
            st = CS_TRAILER_START;
            break;
        case CS_END_LF:
            if (ch != '\n')
                goto fail;
            st = CS_DONE;
            c->done = true;
            break;
        default:
            goto fail;
        }
    }

    c->state = st;
    if (decoded)
        *decoded = out;
    return (ssize_t)(p - buf);

fail:
    c->state = CS_ERROR;
    if (decoded)
        *decoded = 0;
    return -400;
}

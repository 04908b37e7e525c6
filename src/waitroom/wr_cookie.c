/* wr_cookie.c — see wr_cookie.h. */
#include "waitroom/wr_cookie.h"

#include <inttypes.h>
#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http/h1_types.h"

#define MAC_BYTES 16

static bool mac(const char *room, struct wr_key k, const char *p, size_t n,
                uint8_t out[MAC_BYTES])
{
    /* room '\n' fields: the name cannot contain '\n', so the split is unambiguous */
    char buf[WR_COOKIE_MAX + 80];
    int rn = snprintf(buf, sizeof(buf), "%s\n", room);
    if (rn < 0 || (size_t)rn + n > sizeof(buf))
        return false;
    memcpy(buf + rn, p, n);
    uint8_t full[EVP_MAX_MD_SIZE];
    unsigned int flen = 0;
    if (!HMAC(EVP_sha256(), k.key, (int)k.len, (const uint8_t *)buf, (size_t)rn + n, full, &flen)
        || flen < MAC_BYTES)
        return false;
    memcpy(out, full, MAC_BYTES);
    return true;
}

size_t wr_cookie_encode(const struct wr_cookie *c, const char *room, struct wr_key k, char *out)
{
    int n = snprintf(out, WR_COOKIE_MAX, "%c.%" PRIu64 ".%" PRIu32 ".%" PRIu32 ".%" PRId64
                     ".%" PRId64 ".%" PRIu64 ".",
                     c->admitted ? 'a' : 'w', c->id, c->slot, c->nonce, c->issued_ms,
                     c->seen_ms, c->ahead);
    if (n < 0 || (size_t)n + 2 * MAC_BYTES >= WR_COOKIE_MAX)
        return 0;
    uint8_t m[MAC_BYTES];
    if (!mac(room, k, out, (size_t)n - 1, m))
        return 0;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < MAC_BYTES; i++) {
        out[n++] = hex[m[i] >> 4];
        out[n++] = hex[m[i] & 15];
    }
    out[n] = '\0';
    return (size_t)n;
}

/* Decimal field up to the next '.'; false on no digits, overflow or a stray byte. */
static bool field(const char **p, const char *end, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (max - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (s >= end || *s != '.')
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool wr_cookie_decode(struct str v, const char *room, struct wr_key k, struct wr_cookie *out)
{
    if (v.len < 2 + 2 * MAC_BYTES || v.len >= WR_COOKIE_MAX || (v.ptr[0] != 'a' && v.ptr[0] != 'w')
        || v.ptr[1] != '.')
        return false;
    const char *p = v.ptr + 2, *end = v.ptr + v.len - 2 * MAC_BYTES;
    uint64_t f[6];
    static const uint64_t max[6] = {UINT64_MAX, UINT32_MAX, UINT32_MAX, INT64_MAX, INT64_MAX,
                                    UINT64_MAX};
    for (int i = 0; i < 6; i++)
        if (!field(&p, end, max[i], &f[i]))
            return false;
    if (p != end)
        return false;
    uint8_t given[MAC_BYTES], want[MAC_BYTES];
    for (int i = 0; i < MAC_BYTES; i++) {
        int hi = unhex(end[2 * i]), lo = unhex(end[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        given[i] = (uint8_t)(hi << 4 | lo);
    }
    if (!mac(room, k, v.ptr, (size_t)(end - v.ptr) - 1, want) ||
        CRYPTO_memcmp(given, want, MAC_BYTES) != 0)
        return false;
    *out = (struct wr_cookie){.admitted = v.ptr[0] == 'a', .id = f[0], .slot = (uint32_t)f[1],
                              .nonce = (uint32_t)f[2], .issued_ms = (int64_t)f[3],
                              .seen_ms = (int64_t)f[4], .ahead = f[5]};
    return true;
}

struct str wr_cookie_find(const struct h1_header *h, uint32_t n, struct str name, bool *found)
{
    *found = false;
    for (uint32_t i = 0; i < n; i++) {
        if (!str_eq_nocase(h[i].name, STR_LIT("Cookie")))
            continue;
        const char *p = h[i].value.ptr, *end = p + h[i].value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *e = memchr(p, ';', (size_t)(end - p));
            if (!e)
                e = end;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && str_eq(str_from(p, (size_t)(eq - p)), name)) {
                *found = true;
                const char *vs = eq + 1, *ve = e;
                while (ve > vs && ve[-1] == ' ')
                    ve--;
                return str_from(vs, (size_t)(ve - vs));
            }
            p = e;
        }
    }
    return STR_NULL;
}

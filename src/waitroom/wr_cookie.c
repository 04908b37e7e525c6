/* wr_cookie.c — see wr_cookie.h. */
#include "waitroom/wr_cookie.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "http/h1_types.h"

#define MAC_BYTES 16

struct wr_mac {
    EVP_MD_CTX *inner, *outer; /* SHA-256 after (key ^ ipad) and (key ^ opad) */
};

struct wr_mac_work {
    EVP_MD_CTX *ctx;
};

void wr_mac_free(struct wr_mac *m)
{
    if (!m)
        return;
    EVP_MD_CTX_free(m->inner);
    EVP_MD_CTX_free(m->outer);
    free(m);
}

/* HMAC (RFC 2104) with the key's padded blocks hashed once, here. */
struct wr_mac *wr_mac_new(const uint8_t *key, size_t len)
{
    enum { BLOCK = 64 };
    uint8_t k[BLOCK] = {0}, ip[BLOCK], op[BLOCK];
    if (len > BLOCK) {
        unsigned int n = 0;
        if (!EVP_Digest(key, len, k, &n, EVP_sha256(), NULL))
            return NULL;
    } else {
        memcpy(k, key, len);
    }
    for (int i = 0; i < BLOCK; i++) {
        ip[i] = k[i] ^ 0x36;
        op[i] = k[i] ^ 0x5c;
    }
    struct wr_mac *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->inner = EVP_MD_CTX_new();
    m->outer = EVP_MD_CTX_new();
    if (!m->inner || !m->outer || !EVP_DigestInit_ex(m->inner, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(m->inner, ip, BLOCK) ||
        !EVP_DigestInit_ex(m->outer, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(m->outer, op, BLOCK)) {
        wr_mac_free(m);
        m = NULL;
    }
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(ip, sizeof(ip));
    OPENSSL_cleanse(op, sizeof(op));
    return m;
}

struct wr_mac_work *wr_mac_work_new(void)
{
    struct wr_mac_work *w = calloc(1, sizeof(*w));
    if (w && !(w->ctx = EVP_MD_CTX_new())) {
        free(w);
        w = NULL;
    }
    return w;
}

void wr_mac_work_free(struct wr_mac_work *w)
{
    if (!w)
        return;
    EVP_MD_CTX_free(w->ctx);
    free(w);
}

static bool hmac(const struct wr_mac *m, EVP_MD_CTX *t, const char *room, const char *p,
                 size_t n, uint8_t out[MAC_BYTES])
{
    uint8_t in[EVP_MAX_MD_SIZE], full[EVP_MAX_MD_SIZE];
    /* room '\n' fields: the name cannot contain '\n', so the split is unambiguous */
    return EVP_MD_CTX_copy_ex(t, m->inner) && EVP_DigestUpdate(t, room, strlen(room)) &&
           EVP_DigestUpdate(t, "\n", 1) && EVP_DigestUpdate(t, p, n) &&
           EVP_DigestFinal_ex(t, in, NULL) && EVP_MD_CTX_copy_ex(t, m->outer) &&
           EVP_DigestUpdate(t, in, 32) && EVP_DigestFinal_ex(t, full, NULL) &&
           memcpy(out, full, MAC_BYTES);
}

static bool mac(const char *room, const struct wr_mac *m, struct wr_mac_work *w, const char *p,
                size_t n, uint8_t out[MAC_BYTES])
{
    if (w)
        return hmac(m, w->ctx, room, p, n, out);
    EVP_MD_CTX *t = EVP_MD_CTX_new();
    bool ok = t && hmac(m, t, room, p, n, out);
    EVP_MD_CTX_free(t);
    return ok;
}

size_t wr_cookie_encode(const struct wr_cookie *c, const char *room, const struct wr_mac *m,
                        struct wr_mac_work *w, char *out)
{
    int n = snprintf(out, WR_COOKIE_MAX, "%c.%" PRIu64 ".%" PRIu32 ".%" PRIu32 ".%" PRId64
                     ".%" PRId64 ".%" PRIu64 ".",
                     c->admitted ? 'a' : 'w', c->id, c->slot, c->nonce, c->issued_ms,
                     c->seen_ms, c->ahead);
    if (n < 0 || (size_t)n + 2 * MAC_BYTES >= WR_COOKIE_MAX)
        return 0;
    uint8_t mb[MAC_BYTES];
    if (!mac(room, m, w, out, (size_t)n - 1, mb))
        return 0;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < MAC_BYTES; i++) {
        out[n++] = hex[mb[i] >> 4];
        out[n++] = hex[mb[i] & 15];
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

bool wr_cookie_decode(struct str v, const char *room, const struct wr_mac *m,
                      struct wr_mac_work *w, struct wr_cookie *out)
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
    if (!mac(room, m, w, v.ptr, (size_t)(end - v.ptr) - 1, want) ||
        CRYPTO_memcmp(given, want, MAC_BYTES) != 0)
        return false;
    *out = (struct wr_cookie){.admitted = v.ptr[0] == 'a', .id = f[0], .slot = (uint32_t)f[1],
                              .nonce = (uint32_t)f[2], .issued_ms = (int64_t)f[3],
                              .seen_ms = (int64_t)f[4], .ahead = f[5]};
    return true;
}

bool wr_cookie_decode_cached(struct wr_vcache *vc, struct str v, const char *room,
                             const struct wr_mac *m, struct wr_mac_work *w,
                             struct wr_cookie *out)
{
    uint32_t h = 0;
    for (size_t i = v.len >= 8 ? v.len - 8 : 0; i < v.len; i++)
        h = h * 31 + (uint8_t)v.ptr[i];
    __typeof__(vc->e[0]) *e = &vc->e[h % WR_VCACHE];
    if (v.len && e->len == v.len && !memcmp(e->v, v.ptr, v.len)) {
        *out = e->ck;
        return true;
    }
    if (!wr_cookie_decode(v, room, m, w, out))
        return false;
    e->len = (uint32_t)v.len; /* decode checked v.len < WR_COOKIE_MAX */
    memcpy(e->v, v.ptr, v.len);
    e->ck = *out;
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

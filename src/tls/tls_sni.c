/* tls_sni.c — see tls_sni.h. */
#include "tls/tls_sni.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tls_sni_add(struct tls_sni_table *t, const char *name, size_t len, uint32_t cert)
{
    if (t->nnames == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 8;
        struct tls_sni_name *n = realloc(t->names, cap * sizeof(*n));
        if (!n)
            return -1;
        t->names = n;
        t->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return -1;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    s[len] = '\0';
    t->names[t->nnames++] = (struct tls_sni_name){.name = s, .cert = cert};
    return 0;
}

void tls_sni_free(struct tls_sni_table *t)
{
    for (uint32_t i = 0; i < t->nnames; i++)
        free(t->names[i].name);
    free(t->names);
    *t = (struct tls_sni_table){0};
}

bool tls_sni_match(const char *pattern, const char *host, size_t hlen)
{
    if (hlen && host[hlen - 1] == '.') /* a fully qualified name: the root label is implied */
        hlen--;
    size_t plen = strlen(pattern);
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
        /* One whole label, not empty, then exactly the suffix. */
        const char *dot = memchr(host, '.', hlen);
        if (!dot || dot == host)
            return false;
        size_t rest = hlen - (size_t)(dot - host);
        return rest == plen - 1 && strncasecmp(dot, pattern + 1, rest) == 0;
    }
    return plen == hlen && strncasecmp(pattern, host, hlen) == 0;
}

static uint32_t collect(const struct tls_sni_table *t, const char *host, size_t hlen,
                        bool wildcard, uint32_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->nnames && n < max; i++) {
        const char *p = t->names[i].name;
        if ((p[0] == '*') != wildcard || !tls_sni_match(p, host, hlen))
            continue;
        bool seen = false;
        for (uint32_t k = 0; k < n; k++)
            seen |= out[k] == t->names[i].cert;
        if (!seen)
            out[n++] = t->names[i].cert;
    }
    return n;
}

uint32_t tls_sni_lookup(const struct tls_sni_table *t, const char *host, size_t hlen,
                        uint32_t *out, uint32_t max)
{
    if (!hlen)
        return 0;
    uint32_t n = collect(t, host, hlen, false, out, max);
    return n ? n : collect(t, host, hlen, true, out, max);
}

/* tls_sni.h — choosing a certificate by the server name a client sent (SNI). Pure: no OpenSSL,
 * no I/O, so it has its own unit tests.
 *
 * Names are what certificates cover (subjectAltName DNS entries, or the subject CN when there
 * are none): "example.com" matches exactly (case-insensitive), "*.example.com" matches one
 * label in front ("a.example.com", never "example.com" nor "a.b.example.com", RFC 6125 §6.4.3).
 * An exact match wins over a wildcard; among equals the certificate listed first wins, so
 * several certificates (RSA and ECDSA) for one name are all returned. */
#ifndef WEIR_TLS_TLS_SNI_H
#define WEIR_TLS_TLS_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_sni_name {
    char *name;                   /* lower-case; owned */
    uint32_t cert;                /* index of the certificate it belongs to */
};

struct tls_sni_table {
    struct tls_sni_name *names;
    uint32_t nnames, cap;
};

/* Adds a name of certificate `cert` (copied, lower-cased). -1 on out of memory. */
int tls_sni_add(struct tls_sni_table *t, const char *name, size_t len, uint32_t cert);
void tls_sni_free(struct tls_sni_table *t);

/* Does `pattern` (a certificate name) cover `host`? */
bool tls_sni_match(const char *pattern, const char *host, size_t hlen);

/* The certificates for `host`: their indexes into out[] (at most max, in listing order, no
 * duplicates), exact matches if any, else wildcard ones. Returns how many (0: none matched,
 * the caller keeps its default). */
uint32_t tls_sni_lookup(const struct tls_sni_table *t, const char *host, size_t hlen,
                        uint32_t *out, uint32_t max);

#endif

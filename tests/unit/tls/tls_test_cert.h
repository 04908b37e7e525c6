/* tls_test_cert.h — a server context with a self-signed P-256 certificate made in memory
 * (CN `cn`, valid for an hour), partial writes on as weir's contexts have them. Include after
 * <cmocka.h>. */
#ifndef WEIR_TESTS_TLS_TEST_CERT_H
#define WEIR_TESTS_TLS_TEST_CERT_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

static inline SSL_CTX *tls_test_server_ctx(const char *cn)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(pk);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_cert_and_key(ctx, x, pk, NULL, 1), 1);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    X509_free(x);
    EVP_PKEY_free(pk);
    return ctx;
}

#endif

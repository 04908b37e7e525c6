/* tls_stats.c — see tls_stats.h. */
#include "tls/tls_stats.h"

#include <string.h>

struct tls_stats tls_stats;

static const char *const fail_names[TLS_FAIL_REASONS] = {
    [TLS_FAIL_TIMEOUT] = "timeout",
    [TLS_FAIL_PLAIN_HTTP] = "plain_http",
    [TLS_FAIL_PROTOCOL] = "protocol",
    [TLS_FAIL_NO_SHARED_CIPHER] = "no_shared_cipher",
    [TLS_FAIL_CLIENT_CERT] = "client_cert",
    [TLS_FAIL_ALERT] = "alert",
    [TLS_FAIL_CLOSED] = "closed",
    [TLS_FAIL_OTHER] = "other",
};

/* OpenSSL's names of the Mozilla intermediate suites. */
static const char *const cipher_names[TLS_STATS_CIPHERS + 1] = {
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
    "other",
};

const char *tls_stats_fail_name(enum tls_fail f)
{
    return f < TLS_FAIL_REASONS ? fail_names[f] : "other";
}

const char *tls_stats_proto_name(enum tls_proto p)
{
    return p == TLS_PROTO_13 ? "TLSv1.3" : "TLSv1.2";
}

const char *tls_stats_cipher_name(uint32_t i)
{
    return i <= TLS_STATS_CIPHERS ? cipher_names[i] : "other";
}

void tls_stats_handshake(int version, const char *cipher, int resumed)
{
    tls_stats_add(resumed ? &tls_stats.resumed : &tls_stats.full);
    tls_stats_add(&tls_stats.protocol[version == 0x0304 ? TLS_PROTO_13 : TLS_PROTO_12]);
    uint32_t i = 0;
    while (i < TLS_STATS_CIPHERS && (!cipher || strcmp(cipher, cipher_names[i]) != 0))
        i++;
    tls_stats_add(&tls_stats.cipher[i]);
}

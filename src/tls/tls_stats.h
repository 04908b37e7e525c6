/* tls_stats.h — process-wide TLS figures for /metrics and /status: handshakes (full,
 * resumed), failures by reason, protocol and cipher counts, upstream handshakes. Relaxed
 * atomics, bumped once per handshake (never per request), read by the admin thread. */
#ifndef WEIR_TLS_TLS_STATS_H
#define WEIR_TLS_TLS_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum tls_fail {
    TLS_FAIL_TIMEOUT = 0,     /* the handshake did not finish in handshake_timeout */
    TLS_FAIL_PLAIN_HTTP,      /* plain HTTP sent to a TLS port (answered 400) */
    TLS_FAIL_PROTOCOL,        /* no common protocol version (SSLv3, TLS 1.0/1.1 ...) */
    TLS_FAIL_NO_SHARED_CIPHER,/* no common cipher, group or signature algorithm */
    TLS_FAIL_CLIENT_CERT,     /* mTLS: no certificate where required, or it did not verify */
    TLS_FAIL_ALERT,           /* the peer aborted with an alert (e.g. it did not trust us) */
    TLS_FAIL_CLOSED,          /* the peer closed or reset the connection mid-handshake */
    TLS_FAIL_OTHER,           /* anything else (malformed messages ...) */
    TLS_FAIL_REASONS
};

enum tls_proto { TLS_PROTO_12 = 0, TLS_PROTO_13, TLS_PROTO_COUNT };

#define TLS_STATS_CIPHERS 12      /* the named ones of tls_stats_cipher_name, then "other" */

struct tls_stats {
    atomic_uint_fast64_t full, resumed;
    atomic_uint_fast64_t failed[TLS_FAIL_REASONS];
    atomic_uint_fast64_t protocol[TLS_PROTO_COUNT];
    atomic_uint_fast64_t cipher[TLS_STATS_CIPHERS + 1];
    atomic_uint_fast64_t up_full, up_resumed, up_failed, up_verify_failed;
    atomic_uint_fast64_t ktls_tx;
};

extern struct tls_stats tls_stats;

const char *tls_stats_fail_name(enum tls_fail f);
const char *tls_stats_proto_name(enum tls_proto p);
/* The i-th cipher counted by name (i < TLS_STATS_CIPHERS), "other" at TLS_STATS_CIPHERS. */
const char *tls_stats_cipher_name(uint32_t i);
/* Counts one finished server handshake. */
void tls_stats_handshake(int version, const char *cipher, int resumed);
static inline void tls_stats_add(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

#endif

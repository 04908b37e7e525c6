/* tls_ticket.h — session ticket keys shared by every worker (and every listener and config
 * generation) of the process, so a ticket issued by one worker resumes on any other and
 * survives reloads. Keys live in memory only (never written to disk), are made from the
 * system's random source, and rotate: the current key encrypts for `rotate` (the shortest
 * ticket_rotate of the listeners), then decrypts for two more periods (tickets it opens are
 * renewed with the current key), then is wiped. Rotation happens on the first handshake
 * after the period ends, under a mutex held for a few copies (handshakes only, never per
 * request). */
#ifndef WEIR_TLS_TLS_TICKET_H
#define WEIR_TLS_TLS_TICKET_H

#include <stdint.h>

#include <openssl/ssl.h>

/* Installs the key callback on a server context; rotate_ms lowers the shared period. */
void tls_ticket_install(SSL_CTX *ctx, uint32_t rotate_ms);
/* Rotations so far (figures). */
uint64_t tls_ticket_rotations(void);

#endif

/* tls_ticket.h — session ticket keys shared by every worker (and every listener and config
 * generation) of the process, so a ticket issued by one worker resumes on any other and
 * survives reloads. Keys live in memory only (never written to disk: a page locked out of swap
 * when the process may, and left out of core dumps), are made from the system's random
 * source, and rotate on a timer: the current key encrypts for `rotate` (the
 * shortest ticket_rotate of the listeners), then, as the previous key, only decrypts for one
 * more period (tickets it opens are renewed with the current key), then is wiped. One thread
 * of the process rotates them at the period's end whether or not handshakes come; handshakes
 * take the mutex for a few copies (never per request). */
#ifndef WEIR_TLS_TLS_TICKET_H
#define WEIR_TLS_TLS_TICKET_H

#include <stdint.h>

#include <openssl/ssl.h>

/* Installs the key callback on a server context; rotate_ms lowers the shared period. */
void tls_ticket_install(SSL_CTX *ctx, uint32_t rotate_ms);
/* Rotations so far (figures). */
uint64_t tls_ticket_rotations(void);
/* The current key's name (made if there is none yet); 0, or -1 when no random bytes. */
int tls_ticket_current(unsigned char name[16]);
/* What a ticket under key `name` gets now: 0 current, 1 previous (still decrypts), -1 none. */
int tls_ticket_key_state(const unsigned char name[16]);

#endif

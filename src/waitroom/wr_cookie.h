/* wr_cookie.h — the waiting room's cookie `weir_wr_<room>`: what a visitor holds (a ticket or
 * a session) and when the store last saw it, signed with HMAC-SHA256 over the room name and
 * the fields (OpenSSL), checked in constant time (CRYPTO_memcmp). Pure apart from the MAC;
 * any thread.
 *
 * Value: "<w|a>.<id>.<slot>.<nonce>.<issued_ms>.<seen_ms>.<ahead>.<mac>" — decimal fields,
 * mac = the first 16 bytes of the HMAC in hex. The room name is in the MAC, so a cookie of
 * another room (or another incarnation of this one: nonce) never verifies. */
#ifndef WEIR_WAITROOM_WR_COOKIE_H
#define WEIR_WAITROOM_WR_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define WR_COOKIE_MAX 160
#define WR_SECRET_MIN 32

struct h1_header;

struct wr_cookie {
    bool admitted;     /* a session; otherwise a waiting ticket */
    uint64_t id;       /* ticket or session id */
    uint32_t slot;     /* the session's slot */
    uint32_t nonce;    /* the room incarnation */
    int64_t issued_ms; /* when the ticket or session was issued */
    int64_t seen_ms;   /* when the store last saw it */
    uint64_t ahead;    /* waiting: the position the store gave then */
};

struct wr_key {
    const uint8_t *key;
    size_t len;
};

/* Writes the signed value into out (WR_COOKIE_MAX bytes); returns its length, 0 on failure. */
size_t wr_cookie_encode(const struct wr_cookie *c, const char *room, struct wr_key k,
                        char *out);
/* Parses and verifies a value. False when malformed or the MAC does not match. */
bool wr_cookie_decode(struct str v, const char *room, struct wr_key k, struct wr_cookie *out);
/* The value of the cookie called `name` in the request's Cookie fields; *found says whether
 * one was present (its value may be empty). */
struct str wr_cookie_find(const struct h1_header *h, uint32_t n, struct str name, bool *found);

#endif

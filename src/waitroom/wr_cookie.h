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

/* A key's HMAC-SHA256 state after absorbing the padded key (inner and outer), made once per
 * configuration: each MAC then hashes only the message (3 SHA-256 blocks instead of 5 plus
 * OpenSSL's per-call set-up). Read-only once made: any thread. */
struct wr_mac;
struct wr_mac *wr_mac_new(const uint8_t *key, size_t len);
void wr_mac_free(struct wr_mac *m);
/* A thread's working context for MACs (reused: no allocation per MAC). NULL: one is made and
 * freed per call. */
struct wr_mac_work;
struct wr_mac_work *wr_mac_work_new(void);
void wr_mac_work_free(struct wr_mac_work *w);

/* Writes the signed value into out (WR_COOKIE_MAX bytes); returns its length, 0 on failure. */
size_t wr_cookie_encode(const struct wr_cookie *c, const char *room, const struct wr_mac *m,
                        struct wr_mac_work *w, char *out);
/* Parses and verifies a value. False when malformed or the MAC does not match. */
bool wr_cookie_decode(struct str v, const char *room, const struct wr_mac *m,
                      struct wr_mac_work *w, struct wr_cookie *out);
/* The values a worker verified lately, by exact bytes (the same bytes verify the same way under
 * the same key): an admitted visitor's requests then pay the HMAC once per cookie value, not per
 * request. Direct-mapped on the value's last bytes (its MAC's hex digits: as good as random).
 * One per worker and key; never shared. */
#define WR_VCACHE 256
struct wr_vcache {
    struct {
        uint32_t len;
        char v[WR_COOKIE_MAX];
        struct wr_cookie ck;
    } e[WR_VCACHE];
};
/* wr_cookie_decode through the cache (a verified value is remembered). */
bool wr_cookie_decode_cached(struct wr_vcache *vc, struct str v, const char *room,
                             const struct wr_mac *m, struct wr_mac_work *w,
                             struct wr_cookie *out);

/* The value of the cookie called `name` in the request's Cookie fields; *found says whether
 * one was present (its value may be empty). */
struct str wr_cookie_find(const struct h1_header *h, uint32_t n, struct str name, bool *found);

#endif

/* sticky.h — sticky sessions: a cookie names the server that served the client before.
 *
 * The cookie carries a token derived from the server's id, not the id itself: the backend's
 * address stays out of the client's hands, and every worker and every restart computes the same
 * token for the same server, so no table is shared or persisted. The token is a plain (unkeyed)
 * hash: it hides the address from casual view, but someone who can guess the candidate
 * addresses can test them offline. It is an opaque label, not a secret.
 * Pure functions: callable from any thread. */
#ifndef WEIR_BALANCE_STICKY_H
#define WEIR_BALANCE_STICKY_H

#include <stdint.h>

#include "balance/lb.h"
#include "core/str.h"

#define LB_STICKY_TOKEN_LEN 16

/* Writes the server's token to out: 16 lowercase hex digits and a NUL. Same id, same token,
 * on every worker, restart and host; ~5 ns for a 20-byte id. */
void lb_sticky_token(struct str id, char out[LB_STICKY_TOKEN_LEN + 1]);

/* Index in s[0..n) of the server whose token is `token`, or -1 (none matches, or the token is
 * not 16 lowercase hex digits). It does not look at health: the caller decides whether a named
 * server that is down or excluded is still good enough. O(n): one id hash per server, ~5-8 ns
 * each (about 200 ns for 30 servers when the last one matches); a group has tens of servers,
 * so no per-group table is kept. */
int lb_sticky_find(struct lb_server *const *s, uint32_t n, struct str token);

/* The value of cookie `name` in a Cookie header value ("a=1; b=2", RFC 6265 section 4.2.1),
 * or an empty slice when it is absent. Names compare case-sensitively; whitespace (SP, HTAB)
 * around pairs, names and values is tolerated; a pair without '=' is skipped; a value in
 * double quotes is returned without them; the first pair with the name wins. The result points
 * into cookie_header. O(length of the header). */
struct str lb_cookie_value(struct str cookie_header, struct str name);

#endif

/* revocation_sync.h — the revocation list shared by weir instances through Redis
 * (`state: backend: redis`), kept as a local mirror: every check stays the memory backend's
 * lookup (no round trip, nothing to wait for on the request path), and Redis carries the adds.
 *
 * Why a mirror and not an asynchronous check: the list is asked on every authenticated request
 * (cached tokens included, a ~0.35 µs path) and changes rarely; a round trip per request would
 * cost more than the whole check and add a failure policy, while a revocation taking a few
 * milliseconds (pub/sub) — or at worst STATE_SYNC_MS (the periodic re-read) — to reach the
 * other instances is acceptable.
 *
 * - An add (admin POST /revoke) goes to the local list, to a sorted set in Redis
 *   ({<prefix>:revoked:list}, member "j:<jti>" / "s:<sub>", score = until), and to the other
 *   instances as a "revoke" event (state_events.h), which each applies to its local list.
 * - Worker 0 re-reads the live entries every STATE_SYNC_MS, so an instance that started later
 *   or missed an event while disconnected catches up. Entries are never removed early (a
 *   revocation only ends at its time), so merging is adding. */
#ifndef WEIR_SECURITY_REVOCATION_SYNC_H
#define WEIR_SECURITY_REVOCATION_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "security/revocation.h"

/* After a local add, from a thread with a Redis connection (the admin thread): shares it.
 * Nothing without Redis. */
void revocation_sync_publish(enum revocation_kind kind, struct str value, int64_t until_s);
/* The "revoke" event of another instance (worker 0). */
void revocation_sync_event(const char *payload, size_t len);
/* The periodic re-read (worker 0, state_events_every). */
void revocation_sync_refresh(void);

#endif

/* lockout.h — the `lockout:` key on login routes: brute-force lock-out (docs/security.md,
 * "Lock-out").
 *
 *   lockout:
 *     account: {json: username}     # or {form: username} or {header: X-User}; optional
 *     failure_status: [401, 403]    # upstream statuses that count as a failed login
 *     max_failures: 5               # per client address within `window` -> that address locked
 *     window: 5m
 *     lock: 15m                     # first lock; doubled per repeat when `doubling`,
 *     max_lock: 24h                 #   at most this
 *     doubling: true
 *     account_failures: 10          # per account within `window`, from at least
 *     account_ips: 3                #   this many client addresses -> the account locked
 *     status: 429                   # answered while locked, with Retry-After
 *     zone: login                   # key namespace (default: the route's path)
 *
 * Why per address first: locking an account after N failures lets anyone lock anyone out by
 * typing wrong passwords for them. Failures are first charged to the client address, which
 * the attacker owns; the account itself is only locked when its failures come from several
 * addresses (a distributed guess that per-address locks cannot stop), and a success resets the
 * account's count. A locked request is answered here and never reaches the upstream.
 *
 * State goes through state/kv.h (memory today; shared once a Redis backend exists); keys are
 * "<zone>|ip|<address>" and "<zone>|account|<name>". The admin API lists and unlocks them
 * (sec_kv_admin_*). Lock and unlock events go to the audit log. */
#ifndef WEIR_SECURITY_LOCKOUT_H
#define WEIR_SECURITY_LOCKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "pipeline/module.h"

extern const struct pipeline_module lockout_module;

/* The value of a top-level string field of a JSON object body ("" when absent or not a
 * string); escapes are kept as written. Exposed for tests. */
struct str lockout_json_field(struct str body, struct str name);
/* The raw value of a form field (application/x-www-form-urlencoded), not decoded. */
struct str lockout_form_field(struct str body, struct str name);

#endif

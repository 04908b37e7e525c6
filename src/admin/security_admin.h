/* security_admin.h — the edge-security endpoints of the admin API (docs/operations.md):
 *   GET  /lockouts[?prefix=<key prefix>]     locked keys: [{"key", "retry_after_s", "strikes"}]
 *   POST /lockouts/unlock?key=<key>          one key, or every key under a prefix given as
 *                                            "<prefix>*": {"unlocked": n}
 * and the audit events of admin actions. Admin thread. */
#ifndef WEIR_ADMIN_SECURITY_ADMIN_H
#define WEIR_ADMIN_SECURITY_ADMIN_H

#include <stdbool.h>

#include "admin/abuf.h"
#include "core/str.h"
#include "security/sec_kv.h"

/* Handles path (/lockouts or under it); writes the body into out and returns the status. */
int security_admin_handle(struct str path, struct str query, bool post, struct abuf *out);

/* The same endpoints answered from Redis (the locks of every instance, security/sec_kv.h):
 * starts and returns the operation (done gets the JSON body of a 200 later), or NULL when
 * this one is answered by security_admin_handle (no Redis now, or a bad request). */
struct sec_kv_op *security_admin_shared(struct str path, struct str query, bool post,
                                        void (*done)(void *arg, const char *json, size_t len),
                                        void *arg);

/* Records an admin action (POST: purge, unlock, pause, reload, ...) in the audit log. */
void security_admin_audit(struct str path, struct str query);

#endif

/* sec_kv.h — the one kv store (state/kv.h) of this process's security modules (lockout,
 * abnormal), kept across reloads while any route uses one of them, and what the admin API does
 * with it. Keys start with the module's namespace ("<zone>|ip|...", "abnormal|..."), so one
 * listing shows every lock and penalty.
 *
 * sec_kv_check runs a lock check the way a module hook needs it: a synchronous backend answers
 * at once; a networked one answers later and the check resumes the exchange (the module's
 * on_request runs again and finds w->answered). */
#ifndef WEIR_SECURITY_SEC_KV_H
#define WEIR_SECURITY_SEC_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "state/kv.h"

struct exchange;

struct sec_kv {
    const struct kv_ops *ops;
    void *st;
};

/* For shared_get / shared_put of the modules (worker threads, at generation changes). */
struct sec_kv *sec_kv_get(void);
void sec_kv_put(struct sec_kv *s);

struct sec_kv_wait {
    struct kv_call call;
    struct exchange *x;
    bool in_call, answered;
};

/* Starts a check of key; true when answered already (w->call.until_ms, w->call.strikes), false
 * when the exchange must wait (return PIPELINE_WAIT: on_request runs again on the answer). */
bool sec_kv_check(struct sec_kv *s, struct sec_kv_wait *w, struct exchange *x, struct str key,
                  uint64_t now_ms);
/* From on_end: a pending check's answer is no longer wanted. */
void sec_kv_cancel(struct sec_kv *s, struct sec_kv_wait *w);

/* Joins parts with '|' into out (NUL-terminated, truncated to cap - 1); returns the length.
 * (snprintf would do, at five times the cost on every request.) */
size_t sec_kv_key(char *out, size_t cap, const struct str *parts, size_t n);

/* The admin API (any thread). Writes a JSON array of the locks whose key starts with prefix
 * ("" = all): [{"key":..., "retry_after_s":..., "strikes":...}]; returns the bytes it needs
 * with the NUL (write again with a larger buffer when more than cap). */
size_t sec_kv_admin_list(struct str prefix, char *out, size_t cap);
/* Unlocks one key, or every key under a prefix given as "<prefix>*"; audited. How many. */
size_t sec_kv_admin_unlock(struct str key);

/* The same two through Redis (state backend redis; the admin thread, whose connection it
 * uses): every instance's locks, as Redis holds them (state/kv_scan.h), not this instance's
 * view. key: the listing's prefix, or unlock's key / "<prefix>*" (deleted in Redis, so on
 * every instance, and in the local view). done gets the JSON answer (the same shapes) later,
 * once, on this thread; a listing Redis stops answering falls back to the local view. NULL
 * when there is no Redis connection now: use the functions above. */
struct sec_kv_op;
typedef void (*sec_kv_op_fn)(void *arg, const char *json, size_t len);
struct sec_kv_op *sec_kv_admin_shared(struct str key, bool unlock, sec_kv_op_fn done, void *arg);
/* The caller leaves (its connection closed): done will not run. */
void sec_kv_op_cancel(struct sec_kv_op *op);

#endif

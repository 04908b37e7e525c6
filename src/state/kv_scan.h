/* kv_scan.h — the security kv's locks as Redis holds them (state/kv_redis.c's keys), for the
 * admin API: every instance's locks, not only the ones this instance took or saw.
 *
 * A walk is SCAN <cursor> MATCH {<prefix>:kv:<key prefix>* COUNT 256 on the calling thread's
 * command connection (asynchronous: the thread never waits), then for each lock key of a
 * batch one KV_CHECK (locked? ms left, strikes) or, when unlocking, one KV_UNLOCK (every key
 * under the prefix: locks and their counters), pipelined; then the next cursor. Bounded: at
 * most KV_SCAN_MAX_KEYS keys looked at; a command Redis does not answer within the command
 * timeout ends the walk (done says complete = false). Unlocking one key is one KV_UNLOCK. */
#ifndef WEIR_STATE_KV_SCAN_H
#define WEIR_STATE_KV_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

#define KV_SCAN_MAX_KEYS 100000

struct kv_scan;

/* A lock found (listing): its kv key, ms left, strikes. Or a lock deleted (unlocking): left 0. */
typedef void (*kv_scan_fn)(void *arg, struct str key, uint64_t left_ms, uint32_t strikes);
/* The walk is over (it is freed after this returns). */
typedef void (*kv_scan_done_fn)(void *arg, bool complete);

/* Starts a walk over the keys under prefix (unlock && !is_prefix: the one key `key`); NULL
 * when this thread has no Redis connection or it is down (the caller answers from the local
 * view). fn and done run later, on this thread, never from inside this call. */
struct kv_scan *kv_scan_start(struct str key, bool is_prefix, bool unlock, kv_scan_fn fn,
                              kv_scan_done_fn done, void *arg);
/* The caller leaves: neither fn nor done run again. */
void kv_scan_cancel(struct kv_scan *s);

#endif

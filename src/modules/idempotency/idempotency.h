/* idempotency.h — Idempotency-Key on the pipeline (route key `idempotency`, parsed with the
 * route in core/config_resilience.c).
 *
 * The record key is (key, method, target, client address); the body is hashed (the module
 * asks the host for the whole body first). The first request claims the record and runs; its
 * response — the head as the upstream handler made it, then the body as the client got it —
 * is stored when it completed and fits `max_body`. A repeat gets it back with
 * `Idempotent-Replayed: true`; a repeat arriving while the first runs waits (woken when the
 * record completes on any worker) up to `wait`, then gets 409; the same key with another body
 * gets 422. Only upstream responses are stored, never weir's own refusals. Shared state per
 * route: the store (state/store.h) and the wait queue. */
#ifndef WEIR_MODULES_IDEMPOTENCY_H
#define WEIR_MODULES_IDEMPOTENCY_H

#include "pipeline/module.h"

extern const struct pipeline_module idempotency_module;

#endif

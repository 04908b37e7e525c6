/* abnormal.h — the `abnormal:` key: flags a client that behaves like a scanner or a scraper
 * and gives it a temporary penalty (docs/security.md, "Abnormal access").
 *
 *   abnormal:
 *     rules:
 *       - {status: [403, 404], max: 20, window: 1m}   # more than 20 such answers in a minute
 *       - {same_path: true, max: 100, window: 10s}    # more than 100 requests to one path
 *     penalty: 5m                                     # refused this long (429 + Retry-After)
 *     status: 429                                     # or 403
 *     zone: api                                       # key namespace (default: route path)
 *
 * The client is the authenticated subject when an authentication module set one
 * (x->client_id), else the client address (after trusted_proxies). A request refused by an
 * authentication module has no subject: its status counts against the address, and an
 * address's penalty holds for every request from it, authenticated or not. Status rules count the
 * responses the client gets (the upstream's or weir's own); path rules count its requests per
 * path (query left out). Crossing a rule's `max` within its window locks
 * "abnormal|<zone>|<client>" for `penalty` in the security kv store (listed and unlocked by
 * the admin API like lock-outs) and writes an audit event naming the rule. */
#ifndef WEIR_SECURITY_ABNORMAL_H
#define WEIR_SECURITY_ABNORMAL_H

#include "pipeline/module.h"

extern const struct pipeline_module abnormal_module;
/* Its first half, registered before the authentication modules: the client address's penalty,
 * and the statuses of the refusals they make (401, 403), counted against the address. Runs on
 * every route that has `abnormal:` (no key of its own). */
extern const struct pipeline_module abnormal_watch_module;

#endif

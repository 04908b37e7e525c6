/* auth_common.h — what the authentication modules (API key, Basic, HMAC, forward auth) share:
 * the refusal they answer with, a request field's value, a small file read at config load,
 * hex. Exchange thread (config helpers: the loader's thread). */
#ifndef WEIR_SECURITY_AUTH_COMMON_H
#define WEIR_SECURITY_AUTH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "pipeline/exchange.h"

struct ycx;
struct ynode;

/* A refusal as an audit event: auth_failure, or auth_forbidden for a 403; rule = the module's
 * name (the hook running), detail = weir's reason (never the credential). */
void auth_audit(const struct exchange *x, uint16_t status, const char *detail);
/* pipeline_reply(status, detail) plus a WWW-Authenticate field (when challenge is not NULL)
 * and Cache-Control: no-store; audited (auth_audit). */
enum pipeline_verdict auth_deny(struct exchange *x, uint16_t status, const char *challenge,
                                const char *detail);
/* The first request field of that name, or STR_NULL. */
/* The check passed: audited when `audit_log.successes` is on. Returns PIPELINE_NEXT. */
enum pipeline_verdict auth_allow(const struct exchange *x);
struct str auth_header(const struct exchange *x, struct str name);
/* The raw (not decoded) value of a query parameter, or STR_NULL. */
struct str auth_query_param(const struct exchange *x, const char *name);
/* 2 * n hex digits into n bytes; -1 when not hex. */
int auth_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n);
void auth_hex_encode(const uint8_t *in, size_t n, char *out); /* out: 2n + 1 */
/* Copies s into the arena as a C string; NULL when out of memory. */
char *auth_arena_cstr(struct exchange *x, struct str s);

#endif

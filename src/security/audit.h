/* audit.h — the audit log: security events as JSON lines in their own stream (a file or
 * stderr), written off the worker threads, each line carrying an HMAC-SHA256 chained over the
 * previous line's (docs/security.md, "Audit log").
 *
 * A line is  BODY,"mac":"<64 hex>"}\n  where BODY is the JSON object without its closing brace
 * and mac = HMAC-SHA256(key, previous line's mac in hex || BODY); the first line of a file
 * chains from 64 zeros. Reopening a file continues the chain from its last line, so deleting,
 * editing, inserting or reordering lines breaks it at that line (truncating the tail can only
 * be seen against an outside anchor: ship the log). `weir audit verify FILE --key KEYFILE`
 * (audit_verify) checks a file.
 *
 * Emitting: audit_emit / audit_emit_exchange from any thread; they format the line, take a
 * mutex only to queue it and never touch the file. When more than AUDIT_MAX_QUEUED lines wait
 * the newest are dropped and counted; the writer records the count as an "audit_dropped"
 * event. Events are rare (refusals, admin actions), not per request. */
#ifndef WEIR_SECURITY_AUDIT_H
#define WEIR_SECURITY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AUDIT_MAX_QUEUED 4096
#define AUDIT_KEY_MAX 128

struct exchange;

/* Every field is optional (NULL: left out); strings are JSON-escaped and masked (mask.h). */
struct audit_event {
    const char *event;      /* ip_denied, lockout, unlock, penalty, auth_failure, admin, reload, ... */
    const char *client;     /* the client's address */
    const char *subject;    /* the authenticated subject or the account */
    const char *route;      /* the route's host and path */
    const char *rule;       /* which rule decided (ip_rules.deny, lockout.ip, ...) */
    const char *request_id;
    const char *detail;
};

/* Opens the audit log (main thread: startup and reload). path: a file or "stderr"; NULL turns
 * it off. key_file: a file holding the key in hex (64 hex chars = 32 bytes, at most
 * AUDIT_KEY_MAX bytes); NULL: "<path>.key", created with 32 random bytes and mode 0600 when
 * absent (for stderr without a key file: a key made for this run, logged as a warning).
 * Reopening the same path and key keeps the stream. 0, or -1 with *why set. */
int audit_open(const char *path, const char *key_file, const char **why);
/* Writes what is queued and stops the writer (at exit). */
void audit_close(void);
bool audit_enabled(void);
/* Accepted authentications are audited too (`audit_log.successes`); off by default: it is a
 * line per authenticated request. */
void audit_set_successes(bool on);
bool audit_successes(void);
uint64_t audit_dropped(void);

void audit_emit(const struct audit_event *e);
/* An event about an exchange: client, subject (x->client_id), route and request id from x. */
void audit_emit_exchange(const struct exchange *x, const char *event, const char *rule,
                         const char *detail);

/* Reads a key file (hex). Returns the key length, or -1. */
int audit_read_key(const char *path, uint8_t key[AUDIT_KEY_MAX]);
/* Checks a file's chain. Returns 0 when every line verifies, else the 1-based number of the
 * first bad line (-1 when the file cannot be read); a line about it goes to `out`. */
long audit_verify(const char *path, const uint8_t *key, size_t keylen, FILE *out);
/* `weir audit verify FILE --key KEYFILE`: argv[0] is "audit". Exit status. */
int audit_main(int argc, char **argv);

#endif

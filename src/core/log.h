/* log.h — the error log: leveled, one write() per line, safe from any thread.
 *
 * Lines look like "2026-11-22T02:30:00.123Z [warn] message". The error log is for events, not
 * traffic (traffic goes to the access log), so a write per line is the simple, correct cost. */
#ifndef WEIR_CORE_LOG_H
#define WEIR_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config_types.h"

/* Sets the destination fd (default 2) and the minimum level. Main thread, before workers. */
void log_setup(int fd, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Opens the destination named in a config ("stderr" or a path, O_APPEND). -1 on error. */
int log_open_target(const char *target);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* A message that may repeat at the rate of its cause (one per arriving connection): at most
 * one line per LOG_LIMIT_MS, which says how many were held back since the previous one.
 * Zero-initialise; one owner thread (a worker keeps its own). */
#define LOG_LIMIT_MS 1000u
struct log_limit {
    uint64_t next_ms;    /* no line before this */
    uint32_t suppressed; /* held back since the last line */
};

/* Whether a line may be written at now_ms. When it may, *suppressed is set to how many were
 * held back since the previous line, and the count starts again; when not, one more is. */
bool log_limit_pass(struct log_limit *ll, uint64_t now_ms, uint32_t *suppressed);

/* log_msg through ll (now_ms: the caller's clock, e.g. its loop's). A line that follows
 * held-back ones ends with "(N more like this held back since the last)". */
void log_msg_limited(struct log_limit *ll, uint64_t now_ms, enum log_level level,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL; 64 bytes leaves room for any year) for the current wall-clock time. */
void log_timestamp(char out[64]);

/* A function that masks secrets in each message, in place and without changing its length
 * (NULL: none). Any thread may log while it is set. */
void log_set_filter(void (*fn)(char *s, size_t n));

#endif

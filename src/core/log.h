/* log.h — the error log: leveled, one write() per line, safe from any thread.
 *
 * Lines look like "2026-11-22T02:30:00.123Z [warn] message". The error log is for events, not
 * traffic (traffic goes to the access log), so a write per line is the simple, correct cost. */
#ifndef WEIR_CORE_LOG_H
#define WEIR_CORE_LOG_H

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

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL; 64 bytes leaves room for any year) for the current wall-clock time. */
void log_timestamp(char out[64]);

#endif

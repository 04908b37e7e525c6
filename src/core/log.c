/* log.c — see log.h. Shared state: the fd and level, read by every thread, written only by the
 * main thread (atomics keep the reads well-defined). */
#include "core/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_fd = 2;
static atomic_int log_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* Masks secrets in a message before it is written (set by the server from the config). */
static void (*_Atomic log_filter)(char *s, size_t n);

void log_set_filter(void (*fn)(char *s, size_t n))
{
    atomic_store(&log_filter, fn);
}

void log_setup(int fd, enum log_level level)
{
    atomic_store(&log_fd, fd);
    atomic_store(&log_level, (int)level);
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_level);
}

int log_open_target(const char *target)
{
    if (!target || strcmp(target, "stderr") == 0)
        return 2;
    if (strcmp(target, "stdout") == 0)
        return 1;
    return open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void log_timestamp(char out[64])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* One line: timestamp, level, the message, and `tail` when not NULL. */
__attribute__((format(printf, 3, 0)))
static void log_line(enum log_level level, const char *tail, const char *fmt, va_list ap)
{
    char line[1024];
    char ts[64];
    log_timestamp(ts);
    int n = snprintf(line, sizeof(line), "%s [%s] ", ts, level_names[level]);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (tail && len < sizeof(line) - 2) {
        m = snprintf(line + len, sizeof(line) - len - 1, "%s", tail);
        len += m < 0 ? 0 : (size_t)m;
    }
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    void (*filter)(char *, size_t) = atomic_load(&log_filter);
    if (filter)
        filter(line + n, len - (size_t)n);
    line[len++] = '\n';
    ssize_t w = write(atomic_load(&log_fd), line, len);
    (void)w; /* nowhere to report a failing error log */
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, NULL, fmt, ap);
    va_end(ap);
}

bool log_limit_pass(struct log_limit *ll, uint64_t now_ms, uint32_t *suppressed)
{
    if (now_ms < ll->next_ms) {
        ll->suppressed++;
        return false;
    }
    *suppressed = ll->suppressed;
    ll->suppressed = 0;
    ll->next_ms = now_ms + LOG_LIMIT_MS;
    return true;
}

void log_msg_limited(struct log_limit *ll, uint64_t now_ms, enum log_level level,
                     const char *fmt, ...)
{
    uint32_t held;
    if ((int)level < atomic_load(&log_level) || !log_limit_pass(ll, now_ms, &held))
        return;
    char tail[64] = "";
    if (held)
        snprintf(tail, sizeof(tail), " (%u more like this held back since the last)", held);
    va_list ap;
    va_start(ap, fmt);
    log_line(level, held ? tail : NULL, fmt, ap);
    va_end(ap);
}

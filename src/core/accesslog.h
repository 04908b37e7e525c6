/* accesslog.h — the access log: one JSON line per request, never blocking a worker.
 *
 * Each worker formats lines into its own shard buffer; a full shard (or the once-a-second
 * flush) is handed to one writer thread, which does the file I/O. If the writer falls behind by
 * more than ACCESSLOG_MAX_QUEUED buffers, whole buffers are dropped and counted instead of
 * blocking traffic. accesslog_open/close: main thread; shard functions: the owning worker. */
#ifndef WEIR_CORE_ACCESSLOG_H
#define WEIR_CORE_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCESSLOG_BUF_SIZE (64 * 1024)
#define ACCESSLOG_MAX_QUEUED 64

struct accesslog_shard {
    char *buf; /* NULL while the log is off */
    size_t len;
};

/* Opens target ("stderr", "stdout", a path) or turns the log off (NULL/"off").
 * Starts the writer thread on first use. Returns 0, or -1 with errno (file cannot be opened). */
int accesslog_open(const char *target);
/* Flushes everything queued and stops the writer thread (at exit). */
void accesslog_close(void);
bool accesslog_enabled(void);
uint64_t accesslog_dropped(void);

/* Room for one line in the shard, flushing it first if needed; returns a pointer to at least
 * `need` bytes or NULL (log off or out of memory). Commit with accesslog_commit(). */
char *accesslog_reserve(struct accesslog_shard *s, size_t need);
void accesslog_commit(struct accesslog_shard *s, size_t n);
/* Hands the shard's bytes to the writer (the worker's 1 s timer and shutdown call this). */
void accesslog_flush(struct accesslog_shard *s);
void accesslog_shard_free(struct accesslog_shard *s);

/* Writes all of p[0..n) to fd, retrying on EINTR; gives up silently on an error (a full disk
 * must not stop traffic). For the writer threads (this one's and the audit log's). */
void accesslog_write_all(int fd, const char *p, size_t n);

/* Appends s[0..n) JSON-escaped (without quotes) to out; returns bytes written (<= 6n). */
size_t accesslog_json_escape(char *out, const char *s, size_t n);

#endif

/* static_io.h — file reads that must not stall a worker: a page-cache probe and a small pool of
 * I/O threads whose completions come back to the worker through an eventfd.
 *
 * The worker serves a file with sendfile when its pages are in the page cache (a copy, no
 * waiting). Before a chunk it asks static_io_probe; on a miss it hands the chunk to the pool
 * (STATIC_IO_WARM reads it into the page cache), goes on with other connections, and sends the
 * chunk when the completion arrives. docs/internals/static.md has the design and the numbers.
 *
 * Threads: one pool per process (shared by the workers; its queue takes a mutex for a pointer
 * push/pop per job, only on the cold path), one completion queue per worker. A job belongs to
 * its submitter until its `done` callback runs, on the submitter's thread, from
 * static_io_poll_completions: the job (and its fd, its buffer) must stay alive until then, even
 * when the request was abandoned meanwhile. */
#ifndef WEIR_MODULES_STATIC_IO_H
#define WEIR_MODULES_STATIC_IO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATIC_IO_DEFAULT_THREADS 2

enum static_io_op {
    STATIC_IO_WARM, /* bring [offset, offset+len) into the page cache; result = bytes there */
    STATIC_IO_PREAD /* read [offset, offset+len) into buf; result = bytes read (short at EOF) */
};

struct static_io_cq;

struct static_io_job {
    enum static_io_op op;
    int fd;
    uint64_t offset;
    size_t len;
    void *buf; /* STATIC_IO_PREAD only */
    /* Runs on the worker that submitted the job, from static_io_poll_completions (or on the
     * pool's thread when submitted without a queue). */
    void (*done)(struct static_io_job *job);
    void *arg;
    ssize_t result; /* set before done: bytes, or -errno (-ECANCELED: the pool stopped first) */

    /* Private. */
    struct static_io_job *next;
    struct static_io_cq *cq;
};

/* A worker's completion queue. */
struct static_io_cq {
    int efd; /* eventfd, non-blocking: readable when completions wait */
    pthread_mutex_t mu;
    struct static_io_job *head, *tail;
};

/* 0, or -1 with errno (eventfd). */
int static_io_cq_init(struct static_io_cq *cq);

/* Runs the callbacks of completions still queued, then closes the eventfd. Call after the pool
 * was freed (or when none of this queue's jobs can still be running). */
void static_io_cq_destroy(struct static_io_cq *cq);

/* The fd the worker's reactor watches (readable, edge- or level-triggered both work). */
int static_io_cq_fd(const struct static_io_cq *cq);

/* Runs the done callback of every completed job; returns how many ran. Worker thread only. */
unsigned static_io_poll_completions(struct static_io_cq *cq);

struct static_io_pool;

/* Starts nthreads (0 → STATIC_IO_DEFAULT_THREADS) threads with every signal blocked. NULL on
 * failure. Main thread. */
struct static_io_pool *static_io_pool_new(unsigned nthreads);

/* Stops the pool: queued jobs complete with -ECANCELED (into their queues), running ones
 * finish, the threads are joined. Main thread, after the workers stopped submitting. */
void static_io_pool_free(struct static_io_pool *p);

/* Queues a job; its done callback will run on cq's worker, or, when cq is NULL, on the pool
 * thread that ran it (the callback then hands the result over itself: the static module posts
 * it to the worker's mailbox). Returns 0, or -1 when the pool is stopping (the job is then not
 * queued and done never runs). Any thread. */
int static_io_submit(struct static_io_pool *p, struct static_io_cq *cq, struct static_io_job *job);

/* preadv2(RWF_NOWAIT): reads only what the page cache has, never waiting for the disk.
 * Returns bytes read (may be short when only part is cached), -EAGAIN when the first byte is
 * not cached, -EOPNOTSUPP when the file system cannot say, or another -errno. */
ssize_t static_io_read_nowait(int fd, void *buf, size_t len, uint64_t offset);

/* Whether [offset, offset+len) looks cached: a 1-byte RWF_NOWAIT read of its first and of its
 * last byte (readahead fills contiguous windows, so both ends in cache is a good sign, and costs
 * two syscalls instead of copying the chunk). Returns 1 (cached), 0 (a miss: warm it in the
 * pool first), or -errno (-EOPNOTSUPP: cannot tell; treat as cold for files larger than RAM's
 * share you expect cached, or as warm otherwise). A range at or past EOF counts as cached. */
int static_io_probe(int fd, uint64_t offset, size_t len);

#endif

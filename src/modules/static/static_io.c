/* static_io.c — the I/O thread pool, completion queues and the page-cache probe (static_io.h).
 *
 * Locks: the pool's mutex guards its job queue and `stopping`; each completion queue's mutex
 * guards its list. Neither is held during I/O or while a callback runs, and they never nest. */
#include "modules/static/static_io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define WARM_STEP (256 * 1024)

struct static_io_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct static_io_job *head, *tail;
    bool stopping;
    unsigned nthreads;
    pthread_t threads[];
};

int static_io_cq_init(struct static_io_cq *cq)
{
    cq->head = cq->tail = NULL;
    cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cq->efd == -1)
        return -1;
    pthread_mutex_init(&cq->mu, NULL);
    return 0;
}

int static_io_cq_fd(const struct static_io_cq *cq)
{
    return cq->efd;
}

/* Appends to a head/tail list; the caller holds the list's lock. */
static void job_push(struct static_io_job **head, struct static_io_job **tail,
                     struct static_io_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void cq_post(struct static_io_cq *cq, struct static_io_job *job)
{
    pthread_mutex_lock(&cq->mu);
    job_push(&cq->head, &cq->tail, job);
    pthread_mutex_unlock(&cq->mu);
    uint64_t one = 1;
    /* EAGAIN only when the counter is near 2^64: it is readable anyway. */
    ssize_t w = write(cq->efd, &one, sizeof(one));
    (void)w;
}

/* Hands a finished job back: to its queue, or straight to its callback (no queue). */
static void job_finish(struct static_io_job *job)
{
    if (job->cq)
        cq_post(job->cq, job);
    else
        job->done(job);
}

unsigned static_io_poll_completions(struct static_io_cq *cq)
{
    uint64_t v;
    ssize_t r = read(cq->efd, &v, sizeof(v)); /* reset before taking the list: no lost wakeup */
    (void)r;
    pthread_mutex_lock(&cq->mu);
    struct static_io_job *j = cq->head;
    cq->head = cq->tail = NULL;
    pthread_mutex_unlock(&cq->mu);
    unsigned n = 0;
    while (j) {
        struct static_io_job *next = j->next; /* done may free or resubmit j */
        j->done(j);
        j = next;
        n++;
    }
    return n;
}

void static_io_cq_destroy(struct static_io_cq *cq)
{
    static_io_poll_completions(cq);
    close(cq->efd);
    cq->efd = -1;
    pthread_mutex_destroy(&cq->mu);
}

/* pread until len bytes, EOF or an error. */
static ssize_t read_full(int fd, char *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return got ? (ssize_t)got : -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Starts readahead for the whole range, then reads it through a scratch buffer: readahead()
 * alone may return before the pages arrive, and the worker must find them there. */
static ssize_t warm(int fd, uint64_t off, size_t len, char *scratch)
{
    if (readahead(fd, (off64_t)off, len) == -1 && errno != EINVAL)
        return -errno;
    size_t done = 0;
    while (done < len) {
        size_t step = len - done < WARM_STEP ? len - done : WARM_STEP;
        ssize_t r = read_full(fd, scratch, step, off + done);
        if (r < 0)
            return done ? (ssize_t)done : r;
        done += (size_t)r;
        if ((size_t)r < step)
            break;
    }
    return (ssize_t)done;
}

static void *worker_main(void *arg)
{
    struct static_io_pool *p = arg;
    char *scratch = malloc(WARM_STEP);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        struct static_io_job *j = p->head;
        if (!j) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);

        if (j->op == STATIC_IO_PREAD)
            j->result = read_full(j->fd, j->buf, j->len, j->offset);
        else if (scratch)
            j->result = warm(j->fd, j->offset, j->len, scratch);
        else
            j->result = -ENOMEM;
        job_finish(j);
    }
    free(scratch);
    return NULL;
}

struct static_io_pool *static_io_pool_new(unsigned nthreads)
{
    if (nthreads == 0)
        nthreads = STATIC_IO_DEFAULT_THREADS;
    struct static_io_pool *p = calloc(1, sizeof(*p) + nthreads * sizeof(pthread_t));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            break;
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads < nthreads) {
        static_io_pool_free(p);
        return NULL;
    }
    return p;
}

void static_io_pool_free(struct static_io_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    struct static_io_job *j = p->head;
    p->head = p->tail = NULL;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (j) {
        struct static_io_job *next = j->next;
        j->result = -ECANCELED;
        job_finish(j);
        j = next;
    }
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int static_io_submit(struct static_io_pool *p, struct static_io_cq *cq, struct static_io_job *job)
{
    job->cq = cq;
    job->result = 0;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    job_push(&p->head, &p->tail, job);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

ssize_t static_io_read_nowait(int fd, void *buf, size_t len, uint64_t offset)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    ssize_t r = preadv2(fd, &iov, 1, (off_t)offset, RWF_NOWAIT);
    return r == -1 ? -errno : r;
}

int static_io_probe(int fd, uint64_t offset, size_t len)
{
    char byte;
    uint64_t ends[2] = {offset, len ? offset + len - 1 : offset};
    for (int i = 0; i < 2; i++) {
        ssize_t r = static_io_read_nowait(fd, &byte, 1, ends[i]);
        if (r == -EAGAIN)
            return 0;
        if (r < 0)
            return (int)r;
    }
    return 1;
}

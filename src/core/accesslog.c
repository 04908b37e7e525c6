/* accesslog.c — see accesslog.h. Shared state: the queue of filled buffers, the free list and
 * the fd, all under `lock`; workers hold it only to push or pop a pointer. */
#include "core/accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

struct filled {
    struct filled *next;
    size_t len;
    char *buf;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool running;
    bool stopping;
    atomic_bool enabled;
    int fd;
    struct filled *head, *tail;
    uint32_t queued;
    char *spare[ACCESSLOG_MAX_QUEUED];
    uint32_t nspare;
    atomic_uint_fast64_t dropped;
} alog = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .fd = -1};

void accesslog_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w == -1) {
            if (errno == EINTR)
                continue;
            return; /* a full disk must not stop traffic */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&alog.lock);
    for (;;) {
        while (!alog.head && !alog.stopping)
            pthread_cond_wait(&alog.wake, &alog.lock);
        if (!alog.head && alog.stopping)
            break;
        struct filled *f = alog.head;
        alog.head = f->next;
        if (!alog.head)
            alog.tail = NULL;
        alog.queued--;
        int fd = alog.fd;
        pthread_mutex_unlock(&alog.lock);
        if (fd >= 0)
            accesslog_write_all(fd, f->buf, f->len);
        pthread_mutex_lock(&alog.lock);
        if (alog.nspare < ACCESSLOG_MAX_QUEUED)
            alog.spare[alog.nspare++] = f->buf;
        else
            free(f->buf);
        free(f);
    }
    pthread_mutex_unlock(&alog.lock);
    return NULL;
}

int accesslog_open(const char *target)
{
    int fd = -1;
    if (target && strcmp(target, "off") != 0) {
        fd = log_open_target(target);
        if (fd == -1)
            return -1;
    }
    pthread_mutex_lock(&alog.lock);
    int old = alog.fd;
    alog.fd = fd;
    bool start = fd >= 0 && !alog.running;
    if (start)
        alog.running = true;
    pthread_mutex_unlock(&alog.lock);
    if (old > 2)
        close(old);
    if (start && pthread_create(&alog.thread, NULL, writer_main, NULL) != 0) {
        pthread_mutex_lock(&alog.lock);
        alog.running = false;
        pthread_mutex_unlock(&alog.lock);
        return -1;
    }
    atomic_store(&alog.enabled, fd >= 0);
    return 0;
}

void accesslog_close(void)
{
    atomic_store(&alog.enabled, false);
    pthread_mutex_lock(&alog.lock);
    bool running = alog.running;
    alog.stopping = true;
    pthread_cond_signal(&alog.wake);
    pthread_mutex_unlock(&alog.lock);
    if (running)
        pthread_join(alog.thread, NULL);
    pthread_mutex_lock(&alog.lock);
    for (uint32_t i = 0; i < alog.nspare; i++)
        free(alog.spare[i]);
    alog.nspare = 0;
    if (alog.fd > 2)
        close(alog.fd);
    alog.fd = -1;
    alog.running = false;
    alog.stopping = false;
    pthread_mutex_unlock(&alog.lock);
}

bool accesslog_enabled(void)
{
    return atomic_load(&alog.enabled);
}

uint64_t accesslog_dropped(void)
{
    return atomic_load(&alog.dropped);
}

void accesslog_flush(struct accesslog_shard *s)
{
    if (!s->buf || !s->len)
        return;
    struct filled *f = malloc(sizeof(*f));
    pthread_mutex_lock(&alog.lock);
    if (!f || !alog.running || alog.queued >= ACCESSLOG_MAX_QUEUED) {
        pthread_mutex_unlock(&alog.lock);
        free(f);
        atomic_fetch_add(&alog.dropped, 1);
        s->len = 0;
        return;
    }
    *f = (struct filled){.len = s->len, .buf = s->buf};
    if (alog.tail)
        alog.tail->next = f;
    else
        alog.head = f;
    alog.tail = f;
    alog.queued++;
    s->buf = alog.nspare ? alog.spare[--alog.nspare] : NULL;
    pthread_cond_signal(&alog.wake);
    pthread_mutex_unlock(&alog.lock);
    s->len = 0;
}

char *accesslog_reserve(struct accesslog_shard *s, size_t need)
{
    if (!accesslog_enabled() || need > ACCESSLOG_BUF_SIZE)
        return NULL;
    if (s->buf && s->len + need > ACCESSLOG_BUF_SIZE)
        accesslog_flush(s);
    if (!s->buf) {
        s->buf = malloc(ACCESSLOG_BUF_SIZE);
        if (!s->buf)
            return NULL;
        s->len = 0;
    }
    return s->buf + s->len;
}

void accesslog_commit(struct accesslog_shard *s, size_t n)
{
    s->len += n;
}

void accesslog_shard_free(struct accesslog_shard *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = 0;
}

size_t accesslog_json_escape(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            *o++ = '\\';
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    return (size_t)(o - out);
}

/* cache_warm.c — see cache_warm.h. Blocking sockets on threads of its own: a warm-up is a
 * batch job, and blocking I/O with timeouts keeps it short and obviously bounded. */
#include "cache/cache_warm.h"

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WARM_MAX_CONCURRENCY 64
#define WARM_TIMEOUT_S 10

struct job {
    char **urls;
    uint32_t n, concurrency;
    uint64_t interval_ns;          /* between starts; 0: no limit */
    char *host;
    atomic_uint next;
    pthread_mutex_t pace;
    uint64_t next_start_ns;
};

static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *current;
static pthread_t coordinator;
static bool joinable;
static atomic_bool running, stopping;
static atomic_uint_fast64_t queued, done, failed, bytes_read;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Splits "http://host[:port]/path" (no https: weir's listeners are plain HTTP). */
static bool split(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                  const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *a = url + 7, *e = a;
    while (*e && *e != '/' && *e != '?')
        e++;
    const char *colon = memchr(a, ':', (size_t)(e - a));
    size_t hl = (size_t)((colon ? colon : e) - a);
    if (!hl || hl >= hcap)
        return false;
    memcpy(host, a, hl);
    host[hl] = '\0';
    if (colon) {
        size_t pl = (size_t)(e - colon - 1);
        if (!pl || pl >= pcap)
            return false;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    *path = *e ? e : "/";
    return true;
}

int cache_warm_fetch(const char *url, const char *host_override, uint64_t *nbytes)
{
    char host[256], port[8];
    const char *path;
    *nbytes = 0;
    if (!split(url, host, sizeof(host), port, sizeof(port), &path))
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = WARM_TIMEOUT_S};
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
              setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
              connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    char req[8192 + 512];
    const char *h = host_override ? host_override : url + 7;
    size_t hlen = host_override ? strlen(host_override)
                                : (size_t)(strcspn(url + 7, "/?"));
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: weir-prewarm\r\n"
                     "Connection: close\r\n\r\n",
                     path, (int)hlen, h);
    ok = ok && n > 0 && (size_t)n < sizeof(req) && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
    int status = 0;
    char buf[16384];
    ssize_t got;
    while (ok && (got = recv(fd, buf, sizeof(buf), 0)) > 0) {
        if (!*nbytes && got >= 12 && memcmp(buf, "HTTP/1.", 7) == 0)
            status = atoi(buf + 9);
        *nbytes += (uint64_t)got;
    }
    if (fd >= 0)
        close(fd);
    return ok && status >= 200 && status < 400 ? 0 : -1;
}

static void *fetcher(void *arg)
{
    struct job *j = arg;
    for (;;) {
        if (atomic_load(&stopping))
            break;
        uint32_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        if (j->interval_ns) {
            pthread_mutex_lock(&j->pace);
            uint64_t now = mono_ns(), at = j->next_start_ns > now ? j->next_start_ns : now;
            j->next_start_ns = at + j->interval_ns;
            pthread_mutex_unlock(&j->pace);
            if (at > now) {
                struct timespec ts = {.tv_sec = (time_t)((at - now) / 1000000000ull),
                                      .tv_nsec = (long)((at - now) % 1000000000ull)};
                nanosleep(&ts, NULL);
            }
        }
        uint64_t b = 0;
        if (cache_warm_fetch(j->urls[i], j->host, &b) == 0)
            atomic_fetch_add(&done, 1);
        else
            atomic_fetch_add(&failed, 1);
        atomic_fetch_add(&bytes_read, b);
    }
    return NULL;
}

static void job_free(struct job *j)
{
    for (uint32_t i = 0; i < j->n; i++)
        free(j->urls[i]);
    free(j->urls);
    free(j->host);
    pthread_mutex_destroy(&j->pace);
    free(j);
}

static void *coordinate(void *arg)
{
    struct job *j = arg;
    pthread_t t[WARM_MAX_CONCURRENCY];
    uint32_t started = 0;
    for (; started < j->concurrency; started++)
        if (pthread_create(&t[started], NULL, fetcher, j) != 0)
            break;
    if (!started)
        fetcher(j);
    for (uint32_t i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    atomic_store(&running, false);
    return NULL;
}

int cache_warm_start(char *const *urls, uint32_t n, uint32_t concurrency, uint32_t rate,
                     const char *host)
{
    pthread_mutex_lock(&warm_lock);
    if (atomic_load(&running)) {
        pthread_mutex_unlock(&warm_lock);
        return -1;
    }
    if (joinable) { /* the previous job is over: collect it */
        pthread_join(coordinator, NULL);
        joinable = false;
        job_free(current);
        current = NULL;
    }
    struct job *j = calloc(1, sizeof(*j));
    if (j)
        j->urls = calloc(n ? n : 1, sizeof(char *));
    bool ok = j && j->urls;
    for (uint32_t i = 0; ok && i < n; i++) {
        ok = (j->urls[i] = strdup(urls[i])) != NULL;
        j->n = i + 1;
    }
    if (ok && host)
        ok = (j->host = strdup(host)) != NULL;
    if (!ok) {
        if (j)
            job_free(j);
        pthread_mutex_unlock(&warm_lock);
        return -2;
    }
    pthread_mutex_init(&j->pace, NULL);
    j->n = n;
    j->concurrency = concurrency < 1 ? 1 : concurrency > WARM_MAX_CONCURRENCY ? WARM_MAX_CONCURRENCY
                                                                            : concurrency;
    j->interval_ns = rate ? 1000000000ull / rate : 0;
    atomic_store(&queued, n);
    atomic_store(&done, 0);
    atomic_store(&failed, 0);
    atomic_store(&bytes_read, 0);
    atomic_store(&stopping, false);
    atomic_store(&running, true);
    if (pthread_create(&coordinator, NULL, coordinate, j) != 0) {
        atomic_store(&running, false);
        job_free(j);
        pthread_mutex_unlock(&warm_lock);
        return -2;
    }
    current = j;
    joinable = true;
    pthread_mutex_unlock(&warm_lock);
    return 0;
}

void cache_warm_progress(struct cache_warm_progress *p)
{
    *p = (struct cache_warm_progress){.running = atomic_load(&running),
                                      .queued = atomic_load(&queued),
                                      .done = atomic_load(&done),
                                      .failed = atomic_load(&failed),
                                      .bytes = atomic_load(&bytes_read)};
}

void cache_warm_shutdown(void)
{
    pthread_mutex_lock(&warm_lock);
    atomic_store(&stopping, true);
    if (joinable) {
        pthread_join(coordinator, NULL);
        joinable = false;
        job_free(current);
        current = NULL;
    }
    pthread_mutex_unlock(&warm_lock);
}

/* wr_store_memory.c — the in-memory waitroom store (see wr_store.h). Locking: one mutex per
 * room, taken once per operation around one wr_queue call; rooms share nothing. */
#include "waitroom/wr_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

struct mem_room {
    pthread_mutex_t mu;
    struct wr_room r;
};

static uint64_t seed64(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
    }
    return s;
}

static void *mem_open(const char *room, uint32_t *nonce)
{
    (void)room;
    struct mem_room *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    wr_room_init(&m->r, seed64(), (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    *nonce = (uint32_t)seed64();
    return m;
}

static void mem_close(void *room)
{
    struct mem_room *m = room;
    if (!m)
        return;
    wr_room_fini(&m->r);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void mem_arrive(void *room, const struct wr_params *p, int64_t now, struct wr_result *out)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    wr_arrive(&m->r, p, now, out);
    pthread_mutex_unlock(&m->mu);
}

static void mem_poll(void *room, const struct wr_params *p, uint64_t ticket, int64_t now,
                     struct wr_result *out)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    wr_poll(&m->r, p, ticket, now, out);
    pthread_mutex_unlock(&m->mu);
}

static void mem_touch(void *room, const struct wr_params *p, uint64_t sid, uint32_t slot,
                      int64_t now, struct wr_result *out)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    wr_touch(&m->r, p, sid, slot, now, out);
    pthread_mutex_unlock(&m->mu);
}

static bool mem_revoke(void *room, const struct wr_params *p, uint64_t sid, uint32_t slot,
                       int64_t now)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    bool ok = wr_revoke(&m->r, p, sid, slot, now);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

static void mem_pause(void *room, bool paused)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    wr_pause(&m->r, paused);
    pthread_mutex_unlock(&m->mu);
}

static void mem_stats(void *room, const struct wr_params *p, int64_t now, struct wr_stats *out)
{
    struct mem_room *m = room;
    pthread_mutex_lock(&m->mu);
    wr_stats(&m->r, p, now, out);
    pthread_mutex_unlock(&m->mu);
}

const struct wr_store_ops wr_store_memory = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .arrive = mem_arrive,
    .poll = mem_poll,
    .touch = mem_touch,
    .revoke = mem_revoke,
    .pause = mem_pause,
    .stats = mem_stats,
};

/* state_events.c — see state_events.h. The thread-local pointers are each thread's own. */
#include "state/state_events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/config_types.h"
#include "event/timer.h"
#include "state/redis_conn.h"
#include "state/store_stats.h"

#define EVENT_MAX 4096

static const char *const kind_names[STATE_EV_COUNT] = {
    [STATE_EV_PURGE] = "purge",
    [STATE_EV_BREAKER] = "breaker",
    [STATE_EV_REVOKE] = "revoke",
};

static state_event_fn handlers[STATE_EV_COUNT];
static char instance[17];          /* set once, before the workers start */
static _Thread_local struct redis_conn *sub;
static _Thread_local struct redis_conn *cmd[CFG_STATE_POOL_MAX]; /* the command pool */
static _Thread_local uint32_t ncmd;
static _Thread_local char channel[96];
static state_sync_fn syncs[4];
static unsigned nsyncs;
static _Thread_local struct ev_loop *sync_loop; /* worker 0's, while it runs the syncs */
static _Thread_local struct timer sync_timer;
/* How any thread reaches the subscriber's (worker 0's) loop, while it runs. */
static pthread_mutex_t post_lock = PTHREAD_MUTEX_INITIALIZER;
static struct state_post sub_post;

static void make_instance(void);

void state_events_handle(enum state_event_kind kind, state_event_fn fn)
{
    make_instance(); /* here, on the main thread, before any worker reads it */
    handlers[kind] = fn;
}

static void make_instance(void)
{
    uint64_t id = 0;
    if (instance[0])
        return;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id))
        id = (uint64_t)(uintptr_t)&id ^ 0x9e3779b97f4a7c15ull;
    snprintf(instance, sizeof(instance), "%016llx", (unsigned long long)id);
}

void state_events_every(state_sync_fn fn)
{
    if (nsyncs < sizeof(syncs) / sizeof(syncs[0]))
        syncs[nsyncs++] = fn;
}

static void on_sync(struct timer *t)
{
    for (unsigned i = 0; i < nsyncs; i++)
        syncs[i]();
    timer_arm(&sync_loop->timers, t, sync_loop->now_ms + STATE_SYNC_MS);
}

static void on_message(void *arg, const char *msg, size_t len)
{
    (void)arg;
    /* "<16 hex> <kind> <payload>" */
    if (len < 18 || msg[16] != ' ' || memcmp(msg, instance, 16) == 0)
        return;
    const char *k = msg + 17, *end = msg + len;
    const char *sp = memchr(k, ' ', (size_t)(end - k));
    if (!sp)
        return;
    for (unsigned i = 0; i < STATE_EV_COUNT; i++) {
        if (strlen(kind_names[i]) == (size_t)(sp - k) && memcmp(k, kind_names[i], (size_t)(sp - k)) == 0 &&
            handlers[i]) {
            atomic_fetch_add_explicit(&store_stats.received, 1, memory_order_relaxed);
            handlers[i](sp + 1, (size_t)(end - sp - 1));
            return;
        }
    }
}

/* On the subscriber's thread (posted): move the subscription to the primary last found. On
 * another thread (a call run after the worker stopped), sub is NULL: nothing to do. */
static void follow_primary(void *arg)
{
    (void)arg;
    char addr[256];
    store_stats_primary(addr, sizeof(addr));
    if (sub && addr[0])
        redis_conn_follow(sub, addr);
}

/* redis_conn_on_primary's hook, on the thread of the connection that found the new primary. */
static void primary_changed(void)
{
    pthread_mutex_lock(&post_lock);
    if (sub_post.post)
        sub_post.post(sub_post.ctx, follow_primary, NULL);
    pthread_mutex_unlock(&post_lock);
}

void state_thread_start(struct ev_loop *loop, struct config *cfg, uint32_t pool,
                        const struct state_post *subscriber)
{
    if (cfg->state.backend != CFG_STATE_REDIS || redis_conn_here())
        return;
    make_instance();
    snprintf(channel, sizeof(channel), "%s:events", cfg->state.prefix);
    if (pool > CFG_STATE_POOL_MAX)
        pool = CFG_STATE_POOL_MAX;
    for (ncmd = 0; ncmd < pool; ncmd++)
        if (!(cmd[ncmd] = redis_conn_new(loop, cfg, NULL, NULL, NULL)))
            break;
    redis_conn_set_here(ncmd ? cmd : NULL, ncmd);
    if (subscriber) {
        sub = redis_conn_new(loop, cfg, channel, on_message, NULL);
        pthread_mutex_lock(&post_lock);
        sub_post = *subscriber;
        pthread_mutex_unlock(&post_lock);
        redis_conn_on_primary(primary_changed);
        if (nsyncs) { /* the first once the connection is likely up */
            sync_loop = loop;
            timer_init(&sync_timer, on_sync);
            timer_arm(&loop->timers, &sync_timer, loop->now_ms + 200);
        }
    }
}

void state_thread_stop(void)
{
    if (sync_loop)
        timer_disarm(&sync_loop->timers, &sync_timer);
    sync_loop = NULL;
    if (sub) {
        pthread_mutex_lock(&post_lock);
        sub_post = (struct state_post){0};
        pthread_mutex_unlock(&post_lock);
    }
    redis_conn_set_here(NULL, 0);
    for (uint32_t i = 0; i < ncmd; i++)
        redis_conn_free(cmd[i]);
    ncmd = 0;
    redis_conn_free(sub);
    sub = NULL;
}

bool state_events_shared(void)
{
    return redis_conn_here() != NULL;
}

bool state_event_publish(enum state_event_kind kind, const char *payload, size_t len)
{
    struct redis_conn *c = redis_conn_here();
    char msg[EVENT_MAX];
    if (!c || len > EVENT_MAX - 64)
        return false;
    const struct cfg_state *st = redis_conn_cfg(c);
    if ((kind == STATE_EV_PURGE && !st->purge_broadcast) ||
        (kind == STATE_EV_BREAKER && !st->breaker_broadcast))
        return false;
    int n = snprintf(msg, sizeof(msg), "%s %s ", instance, kind_names[kind]);
    memcpy(msg + n, payload, len);
    return redis_conn_publish(c, channel, msg, (size_t)n + len);
}

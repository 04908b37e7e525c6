/* wr_handle.c — see wr_handle.h. */
#include "waitroom/wr_handle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "state/state_events.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wr_handle **reg;
static uint32_t nreg, capreg;

int64_t wr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_params(struct wr_handle *h, const struct wr_conf *c, const struct wr_params *p)
{
    pthread_mutex_lock(&h->mu);
    h->params = *p;
    h->refresh_ms = c->refresh_ms;
    h->apm_auto = c->apm_auto;
    pthread_mutex_unlock(&h->mu);
    wr_auto_configure(&h->ctl, c->apm_auto, c->max_active);
}

struct wr_handle *wr_handle_get(const struct wr_conf *c, const struct wr_params *p)
{
    pthread_mutex_lock(&reg_mu);
    for (uint32_t i = 0; i < nreg; i++)
        if (!strcmp(reg[i]->name, c->name)) {
            reg[i]->refs++;
            pthread_mutex_unlock(&reg_mu);
            set_params(reg[i], c, p);
            return reg[i];
        }
    struct wr_handle *h = NULL;
    if (nreg == capreg) {
        uint32_t ncap = capreg ? capreg * 2 : 8;
        struct wr_handle **n = realloc(reg, ncap * sizeof(*n));
        if (!n)
            goto out;
        reg = n;
        capreg = ncap;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        goto out;
    memcpy(h->name, c->name, sizeof(h->name));
    h->ops = &wr_store_memory;
    h->room = h->ops->open(h->name, &h->nonce);
    h->shared_room = wr_store_redis.open(h->name, &h->shared_nonce);
    if (!h->room || !h->shared_room) {
        h->ops->close(h->room);
        wr_store_redis.close(h->shared_room);
        free(h);
        h = NULL;
        goto out;
    }
    pthread_mutex_init(&h->mu, NULL);
    wr_auto_init(&h->ctl);
    h->refs = 1;
    reg[nreg++] = h;
    log_info("waiting room %s: open", h->name);
out:
    pthread_mutex_unlock(&reg_mu);
    if (h)
        set_params(h, c, p);
    return h;
}

void wr_handle_put(struct wr_handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&reg_mu);
    if (--h->refs) {
        pthread_mutex_unlock(&reg_mu);
        return;
    }
    for (uint32_t i = 0; i < nreg; i++)
        if (reg[i] == h) {
            reg[i] = reg[--nreg];
            break;
        }
    if (!nreg) {
        free(reg);
        reg = NULL;
        capreg = 0;
    }
    pthread_mutex_unlock(&reg_mu);
    log_info("waiting room %s: closed", h->name);
    h->ops->close(h->room);
    wr_store_redis.close(h->shared_room);
    wr_auto_fini(&h->ctl);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

struct wr_handle *wr_handle_find(const char *name)
{
    struct wr_handle *h = NULL;
    pthread_mutex_lock(&reg_mu);
    for (uint32_t i = 0; i < nreg; i++)
        if (!strcmp(reg[i]->name, name)) {
            h = reg[i];
            h->refs++;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    return h;
}

void wr_handle_foreach(void (*fn)(struct wr_handle *h, void *arg), void *arg)
{
    pthread_mutex_lock(&reg_mu);
    for (uint32_t i = 0; i < nreg; i++)
        fn(reg[i], arg);
    pthread_mutex_unlock(&reg_mu);
}

void wr_handle_params(struct wr_handle *h, struct wr_params *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->params;
    pthread_mutex_unlock(&h->mu);
    if (atomic_load_explicit(&h->ctl.on, memory_order_relaxed))
        out->admit_per_minute = wr_auto_rate(&h->ctl);
}

void wr_handle_phase(struct wr_handle *h, const struct wr_params *p, int64_t now)
{
    static const char *const names[] = {"open", "pre-queue (nobody admitted)", "off (event over)"};
    int ph = (int)wr_phase_at(p, now), old = atomic_load_explicit(&h->phase, memory_order_relaxed);
    if (ph != old && atomic_compare_exchange_strong(&h->phase, &old, ph))
        log_info("waiting room %s: %s", h->name, names[ph]);
}

static void synced(void *arg, const struct wr_stats *st)
{
    struct wr_handle *h = arg;
    if (st) {
        pthread_mutex_lock(&h->mu);
        h->shared_stats = *st;
        h->have_shared_stats = true;
        pthread_mutex_unlock(&h->mu);
    }
    wr_handle_put(h); /* the reference wr_handle_sync took */
}

static void sync_one(struct wr_handle *h, void *arg)
{
    (void)arg;
    struct wr_params p;
    pthread_mutex_lock(&h->mu);
    p = h->params;
    pthread_mutex_unlock(&h->mu);
    if (atomic_load_explicit(&h->ctl.on, memory_order_relaxed))
        p.admit_per_minute = wr_auto_rate(&h->ctl);
    h->refs++; /* under the registry mutex (foreach): the answer comes later */
    if (!wr_store_redis_stats(h->shared_room, &p, synced, h))
        h->refs--;
}

void wr_handle_sync(void)
{
    wr_handle_foreach(sync_one, NULL);
}

void wr_handle_pause(struct wr_handle *h, bool paused)
{
    h->ops->pause(h->room, paused);
    if (state_events_shared()) { /* the admin thread's connection: sent, not waited for */
        wr_store_redis.pause(h->shared_room, paused);
        pthread_mutex_lock(&h->mu);
        h->shared_stats.paused = paused; /* shown at once, before the next read */
        pthread_mutex_unlock(&h->mu);
    }
    log_info("waiting room %s: %s", h->name, paused ? "paused (nobody admitted)" : "resumed");
}

void wr_handle_figures(struct wr_handle *h, struct wr_figures *out)
{
    struct wr_params p;
    wr_handle_params(h, &p);
    *out = (struct wr_figures){.max_active = p.max_active, .admit_limit = p.admit_per_minute};
    h->ops->stats(h->room, &p, wr_now_ms(), &out->st);
    pthread_mutex_lock(&h->mu);
    out->apm_auto = h->apm_auto;
    pthread_mutex_unlock(&h->mu);
    out->cookies_rejected = atomic_load(&h->cookies_rejected);
    out->bypassed = atomic_load(&h->bypassed);
    out->passed = atomic_load(&h->passed);
    out->queue_replies = atomic_load(&h->queue_replies);
    out->origin_revokes = atomic_load(&h->origin_revokes);
    if (state_events_shared()) { /* the room is in Redis: its figures as worker 0 read them */
        pthread_mutex_lock(&h->mu);
        if (h->have_shared_stats)
            out->st = h->shared_stats;
        pthread_mutex_unlock(&h->mu);
        uint64_t rate = out->st.admitted_last_minute;
        out->eta_last_s = rate ? (int64_t)((out->st.waiting * 60 + rate - 1) / rate)
                               : (out->st.waiting ? -1 : 0);
    }
    uint64_t rate = out->st.admitted_last_minute;
    out->eta_last_s = rate ? (int64_t)((out->st.waiting * 60 + rate - 1) / rate)
                           : (out->st.waiting ? -1 : 0);
}

/* health.c — see health.h. Shared state: the registry list (under `lock`) and the atomics of
 * each server_state. */
#include "resilience/health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "metrics/metrics.h"
#include "pipeline/waitq.h"
#include "resilience/breaker.h"

static struct {
    pthread_mutex_t lock;
    struct server_state **items;
    uint32_t n, cap;
    uint32_t next_index;
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void state_free(struct server_state *st)
{
    if (st->breaker)
        breaker_free(st->breaker);
    free(st->m);
    free(st->key);
    free(st->group);
    free(st->address);
    waitq_unref(st->slots);
    free(st);
}

static struct server_state *state_new(const char *group, const struct cfg_server *srv)
{
    struct server_state *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    size_t klen = strlen(group) + strlen(srv->addr.text) + 2;
    st->key = malloc(klen);
    st->group = strdup(group);
    st->address = strdup(srv->addr.text);
    st->m = metrics_server_shards();
    st->slots = waitq_new(metrics_workers());
    if (!st->key || !st->group || !st->address || !st->m || !st->slots) {
        state_free(st);
        return NULL;
    }
    snprintf(st->key, klen, "%s/%s", group, srv->addr.text);
    atomic_init(&st->lb.up, true);
    atomic_init(&st->lb.inflight, 0);
    atomic_init(&st->lb.weight_now, srv->weight ? srv->weight : 1);
    st->lb.id = str_cstr(st->address);
    return st;
}

struct server_state *health_get(const char *group, const struct cfg_server *srv)
{
    pthread_mutex_lock(&reg.lock);
    struct server_state *st = NULL;
    for (uint32_t i = 0; i < reg.n; i++) {
        if (strcmp(reg.items[i]->group, group) == 0 &&
            strcmp(reg.items[i]->address, srv->addr.text) == 0) {
            st = reg.items[i];
            break;
        }
    }
    if (!st) {
        if (reg.n == reg.cap) {
            uint32_t cap = reg.cap ? reg.cap * 2 : 16;
            struct server_state **items = realloc(reg.items, cap * sizeof(*items));
            if (!items)
                goto out;
            reg.items = items;
            reg.cap = cap;
        }
        st = state_new(group, srv);
        if (!st)
            goto out;
        st->index = reg.next_index++;
        reg.items[reg.n++] = st;
    }
    st->refs++;
    /* Weight and role follow the newest config that names the server. */
    uint32_t w = srv->weight ? srv->weight : 1;
    if (st->lb.weight != w && atomic_load(&st->up_since_ms) == 0 && atomic_load(&st->lb.up))
        atomic_store(&st->lb.weight_now, w);
    st->lb.weight = w;
    st->lb.backup = srv->backup;
out:
    pthread_mutex_unlock(&reg.lock);
    return st;
}

void health_foreach(void (*fn)(struct server_state *st, void *arg), void *arg)
{
    pthread_mutex_lock(&reg.lock);
    for (uint32_t i = 0; i < reg.n; i++)
        fn(reg.items[i], arg);
    pthread_mutex_unlock(&reg.lock);
}

void health_put(struct server_state *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&reg.lock);
    if (--st->refs == 0) {
        for (uint32_t i = 0; i < reg.n; i++) {
            if (reg.items[i] == st) {
                reg.items[i] = reg.items[--reg.n];
                break;
            }
        }
        state_free(st);
        if (reg.n == 0) {
            free(reg.items);
            reg.items = NULL;
            reg.cap = 0;
        }
    }
    pthread_mutex_unlock(&reg.lock);
}

bool health_set_up(struct server_state *st, const struct cfg_upstream *g, uint64_t now_ms,
                   const char *why)
{
    if (atomic_load(&st->lb.up))
        return false;
    /* Slow start: picks are thinned in proportion to the time since coming up
     * (health_ramp_admits), which works for every strategy and any weight. */
    atomic_store(&st->up_since_ms, g->slow_start_ms ? (now_ms ? now_ms : 1) : 0);
    atomic_store(&st->lb.weight_now, st->lb.weight);
    atomic_store(&st->fails, 0);
    if (atomic_exchange(&st->lb.up, true))
        return false; /* another worker won the race and logged it */
    atomic_store(&st->down_reason, HEALTH_UP);
    atomic_fetch_add(&st->transitions, 1);
    log_warn("upstream %s is UP (%s)", st->key, why);
    return true;
}

bool health_set_down(struct server_state *st, enum health_down_reason reason, const char *why)
{
    if (!atomic_exchange(&st->lb.up, false))
        return false;
    atomic_store(&st->down_reason, reason);
    atomic_fetch_add(&st->transitions, 1);
    log_warn("upstream %s is DOWN (%s)", st->key, why);
    return true;
}

void health_report(struct server_state *st, const struct cfg_upstream *g, bool failed,
                   uint64_t now_ms)
{
    atomic_fetch_add_explicit(&st->requests, 1, memory_order_relaxed);
    if (!failed) {
        if (atomic_load_explicit(&st->fails, memory_order_relaxed))
            atomic_store_explicit(&st->fails, 0, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&st->failures, 1, memory_order_relaxed);
    if (!g->passive.enabled)
        return;
    uint64_t start = atomic_load(&st->fail_window_start_ms);
    unsigned fails;
    if (now_ms - start > g->passive.window_ms) {
        atomic_store(&st->fail_window_start_ms, now_ms);
        atomic_store(&st->fails, 1);
        fails = 1;
    } else {
        fails = atomic_fetch_add(&st->fails, 1) + 1;
    }
    if (fails >= g->passive.failures) {
        atomic_store(&st->down_until_ms, now_ms + g->passive.cooldown_ms);
        char why[96];
        snprintf(why, sizeof(why), "%u failed requests within %u ms", fails, g->passive.window_ms);
        health_set_down(st, HEALTH_DOWN_PASSIVE, why);
    }
}

void health_check_result(struct server_state *st, const struct cfg_upstream *g, bool ok,
                         const char *why, uint64_t now_ms)
{
    atomic_fetch_add_explicit(&st->checks, 1, memory_order_relaxed);
    if (ok) {
        st->check_fail_streak = 0;
        st->check_ok_streak++;
        /* A passive cool-off is served in full before checks may bring the server back. */
        if (!atomic_load(&st->lb.up) && st->check_ok_streak >= g->active.rise &&
            now_ms >= atomic_load(&st->down_until_ms)) {
            char msg[64];
            snprintf(msg, sizeof(msg), "%u active checks passed", st->check_ok_streak);
            health_set_up(st, g, now_ms, msg);
        }
        return;
    }
    atomic_fetch_add_explicit(&st->checks_failed, 1, memory_order_relaxed);
    st->check_ok_streak = 0;
    st->check_fail_streak++;
    if (st->check_fail_streak >= g->active.fall) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%u active checks failed, last: %s", st->check_fail_streak, why);
        health_set_down(st, HEALTH_DOWN_ACTIVE, msg);
    }
}

void health_tick(struct server_state *st, const struct cfg_upstream *g, uint64_t now_ms)
{
    if (!atomic_load(&st->lb.up)) {
        /* Without active checks, a passive cool-off ends with a trial: the server is up again
         * but one more failure is enough to take it down. */
        if (!g->active.enabled && atomic_load(&st->down_reason) == HEALTH_DOWN_PASSIVE &&
            now_ms >= atomic_load(&st->down_until_ms)) {
            if (health_set_up(st, g, now_ms, "cool-off over, on trial"))
                atomic_store(&st->fails, g->passive.failures ? g->passive.failures - 1 : 0);
            atomic_store(&st->fail_window_start_ms, now_ms);
        }
        return;
    }
    uint64_t since = atomic_load(&st->up_since_ms);
    if (since && (!g->slow_start_ms || now_ms - since >= g->slow_start_ms))
        atomic_store(&st->up_since_ms, 0);
}

bool health_ramp_admits(const struct server_state *st, const struct cfg_upstream *g,
                        uint64_t now_ms, uint64_t rand)
{
    uint64_t since = atomic_load_explicit(&st->up_since_ms, memory_order_relaxed);
    if (!since || !g->slow_start_ms)
        return true;
    uint64_t elapsed = now_ms > since ? now_ms - since : 0;
    if (elapsed >= g->slow_start_ms)
        return true;
    /* Admit a share growing linearly from 5 % to 100 % over the slow start. */
    uint64_t share = 50 + 950 * elapsed / g->slow_start_ms;
    return rand % 1000 < share;
}

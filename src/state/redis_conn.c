/* redis_conn.c — see redis_conn.h.
 *
 * Requests: every command sent gets a struct redis_req, hiredis' privdata, freed when hiredis
 * hands its reply (or NULL when the context goes away). While its caller waits it is on the
 * `live` list, in send order — which is also deadline order (one timeout for all), so one
 * timer (t_cmd) armed for the list's head serves every deadline. Timed out or cancelled, it
 * leaves the list and only waits for hiredis to let it go. */
#include "state/redis_conn.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "state/redis_ev.h"
#include "state/redis_tunnel.h"
#include "state/store_stats.h"
#include "tls/tls_gen.h"

#define STALL_DROP_MIN_MS 1000u
#define FOLLOW_CHECK_MS 1000u /* how often an idle connection looks whether the primary moved */

struct redis_req {
    struct redis_req *prev, *next; /* the live list, while live */
    struct redis_conn *c;
    redis_reply_fn cb;             /* NULL: nobody wants the answer any more */
    void *arg;
    uint64_t deadline_ms;
    uint64_t start_us;
    bool live;                     /* its caller is waiting */
    bool late;                     /* timed out, reply not in yet */
};

struct redis_conn {
    struct ev_loop *loop;
    struct config *cfg;
    const struct cfg_state *st;
    redisAsyncContext *ac;         /* NULL between connections */
    struct redis_ev ev;
    struct redis_tunnel *tun;      /* state.tls: the TLS bridge under ac (redis_tunnel.h) */
    void *tls_session;             /* the session the next TLS connect offers */
    uint32_t session_addr;         /* the address tls_session is from */
    bool ready;
    bool freeing;
    bool retry_armed;              /* t_conn waits to reconnect (else: handshake deadline) */
    bool down_logged;
    bool first;
    bool skipped;                  /* this attempt's server answered ROLE: not the primary */
    uint32_t cur;                  /* st->addrs[cur]: the server tried, or connected to */
    uint32_t follow;               /* 1 + the address to move to once dropped (0: none) */
    unsigned gen;                  /* primary_gen when last compared with the primary */
    uint32_t tried;                /* servers that failed in this pass over st->addrs */
    uint32_t hs_pending;           /* handshake replies still to come */
    uint32_t hs_script;            /* index of the next SCRIPT LOAD reply */
    uint32_t backoff_ms;
    char sha[REDIS_SCRIPT_COUNT][41];
    struct redis_req *head, *tail;
    uint32_t nlate;
    uint64_t stalled_since;
    struct timer t_conn, t_cmd, t_follow;
    char *channel;
    redis_msg_fn on_msg;
    void *msg_arg;
};

/* Called (any thread) when a connection finds the primary has changed: redis_conn_on_primary. */
static _Atomic(redis_primary_fn) primary_hook;
/* Bumped at each change of the process's primary: a connection that saw another value
 * compares its server with the primary (store_stats_primary) before its next command. */
static atomic_uint primary_gen;

/* The calling thread's command connections (state.pool_size of them). */
static _Thread_local struct {
    struct redis_conn *const *v;
    uint32_t n, next;
} here;

struct redis_conn *redis_conn_here(void)
{
    if (!here.n)
        return NULL;
    /* Round-robin over the ready ones; none ready: the first, which refuses (not ready). */
    for (uint32_t i = 0; i < here.n; i++) {
        struct redis_conn *c = here.v[(here.next + i) % here.n];
        if (redis_conn_ready(c)) {
            here.next = (here.next + i + 1) % here.n;
            return c;
        }
    }
    return here.v[0];
}

void redis_conn_set_here(struct redis_conn *const *conns, uint32_t n)
{
    here.v = conns;
    here.n = conns ? n : 0;
    here.next = 0;
}

bool redis_conn_ready(const struct redis_conn *c)
{
    return c && c->ready && !c->nlate;
}

const struct cfg_state *redis_conn_cfg(const struct redis_conn *c)
{
    return c->st;
}

static const char *addr_text(const struct redis_conn *c)
{
    return c->st->addrs[c->cur].text;
}

static uint64_t stall_drop_ms(const struct redis_conn *c)
{
    uint64_t ms = 20ull * c->st->command_timeout_ms;
    return ms < STALL_DROP_MIN_MS ? STALL_DROP_MIN_MS : ms;
}

/* ---- connection life ---------------------------------------------------------------------- */

static void start_connect(struct redis_conn *c);

/* The context is gone (or never came): try the next address now, or after the backoff once
 * a whole pass over the addresses found no primary. Idempotent. */
static void lost(struct redis_conn *c)
{
    char why[200] = "";
    if (c->tun) {
        snprintf(why, sizeof(why), "%s", redis_tunnel_why(c->tun));
        redis_tunnel_free(c->tun);
        c->tun = NULL;
    }
    if (c->ready) {
        c->ready = false;
        atomic_fetch_sub_explicit(&store_stats.connected, 1, memory_order_relaxed);
    }
    c->ac = NULL;
    c->nlate = 0;
    if (c->freeing || c->retry_armed)
        return;
    const struct cfg_state *st = c->st;
    timer_disarm(&c->loop->timers, &c->t_cmd);
    timer_disarm(&c->loop->timers, &c->t_follow);
    c->retry_armed = true;
    if (c->follow) { /* moving to the primary another connection found: not a failure */
        c->cur = c->follow - 1;
        c->follow = 0;
        c->skipped = false;
        c->tried = 0;
        c->backoff_ms = st->reconnect_min_ms;
        timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms);
        return;
    }
    if (!c->down_logged && !c->skipped) { /* a replica skipped is the normal case */
        c->down_logged = true;
        log_warn("state store: redis %s unreachable%s%s, %s", addr_text(c), why[0] ? ": " : "",
                 why, st->naddrs > 1 ? "trying the next address" : "retrying with backoff");
    }
    c->skipped = false;
    c->cur = (c->cur + 1) % st->naddrs;
    uint64_t wait = 0;
    if (++c->tried >= st->naddrs) { /* a whole pass and no primary: back off */
        if (!c->down_logged) {
            c->down_logged = true;
            log_warn("state store: no primary among the %u redis address%s, retrying with "
                     "backoff", st->naddrs, st->naddrs > 1 ? "es" : "");
        }
        c->tried = 0;
        wait = c->backoff_ms;
        c->backoff_ms = c->backoff_ms * 2 > st->reconnect_max_ms ? st->reconnect_max_ms
                                                                 : c->backoff_ms * 2;
    }
    timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms + wait);
}

/* Closes the context now (not from inside a hiredis callback): every pending command is
 * answered NULL, then lost() schedules the retry. */
static void drop(struct redis_conn *c)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    redisAsyncFree(ac);
    lost(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    lost(ac->data);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK)
        lost(ac->data); /* hiredis frees the context after this */
}

static void handshake_failed(struct redis_conn *c, const redisReply *r)
{
    if (c->freeing)
        return; /* redis_conn_free answers pending commands NULL: nothing to retry */
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("state store: redis %s refused the handshake: %s", addr_text(c), r->str);
    /* Not from inside hiredis' callback: the deadline timer, due now, drops the context. */
    if (!c->retry_armed)
        timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms);
}

static void handshake_step(struct redis_conn *c)
{
    if (--c->hs_pending || c->ready)
        return;
    c->ready = true;
    c->backoff_ms = c->st->reconnect_min_ms;
    c->tried = 0;
    timer_disarm(&c->loop->timers, &c->t_conn);
    atomic_fetch_add_explicit(&store_stats.connected, 1, memory_order_relaxed);
    store_stats_recovered();
    if (store_stats_set_primary(addr_text(c))) {
        atomic_fetch_add_explicit(&primary_gen, 1, memory_order_relaxed);
        redis_primary_fn hook = atomic_load_explicit(&primary_hook, memory_order_acquire);
        if (hook)
            hook();
    }
    c->gen = atomic_load_explicit(&primary_gen, memory_order_relaxed);
    timer_arm(&c->loop->timers, &c->t_follow, c->loop->now_ms + FOLLOW_CHECK_MS);
    if (c->down_logged)
        log_info("state store: redis %s is back", addr_text(c));
    c->down_logged = false;
}

/* ROLE: only the primary ("master") takes the writes; anything else is closed and the next
 * address tried. */
static void role_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_conn *c = priv;
    const redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR)
        return handshake_failed(c, r);
    const redisReply *role = r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0] : NULL;
    if (!role || role->type != REDIS_REPLY_STRING || strcmp(role->str, "master") != 0) {
        if (!c->freeing)
            log_debug("state store: redis %s has role %s, not master: skipped", addr_text(c),
                      role && role->type == REDIS_REPLY_STRING ? role->str : "?");
        c->skipped = true;
        return handshake_failed(c, NULL);
    }
    handshake_step(c);
}

/* AUTH / SELECT replies. */
static void hs_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_conn *c = priv;
    const redisReply *r = reply;
    if (!r || r->type == REDIS_REPLY_ERROR)
        return handshake_failed(c, r);
    handshake_step(c);
}

static void script_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_conn *c = priv;
    const redisReply *r = reply;
    uint32_t i = c->hs_script++ % REDIS_SCRIPT_COUNT;
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40)
        return handshake_failed(c, r);
    memcpy(c->sha[i], r->str, 40);
    c->sha[i][40] = '\0';
    if (c->hs_pending)
        handshake_step(c);
}

static void sub_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_conn *c = priv;
    const redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return handshake_failed(c, r);
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
        if (c->hs_pending)
            handshake_step(c);
    } else if (strcmp(r->element[0]->str, "message") == 0 &&
               r->element[2]->type == REDIS_REPLY_STRING) {
        c->on_msg(c->msg_arg, r->element[2]->str, r->element[2]->len);
    }
}

static void load_scripts(struct redis_conn *c, bool count)
{
    for (uint32_t i = 0; i < REDIS_SCRIPT_COUNT; i++) {
        if (redisAsyncCommand(c->ac, script_reply, c, "SCRIPT LOAD %s", redis_script_text[i]) ==
                REDIS_OK && count)
            c->hs_pending++;
    }
}

static void start_connect(struct redis_conn *c)
{
    const struct cfg_state *st = c->st;
    const struct cfg_state_addr *a = &st->addrs[c->cur];
    c->retry_armed = false;
    if (!c->first)
        atomic_fetch_add_explicit(&store_stats.reconnects, 1, memory_order_relaxed);
    c->first = false;
    redisAsyncContext *ac;
    if (st->tls) {
        const struct tls_client *tc = tls_gen_state(c->cfg);
        if (c->session_addr != c->cur) { /* a session is only offered to the server it is from */
            tls_client_session_free(c->tls_session);
            c->tls_session = NULL;
            c->session_addr = c->cur;
        }
        c->tun = tc ? redis_tunnel_open(c->loop, a, tc, &c->tls_session, &ac) : NULL;
        if (!c->tun)
            ac = NULL;
    } else {
        ac = a->unix_path ? redisAsyncConnectUnix(a->unix_path)
                          : redisAsyncConnect(a->host, a->port);
    }
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        lost(c);
        return;
    }
    ac->data = c;
    redis_ev_attach(&c->ev, c->loop, ac);
    c->ac = ac;
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    redisAsyncSetConnectCallback(ac, on_connect);
    /* The handshake goes out pipelined, as soon as the socket connects. */
    c->hs_pending = 1; /* released below, once everything is queued */
    c->hs_script = 0;
    if (st->password) {
        int rc = st->user ? redisAsyncCommand(ac, hs_reply, c, "AUTH %s %s", st->user, st->password)
                          : redisAsyncCommand(ac, hs_reply, c, "AUTH %s", st->password);
        c->hs_pending += rc == REDIS_OK;
    }
    if (st->db)
        c->hs_pending += redisAsyncCommand(ac, hs_reply, c, "SELECT %u", st->db) == REDIS_OK;
    c->hs_pending += redisAsyncCommand(ac, role_reply, c, "ROLE") == REDIS_OK;
    if (c->on_msg)
        c->hs_pending += redisAsyncCommand(ac, sub_reply, c, "SUBSCRIBE %s", c->channel) ==
                         REDIS_OK;
    else
        load_scripts(c, true);
    timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms + st->connect_timeout_ms);
    handshake_step(c);
}

/* Reconnect due, or a handshake past its deadline (or failed). */
static void conn_timer(struct timer *t)
{
    struct redis_conn *c = (struct redis_conn *)(void *)((char *)t - offsetof(struct redis_conn, t_conn));
    if (c->retry_armed) {
        start_connect(c);
        return;
    }
    if (c->ac && !c->ready)
        drop(c);
}

/* Moves c to st->addrs[i]: dropped by t_conn, due now (never inside a caller's or hiredis'
 * callback), then connected there without waiting a backoff. */
static void move_to(struct redis_conn *c, uint32_t i)
{
    if (c->freeing)
        return;
    if (c->on_msg)
        log_info("state store: redis %s: subscriber following the primary to %s",
                 addr_text(c), c->st->addrs[i].text);
    else
        log_debug("state store: redis %s: following the primary to %s", addr_text(c),
                  c->st->addrs[i].text);
    if (c->retry_armed) { /* between connections: retarget the retry */
        c->cur = i;
        c->tried = 0;
        c->backoff_ms = c->st->reconnect_min_ms;
        timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms);
        return;
    }
    c->follow = i + 1;
    if (c->ready) {
        c->ready = false;
        atomic_fetch_sub_explicit(&store_stats.connected, 1, memory_order_relaxed);
    }
    timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms);
}

/* Is c on the process's primary? When another connection found it moved (to one of c's
 * addresses) since c last looked, c moves there: false. */
static bool on_primary(struct redis_conn *c)
{
    unsigned gen = atomic_load_explicit(&primary_gen, memory_order_relaxed);
    if (c->gen == gen)
        return true;
    c->gen = gen;
    char p[256];
    store_stats_primary(p, sizeof(p));
    return !p[0] || !redis_conn_follow(c, p);
}

static void follow_timer(struct timer *t)
{
    struct redis_conn *c = (struct redis_conn *)(void *)((char *)t - offsetof(struct redis_conn, t_follow));
    if (c->ready && on_primary(c))
        timer_arm(&c->loop->timers, t, c->loop->now_ms + FOLLOW_CHECK_MS);
}

void redis_conn_on_primary(redis_primary_fn fn)
{
    atomic_store_explicit(&primary_hook, fn, memory_order_release);
}

bool redis_conn_follow(struct redis_conn *c, const char *addr)
{
    const struct cfg_state *st = c->st;
    uint32_t i = 0;
    while (i < st->naddrs && strcmp(st->addrs[i].text, addr) != 0)
        i++;
    if (i == st->naddrs || (c->cur == i && c->ac && !c->follow))
        return false; /* not one of ours, or already there (or on the way) */
    move_to(c, i);
    return true;
}

/* ---- commands ----------------------------------------------------------------------------- */

static void unlink_live(struct redis_conn *c, struct redis_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        c->tail = r->prev;
    r->prev = r->next = NULL;
    r->live = false;
}

static void arm_cmd_timer(struct redis_conn *c)
{
    if (c->head)
        timer_arm(&c->loop->timers, &c->t_cmd, c->head->deadline_ms);
    else if (c->nlate)
        timer_arm(&c->loop->timers, &c->t_cmd, c->stalled_since + stall_drop_ms(c));
}

static void cmd_timer(struct timer *t)
{
    struct redis_conn *c = (struct redis_conn *)(void *)((char *)t - offsetof(struct redis_conn, t_cmd));
    uint64_t now = c->loop->now_ms;
    while (c->head && c->head->deadline_ms <= now) {
        struct redis_req *r = c->head;
        unlink_live(c, r);
        r->late = true;
        if (!c->nlate++)
            c->stalled_since = now;
        atomic_fetch_add_explicit(&store_stats.timeouts, 1, memory_order_relaxed);
        redis_reply_fn cb = r->cb;
        r->cb = NULL;
        if (cb)
            cb(r->arg, NULL);
    }
    if (c->nlate && now >= c->stalled_since + stall_drop_ms(c)) {
        log_warn("state store: redis %s stalled for %llu ms, reconnecting", addr_text(c),
                 (unsigned long long)(now - c->stalled_since));
        drop(c);
        return;
    }
    arm_cmd_timer(c);
}

/* A write refused READONLY: the server was made a replica under us. Like a lost connection
 * (dropped by the timer, due now, not inside hiredis' callback), then the primary is looked
 * for again. */
static void demoted(struct redis_conn *c)
{
    if (!c->ready || c->freeing)
        return;
    store_stats_read_only(addr_text(c));
    c->down_logged = true;
    c->ready = false;
    atomic_fetch_sub_explicit(&store_stats.connected, 1, memory_order_relaxed);
    if (!c->retry_armed)
        timer_arm(&c->loop->timers, &c->t_conn, c->loop->now_ms);
}

static void req_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    struct redis_req *r = priv;
    struct redis_conn *c = r->c;
    const redisReply *rep = reply;
    if (r->live) {
        unlink_live(c, r);
        hist_record(&store_stats.latency, ev_clock_us() - r->start_us);
    } else if (r->late && c->nlate) {
        c->nlate--; /* Redis answers again: once every late reply is in, the stall is over */
    }
    bool bad = !rep || rep->type == REDIS_REPLY_ERROR;
    if (bad && rep && strncmp(rep->str, "READONLY", 8) == 0)
        demoted(c);
    if (bad)
        atomic_fetch_add_explicit(&store_stats.errors, 1, memory_order_relaxed);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0 && c->ac) {
        c->hs_script = 0;
        load_scripts(c, false);
    }
    if (r->cb)
        r->cb(r->arg, bad ? NULL : rep);
    free(r);
}

static struct redis_req *send_argv(struct redis_conn *c, int argc, const char **argv,
                                   const size_t *lens, redis_reply_fn cb, void *arg)
{
    if (!redis_conn_ready(c) || !c->ac || !on_primary(c))
        return NULL;
    struct redis_req *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    *r = (struct redis_req){.c = c, .cb = cb, .arg = arg, .live = true,
                            .deadline_ms = c->loop->now_ms + c->st->command_timeout_ms,
                            .start_us = ev_clock_us()};
    if (redisAsyncCommandArgv(c->ac, req_reply, r, argc, argv, lens) != REDIS_OK) {
        free(r);
        atomic_fetch_add_explicit(&store_stats.errors, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit(&store_stats.commands, 1, memory_order_relaxed);
    r->prev = c->tail;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    if (c->head == r)
        timer_arm(&c->loop->timers, &c->t_cmd, r->deadline_ms);
    return r;
}

#define EVAL_MAX_ARGS 24 /* keys + arguments: the waiting room sends 7 + 13 */

static struct redis_req *eval(struct redis_conn *c, enum redis_script s, int nkeys, int argc,
                              const char *const *argv, const size_t *lens, redis_reply_fn cb,
                              void *arg)
{
    char nk[12];
    const char *v[EVAL_MAX_ARGS + 3];
    size_t l[EVAL_MAX_ARGS + 3];
    if (!c || argc > EVAL_MAX_ARGS || nkeys > argc || !c->sha[s][0])
        return NULL;
    if (!redis_keys_one_tag(nkeys, argv, lens)) { /* would fail CROSSSLOT on Redis Cluster */
        atomic_fetch_add_explicit(&store_stats.errors, 1, memory_order_relaxed);
        return NULL;
    }
    v[0] = "EVALSHA";
    l[0] = 7;
    v[1] = c->sha[s];
    l[1] = 40;
    l[2] = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys);
    v[2] = nk;
    for (int i = 0; i < argc; i++) {
        v[3 + i] = argv[i];
        l[3 + i] = lens[i];
    }
    return send_argv(c, argc + 3, v, l, cb, arg);
}

struct redis_req *redis_conn_eval(struct redis_conn *c, enum redis_script s, int nkeys,
                                  int argc, const char *const *argv, const size_t *lens,
                                  redis_reply_fn cb, void *arg)
{
    return eval(c, s, nkeys, argc, argv, lens, cb, arg);
}

bool redis_conn_eval_forget(struct redis_conn *c, enum redis_script s, int nkeys, int argc,
                            const char *const *argv, const size_t *lens)
{
    return eval(c, s, nkeys, argc, argv, lens, NULL, NULL) != NULL;
}

struct redis_req *redis_conn_command(struct redis_conn *c, int argc, const char *const *argv,
                                     const size_t *lens, redis_reply_fn cb, void *arg)
{
    return c ? send_argv(c, argc, (const char **)argv, lens, cb, arg) : NULL;
}

bool redis_conn_publish(struct redis_conn *c, const char *channel, const char *msg, size_t len)
{
    const char *v[3] = {"PUBLISH", channel, msg};
    size_t l[3] = {7, strlen(channel), len};
    if (!c)
        return false;
    bool ok = send_argv(c, 3, v, l, NULL, NULL) != NULL;
    if (ok)
        atomic_fetch_add_explicit(&store_stats.published, 1, memory_order_relaxed);
    return ok;
}

void redis_req_cancel(struct redis_req *r)
{
    if (!r)
        return;
    if (r->live)
        unlink_live(r->c, r);
    r->cb = NULL;
}

/* ---- new / free --------------------------------------------------------------------------- */

struct redis_conn *redis_conn_new(struct ev_loop *loop, struct config *cfg, const char *channel,
                                  redis_msg_fn on_msg, void *msg_arg)
{
    struct redis_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    *c = (struct redis_conn){.loop = loop, .cfg = cfg, .st = &cfg->state, .first = true,
                             .on_msg = on_msg, .msg_arg = msg_arg,
                             .backoff_ms = cfg->state.reconnect_min_ms};
    if (on_msg && !(c->channel = strdup(channel))) {
        free(c);
        return NULL;
    }
    config_ref(cfg);
    timer_init(&c->t_conn, conn_timer);
    timer_init(&c->t_cmd, cmd_timer);
    timer_init(&c->t_follow, follow_timer);
    atomic_fetch_add_explicit(&store_stats.connections, 1, memory_order_relaxed);
    start_connect(c);
    return c;
}

void redis_conn_free(struct redis_conn *c)
{
    if (!c)
        return;
    c->freeing = true;
    timer_disarm(&c->loop->timers, &c->t_conn);
    timer_disarm(&c->loop->timers, &c->t_cmd);
    timer_disarm(&c->loop->timers, &c->t_follow);
    if (c->ac)
        redisAsyncFree(c->ac);
    redis_tunnel_free(c->tun);
    tls_client_session_free(c->tls_session);
    /* Again: the callbacks hiredis ran while freeing must leave no timer armed. */
    timer_disarm(&c->loop->timers, &c->t_conn);
    timer_disarm(&c->loop->timers, &c->t_cmd);
    timer_disarm(&c->loop->timers, &c->t_follow);
    if (c->ready)
        atomic_fetch_sub_explicit(&store_stats.connected, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&store_stats.connections, 1, memory_order_relaxed);
    config_unref(c->cfg);
    free(c->channel);
    /* A write flush may still be deferred on the loop (redis_ev.h): free after it. */
    if (!c->ev.flush_pending || ev_defer(c->loop, free, c) != 0)
        free(c);
}

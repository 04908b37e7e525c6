/* server.c — see server.h. Shared state with the workers goes only through worker_reload /
 * worker_post and the atomics in struct worker. */
#include "proxy/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "balance/lb.h"
#include "cache/cache_purge.h"
#include "core/accesslog.h"
#include "core/config.h"
#include "core/log.h"
#include "event/sock.h"
#include "metrics/metrics.h"
#include "proxy/worker.h"
#include "resilience/shared_state.h"
#include "security/audit.h"
#include "security/mask.h"
#include "security/revocation_sync.h"
#include "state/state_events.h"
#include "tls/tls_gen.h"
#include "waitroom/wr_handle.h"

struct server {
    struct config *cfg;
    const char *config_path;
    uint32_t nworkers;
    struct worker *workers;
    struct listener_set *ls;
    uint64_t generation;
    struct admin_view view;       /* what the admin thread reads (admin.h) */
    struct admin *admin;          /* NULL when off or when it could not start */
};

int server_check_config(struct config *cfg, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < cfg->nupstreams; i++) {
        if (!lb_find(cfg->upstreams[i].balance)) {
            snprintf(err, errlen,
                     "%s: upstream '%s': balance strategy '%s' is not available in this build "
                     "(available: %s)",
                     cfg->source, cfg->upstreams[i].name, cfg->upstreams[i].balance, lb_names());
            return -1;
        }
    }
    /* Certificates and keys are read and checked now: a bad one refuses the start or the
     * reload, naming the file, and the running generation keeps its own. */
    return tls_gen_build(cfg, err, errlen);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warn("cannot raise RLIMIT_NOFILE: %s", strerror(errno));
    }
}

static void lset_free(struct listener_set *ls)
{
    if (ls) {
        free(ls->fds);
        free(ls);
    }
}

/* Does another process listen on one of our ports (a new weir taking over, docs/deploy.md)?
 * Ours are nworkers sockets per address; several addresses may share a port. */
static bool lset_port_shared(const struct listener_set *ls)
{
    for (uint32_t a = 0; ls && a < ls->naddrs; a++) {
        struct sockaddr_storage x, y;
        socklen_t lx = sizeof(x), ly;
        if (getsockname(ls->fds[a * ls->nworkers], (struct sockaddr *)&x, &lx) == -1)
            continue;
        int ours = 0;
        for (uint32_t b = 0; b < ls->naddrs; b++) {
            ly = sizeof(y);
            /* the port sits at the same offset in sockaddr_in and sockaddr_in6 */
            if (getsockname(ls->fds[b * ls->nworkers], (struct sockaddr *)&y, &ly) == 0 &&
                ((struct sockaddr_in *)&x)->sin_port == ((struct sockaddr_in *)&y)->sin_port)
                ours += (int)ls->nworkers;
        }
        if (sock_port_listeners(ls->fds[a * ls->nworkers]) > ours)
            return true;
    }
    return false;
}

/* Builds the listener set for cfg, reusing the sockets of `old` (listening on oldcfg's
 * addresses) where the address is the same. The fds of old that are not reused are left for
 * the caller to close (lset_close_unused). Returns NULL with an error logged. */
static struct listener_set *lset_build(uint32_t nworkers, const struct config *cfg,
                                       const struct listener_set *old, const struct config *oldcfg)
{
    struct listener_set *ls = calloc(1, sizeof(*ls));
    if (!ls)
        return NULL;
    ls->naddrs = cfg->nlisteners;
    ls->nworkers = nworkers;
    ls->fds = malloc(sizeof(int) * (cfg->nlisteners * nworkers + 1));
    if (!ls->fds) {
        free(ls);
        return NULL;
    }
    for (uint32_t i = 0; i < cfg->nlisteners * nworkers; i++)
        ls->fds[i] = -1;
    for (uint32_t a = 0; a < cfg->nlisteners; a++) {
        const struct cfg_addr *addr = &cfg->listeners[a].addr;
        bool reused = false;
        for (uint32_t o = 0; old && o < old->naddrs; o++) {
            const struct cfg_addr *oa = &oldcfg->listeners[o].addr;
            if (oa->salen == addr->salen && memcmp(&oa->sa, &addr->sa, addr->salen) == 0) {
                memcpy(&ls->fds[a * nworkers], &old->fds[o * nworkers], sizeof(int) * nworkers);
                reused = true;
                break;
            }
        }
        if (reused)
            continue;
        for (uint32_t w = 0; w < nworkers; w++) {
            int fd = sock_listen((const struct sockaddr *)&addr->sa, addr->salen,
                                 cfg->listeners[a].backlog);
            if (fd == -1) {
                log_error("cannot listen on %s: %s", addr->text, strerror(errno));
                /* Close only what this call created. */
                for (uint32_t b = 0; b <= a; b++) {
                    bool was_reused = false;
                    for (uint32_t o = 0; old && o < old->naddrs; o++)
                        if (old->fds[o * nworkers] == ls->fds[b * nworkers])
                            was_reused = true;
                    for (uint32_t k = 0; !was_reused && k < nworkers; k++)
                        if (ls->fds[b * nworkers + k] >= 0)
                            close(ls->fds[b * nworkers + k]);
                }
                lset_free(ls);
                return NULL;
            }
            ls->fds[a * nworkers + w] = fd;
        }
    }
    return ls;
}

/* Closes the fds of `old` that `now` does not use (now may be NULL: close all). */
static void lset_close_unused(const struct listener_set *old, const struct listener_set *now)
{
    if (!old)
        return;
    for (uint32_t i = 0; i < old->naddrs * old->nworkers; i++) {
        bool used = false;
        for (uint32_t j = 0; now && j < now->naddrs * now->nworkers; j++)
            if (now->fds[j] == old->fds[i])
                used = true;
        if (!used && old->fds[i] >= 0)
            close(old->fds[i]);
    }
}

static void apply_log_config(const struct config *cfg)
{
    int fd = log_open_target(cfg->log.error);
    if (fd == -1)
        log_error("cannot open error log %s: %s", cfg->log.error, strerror(errno));
    else
        log_setup(fd, cfg->log.level);
    if (accesslog_open(cfg->log.access) == -1)
        log_error("cannot open access log %s: %s", cfg->log.access, strerror(errno));
    log_set_filter(cfg->log.mask ? mask_inplace : NULL);
    const char *why = NULL;
    if (audit_open(cfg->audit.path, cfg->audit.key_file, &why) == -1)
        log_error("cannot open audit log %s: %s", cfg->audit.path, why);
    audit_set_successes(cfg->audit.successes);
}

static bool admin_changed(const struct cfg_admin *a, const struct cfg_admin *b)
{
    return a->enabled != b->enabled || strcmp(a->listen.text, b->listen.text) != 0 ||
           (a->token == NULL) != (b->token == NULL) || (a->token && strcmp(a->token, b->token));
}

/* Starts the admin listener once the workers run. A bind failure is fatal only when the
 * address was written in the config; the default one may be taken (another weir). */
static int start_admin(struct server *srv)
{
    const struct cfg_admin *ac = &srv->cfg->admin;
    if (!ac->enabled)
        return 0;
    srv->view.nworkers = srv->nworkers;
    srv->view.workers = calloc(srv->nworkers, sizeof(*srv->view.workers));
    if (!srv->view.workers) {
        log_error("admin: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < srv->nworkers; i++)
        srv->view.workers[i] = &srv->workers[i].metrics;
    srv->view.state_cfg = srv->cfg;
    char err[256];
    /* An explicit address in use is waited for as long as an old weir may take to drain. */
    uint32_t busy_wait_ms = ac->explicit_listen ? srv->cfg->timeouts.shutdown_ms + 1000 : 0;
    srv->admin = admin_start(ac, &srv->view, busy_wait_ms, err, sizeof(err));
    if (srv->admin)
        return 0;
    if (ac->explicit_listen) {
        log_error("%s", err);
        return -1;
    }
    log_warn("%s; running without the admin listener", err);
    return 0;
}

static void reload(struct server *srv)
{
    if (!srv->config_path) {
        log_info("SIGHUP ignored: running from the command line, there is no file to re-read");
        return;
    }
    struct cfg_error err;
    struct config *cfg = config_load_file(srv->config_path, &err);
    char msg[512];
    if (!cfg || server_check_config(cfg, msg, sizeof(msg)) == -1) {
        log_error("reload refused, still serving generation %llu: %s",
                  (unsigned long long)srv->generation, cfg ? msg : err.msg);
        if (cfg)
            config_unref(cfg);
        atomic_fetch_add(&srv->view.reloads_failed, 1);
        audit_emit(&(struct audit_event){.event = "reload", .rule = "refused",
                                         .detail = cfg ? msg : err.msg});
        return;
    }
    if (cfg->workers != srv->nworkers)
        log_warn("reload: 'workers' changes only on restart; keeping %u", srv->nworkers);
    struct listener_set *ls = lset_build(srv->nworkers, cfg, srv->ls, srv->cfg);
    if (!ls) {
        log_error("reload refused, still serving generation %llu",
                  (unsigned long long)srv->generation);
        config_unref(cfg);
        atomic_fetch_add(&srv->view.reloads_failed, 1);
        return;
    }
    cfg->generation = ++srv->generation;
    for (uint32_t i = 0; i < srv->nworkers; i++)
        worker_reload(&srv->workers[i], cfg, ls);
    /* Wait until every worker runs the new generation before closing dropped listeners. */
    for (int spins = 0; spins < 10000; spins++) {
        uint32_t done = 0;
        for (uint32_t i = 0; i < srv->nworkers; i++)
            if (atomic_load(&srv->workers[i].applied_generation) >= cfg->generation ||
                atomic_load(&srv->workers[i].exited))
                done++;
        if (done == srv->nworkers)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    lset_close_unused(srv->ls, ls);
    lset_free(srv->ls);
    srv->ls = ls;
    if (admin_changed(&srv->cfg->admin, &cfg->admin))
        log_warn("reload: 'admin' changes only on restart");
    config_unref(srv->cfg);
    srv->cfg = cfg;
    apply_log_config(cfg);
    atomic_store(&srv->view.generation, cfg->generation);
    atomic_fetch_add(&srv->view.reloads_ok, 1);
    char gen[32];
    snprintf(gen, sizeof(gen), "generation %llu", (unsigned long long)cfg->generation);
    audit_emit(&(struct audit_event){.event = "reload", .rule = "applied", .detail = gen});
    log_info("configuration reloaded: generation %llu (%u routes, %u upstream groups)",
             (unsigned long long)cfg->generation, cfg->nroutes, cfg->nupstreams);
}

static bool all_exited(const struct server *srv)
{
    for (uint32_t i = 0; i < srv->nworkers; i++)
        if (!atomic_load(&srv->workers[i].exited))
            return false;
    return true;
}

/* A breaker of this instance opened or closed: tell the others (state_events.h). Worker
 * thread (its own Redis connection); nothing is sent with the memory backend. */
static void breaker_publish(const char *name, enum breaker_state to)
{
    char ev[512];
    int n = snprintf(ev, sizeof(ev), "%s %s", to == BREAKER_OPEN ? "open" : "close", name);
    if (n > 0 && (size_t)n < sizeof(ev))
        state_event_publish(STATE_EV_BREAKER, ev, (size_t)n);
}

/* Another instance's breaker event: "open <name>" or "close <name>". */
static void breaker_event(const char *p, size_t len)
{
    bool open = len > 5 && memcmp(p, "open ", 5) == 0;
    size_t skip = open ? 5 : len > 6 && memcmp(p, "close ", 6) == 0 ? 6 : 0;
    if (skip)
        breaker_apply_remote(p + skip, len - skip, open, ev_clock_us() / 1000);
}

int server_run(struct config *cfg, const char *config_path)
{
    struct server srv = {.cfg = cfg, .config_path = config_path, .nworkers = cfg->workers};
    char msg[512];
    if (server_check_config(cfg, msg, sizeof(msg)) == -1) {
        fprintf(stderr, "%s\n", msg);
        config_unref(cfg);
        return 1;
    }
    apply_log_config(cfg);
    metrics_set_workers(srv.nworkers);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* workers inherit the mask */

    srv.ls = lset_build(srv.nworkers, cfg, NULL, NULL);
    srv.workers = calloc(srv.nworkers, sizeof(*srv.workers));
    if (!srv.ls || !srv.workers) {
        lset_free(srv.ls);
        free(srv.workers);
        config_unref(cfg);
        accesslog_close();
        audit_close();
        return 1;
    }
    cfg->generation = srv.generation = 1;
    atomic_init(&srv.view.generation, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srv.view.start_wall_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    srv.view.start_mono_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    /* Events other weir instances broadcast through the Redis store (state/state_events.h). */
    state_events_handle(STATE_EV_PURGE, cache_purge_event);
    state_events_handle(STATE_EV_BREAKER, breaker_event);
    state_events_handle(STATE_EV_REVOKE, revocation_sync_event);
    state_events_every(revocation_sync_refresh);
    state_events_every(wr_handle_sync);
    breaker_set_observer(breaker_publish);
    uint32_t started = 0;
    for (; started < srv.nworkers; started++)
        if (worker_start(&srv.workers[started], started, &srv, cfg, srv.ls) == -1)
            break;
    int code = 0;
    if (started < srv.nworkers) {
        for (uint32_t i = 0; i < started; i++)
            worker_post(&srv.workers[i], WCMD_FAST);
        code = 1;
    } else {
        for (uint32_t a = 0; a < cfg->nlisteners; a++)
            log_info("weir %s listening on %s", WEIR_VERSION, cfg->listeners[a].addr.text);
        log_info("%u workers, %u routes, %u upstream groups", srv.nworkers, cfg->nroutes,
                 cfg->nupstreams);
        if (start_admin(&srv) == -1) {
            for (uint32_t i = 0; i < started; i++)
                worker_post(&srv.workers[i], WCMD_FAST);
            code = 1;
        }
    }

    bool stopping = code != 0;
    while (!stopping || !all_exited(&srv)) {
        siginfo_t si;
        struct timespec tick = {.tv_nsec = 50 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, &si, &tick);
        if (sig == SIGHUP && !stopping) {
            reload(&srv);
        } else if (sig == SIGTERM || sig == SIGQUIT) {
            /* Here, not in the workers: asking the kernel is a blocking call. */
            unsigned cmd = WCMD_GRACEFUL;
            if (!stopping && lset_port_shared(srv.ls)) {
                cmd |= WCMD_HANDOVER;
                log_info("another process listens on our ports: handing over to it");
            }
            if (!stopping)
                log_info("stopping gracefully (deadline %u ms)", srv.cfg->timeouts.shutdown_ms);
            stopping = true;
            for (uint32_t i = 0; i < started; i++)
                worker_post(&srv.workers[i], cmd);
        } else if (sig == SIGINT) {
            log_info("stopping now");
            stopping = true;
            for (uint32_t i = 0; i < started; i++)
                worker_post(&srv.workers[i], WCMD_FAST);
        }
        if (stopping && started < srv.nworkers)
            break;
    }
    for (uint32_t i = 0; i < started; i++)
        worker_join(&srv.workers[i]);
    admin_stop(srv.admin); /* it reads the workers' shards and the registries: before both go */
    free(srv.view.workers);
    lset_close_unused(srv.ls, NULL);
    lset_free(srv.ls);
    free(srv.workers);
    config_unref(srv.cfg);
    shared_state_shutdown();
    if (!code)
        log_info("stopped");
    accesslog_close();
    audit_close();
    return code;
}

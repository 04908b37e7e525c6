/* waitroom_admin.c — see waitroom_admin.h. Reads rooms through the registry (wr_handle.h);
 * each figure costs one store `stats` call, under the registry mutex (never blocks traffic:
 * requests do not take it). */
#include "admin/waitroom_admin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "waitroom/wr_handle.h"

struct room_fig {
    char name[WR_NAME_MAX + 1];
    struct wr_figures f;
};

struct rooms {
    struct room_fig *v;
    uint32_t n, cap;
};

static void collect_cb(struct wr_handle *h, void *arg)
{
    struct rooms *r = arg;
    if (r->n == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 8;
        struct room_fig *nv = realloc(r->v, ncap * sizeof(*nv));
        if (!nv)
            return;
        r->v = nv;
        r->cap = ncap;
    }
    struct room_fig *f = &r->v[r->n++];
    memcpy(f->name, h->name, sizeof(f->name));
    wr_handle_figures(h, &f->f);
}

static struct rooms collect(void)
{
    struct rooms r = {0};
    wr_handle_foreach(collect_cb, &r);
    return r;
}

static const char *phase_name(const struct wr_figures *f)
{
    if (f->st.paused)
        return "paused";
    return f->st.phase == WR_PREQUEUE ? "prequeue" : f->st.phase == WR_OFF ? "off" : "open";
}

struct prom_metric {
    const char *name, *type, *help;
    size_t off; /* of a uint64_t in struct wr_figures, or SIZE_MAX: computed */
};

#define F(field) offsetof(struct wr_figures, field)
static const struct prom_metric metrics[] = {
    {"weir_waitroom_waiting", "gauge", "Visitors waiting in line.", F(st.waiting)},
    {"weir_waitroom_active", "gauge", "Admitted sessions.", F(st.active)},
    {"weir_waitroom_reserved", "gauge", "Slots granted to waiters who have not come back yet.",
     F(st.reserved)},
    {"weir_waitroom_admitted_per_minute", "gauge", "Admissions in the last minute (measured).",
     F(st.admitted_last_minute)},
    {"weir_waitroom_admitted_total", "counter", "Visitors admitted.", F(st.admitted)},
    {"weir_waitroom_tickets_issued_total", "counter", "Tickets issued.", F(st.issued)},
    {"weir_waitroom_abandoned_total", "counter",
     "Tickets dropped (not polled within abandon_after) and grants not claimed.", F(st.abandoned)},
    {"weir_waitroom_sessions_expired_total", "counter", "Sessions ended by inactivity.",
     F(st.expired)},
    {"weir_waitroom_sessions_revoked_total", "counter", "Sessions ended by the origin.",
     F(st.revoked)},
    {"weir_waitroom_rejected_total", "counter", "Visitors turned away (reject mode, full queue).",
     F(st.rejected)},
    {"weir_waitroom_cookies_rejected_total", "counter",
     "Cookies that were tampered with, expired or of another room.", F(cookies_rejected)},
    {"weir_waitroom_bypassed_total", "counter", "Requests let through by a bypass rule.",
     F(bypassed)},
    {"weir_waitroom_passed_total", "counter", "Requests let through with the room off.",
     F(passed)},
    {"weir_waitroom_queue_responses_total", "counter", "Queue pages and JSON answers sent.",
     F(queue_replies)},
};
#undef F

void waitroom_prometheus(struct abuf *b)
{
    struct rooms r = collect();
    if (!r.n) {
        free(r.v);
        return;
    }
    for (size_t k = 0; k < sizeof(metrics) / sizeof(metrics[0]); k++) {
        abuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", metrics[k].name, metrics[k].help,
                    metrics[k].name, metrics[k].type);
        for (uint32_t i = 0; i < r.n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&r.v[i].f + metrics[k].off, sizeof(v));
            abuf_printf(b, "%s{room=\"%s\"} %" PRIu64 "\n", metrics[k].name, r.v[i].name, v);
        }
    }
    abuf_str(b, "# HELP weir_waitroom_admit_limit_per_minute Admissions allowed per minute now "
                "(auto: the controller's figure).\n# TYPE weir_waitroom_admit_limit_per_minute gauge\n");
    for (uint32_t i = 0; i < r.n; i++)
        abuf_printf(b, "weir_waitroom_admit_limit_per_minute{room=\"%s\"} %u\n", r.v[i].name,
                    r.v[i].f.admit_limit);
    abuf_str(b, "# HELP weir_waitroom_max_active Admitted sessions allowed at once.\n"
                "# TYPE weir_waitroom_max_active gauge\n");
    for (uint32_t i = 0; i < r.n; i++)
        abuf_printf(b, "weir_waitroom_max_active{room=\"%s\"} %u\n", r.v[i].name,
                    r.v[i].f.max_active);
    abuf_str(b, "# HELP weir_waitroom_eta_seconds Estimated wait of the last in line (-1: no "
                "admission rate measured yet).\n# TYPE weir_waitroom_eta_seconds gauge\n");
    for (uint32_t i = 0; i < r.n; i++)
        abuf_printf(b, "weir_waitroom_eta_seconds{room=\"%s\"} %" PRId64 "\n", r.v[i].name,
                    r.v[i].f.eta_last_s);
    abuf_str(b, "# HELP weir_waitroom_paused 1 while an operator paused the room.\n"
                "# TYPE weir_waitroom_paused gauge\n");
    for (uint32_t i = 0; i < r.n; i++)
        abuf_printf(b, "weir_waitroom_paused{room=\"%s\"} %d\n", r.v[i].name,
                    r.v[i].f.st.paused ? 1 : 0);
    free(r.v);
}

static void room_json(struct abuf *b, const struct room_fig *rf)
{
    const struct wr_figures *f = &rf->f;
    abuf_printf(b,
                "{\"name\":\"%s\",\"state\":\"%s\",\"waiting\":%" PRIu64 ",\"active\":%" PRIu64
                ",\"reserved\":%" PRIu64 ",\"max_active\":%u,\"admitted_per_minute\":%" PRIu64
                ",\"admit_limit_per_minute\":%u,\"auto\":%s,\"eta_last_seconds\":%" PRId64
                ",\"admitted\":%" PRIu64 ",\"tickets_issued\":%" PRIu64 ",\"abandoned\":%" PRIu64
                ",\"expired\":%" PRIu64 ",\"revoked\":%" PRIu64 ",\"rejected\":%" PRIu64
                ",\"cookies_rejected\":%" PRIu64 ",\"bypassed\":%" PRIu64 ",\"passed\":%" PRIu64
                "}",
                rf->name, phase_name(f), f->st.waiting, f->st.active, f->st.reserved,
                f->max_active, f->st.admitted_last_minute, f->admit_limit,
                f->apm_auto ? "true" : "false", f->eta_last_s, f->st.admitted, f->st.issued,
                f->st.abandoned, f->st.expired, f->st.revoked, f->st.rejected,
                f->cookies_rejected, f->bypassed, f->passed);
}

void waitroom_status_json(struct abuf *b)
{
    struct rooms r = collect();
    abuf_str(b, "[");
    for (uint32_t i = 0; i < r.n; i++) {
        if (i)
            abuf_str(b, ",");
        room_json(b, &r.v[i]);
    }
    abuf_str(b, "]");
    free(r.v);
}

int waitroom_admin(struct str path, bool post, struct abuf *b)
{
    if (str_eq(path, STR_LIT("/waitroom")) || str_eq(path, STR_LIT("/waitroom/"))) {
        if (post) {
            abuf_str(b, "POST /waitroom/<name>/pause or /waitroom/<name>/resume\n");
            return 405;
        }
        abuf_str(b, "{\"rooms\":");
        waitroom_status_json(b);
        abuf_str(b, "}\n");
        return 200;
    }
    /* /waitroom/<name>/pause | resume */
    struct str rest = str_from(path.ptr + 10, path.len - 10);
    const char *slash = memchr(rest.ptr, '/', rest.len);
    char name[WR_NAME_MAX + 1];
    size_t nlen = slash ? (size_t)(slash - rest.ptr) : 0;
    struct str verb = slash ? str_from(slash + 1, rest.len - nlen - 1) : STR_NULL;
    bool pause = str_eq(verb, STR_LIT("pause")), resume = str_eq(verb, STR_LIT("resume"));
    if (!slash || !nlen || nlen > WR_NAME_MAX || (!pause && !resume)) {
        abuf_str(b, "404 Not Found: /waitroom, /waitroom/<name>/pause, /waitroom/<name>/resume\n");
        return 404;
    }
    if (!post) {
        abuf_str(b, "405 Method Not Allowed: use POST\n");
        return 405;
    }
    memcpy(name, rest.ptr, nlen);
    name[nlen] = '\0';
    struct wr_handle *h = wr_handle_find(name);
    if (!h) {
        abuf_printf(b, "404 Not Found: no waiting room '%s'\n", name);
        return 404;
    }
    wr_handle_pause(h, pause);
    struct room_fig rf;
    memcpy(rf.name, h->name, sizeof(rf.name));
    wr_handle_figures(h, &rf.f);
    wr_handle_put(h);
    room_json(b, &rf);
    abuf_str(b, "\n");
    return 200;
}

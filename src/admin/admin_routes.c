/* admin_routes.c — the admin API's endpoints and the one table that dispatches them.
 *
 * Each endpoint is one line of `routes`: its path (exact, or a prefix), the methods it takes,
 * whether its POSTs are written to the audit log, and its serve function. The 405 Allow:
 * header and the 404 hint are derived from the table, so adding an endpoint is one line (and
 * its serve function). Checks run in a fixed order: method (405), body (400), token (401),
 * audit, endpoint. A path matching no line takes GET and HEAD, which get the 404. */
#include "admin/admin_routes.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/admin_auth.h"
#include "admin/admin_cache.h"
#include "admin/collect.h"
#include "admin/prometheus.h"
#include "admin/revocation_admin.h"
#include "admin/security_admin.h"
#include "admin/status_json.h"
#include "admin/waitroom_admin.h"

/* One request as the endpoints see it. */
struct admin_req {
    struct reqinfo ri;
    struct str path, query;
    bool post;
};

struct admin_route {
    const char *path;
    bool prefix;       /* path is a prefix ("/cache/"), else the whole path */
    unsigned methods;  /* ROUTE_M() bits */
    bool audited;      /* its POSTs (actions) go to the audit log */
    bool unlisted;     /* an alias, left out of the 404 hint */
    void (*serve)(struct aconn *c, const struct admin_req *r);
};

#define ROUTE_M(m) (1u << (m))
#define ROUTE_READ (ROUTE_M(H1_M_GET) | ROUTE_M(H1_M_HEAD))
#define ROUTE_POST ROUTE_M(H1_M_POST)

/* ---- endpoints -------------------------------------------------------------------------- */

static void respond_oom(struct aconn *c, const struct reqinfo *ri)
{
    struct reqinfo r = {.head = ri->head, .keep = false};
    admin_respond_text(c, &r, 500, NULL, "500 out of memory\n");
}

/* An API endpoint's answer from the scratch body: JSON when 200, else text. */
static void api_respond(struct aconn *c, const struct reqinfo *ri, int st)
{
    struct admin *a = c->a;
    if (a->body.failed) {
        respond_oom(c, ri);
        return;
    }
    admin_respond(c, ri, st, st == 200 ? "application/json" : "text/plain; charset=utf-8", NULL,
                  a->body.data, a->body.len);
}

static void serve_dashboard(struct aconn *c, const struct admin_req *r)
{
    admin_respond(c, &r->ri, 200, "text/html; charset=utf-8", NULL, admin_dashboard_html,
                  admin_dashboard_html_len);
}

static void serve_metrics(struct aconn *c, const struct admin_req *r)
{
    struct admin *a = c->a;
    struct model m;
    struct abuf *b = admin_scratch(c->a);
    if (collector_collect(a->col, &m, COLLECT_HIST, ev_now_update(&a->loop), admin_wall_ms()) ==
        -1) {
        model_free(&m);
        respond_oom(c, &r->ri);
        return;
    }
    prometheus_render(&m, b);
    model_free(&m);
    if (b->failed) {
        respond_oom(c, &r->ri);
        return;
    }
    admin_respond(c, &r->ri, 200, PROMETHEUS_CONTENT_TYPE, NULL, b->data ? b->data : "", b->len);
    if (b->cap > (4u << 20))
        abuf_free(b);
}

static void serve_status(struct aconn *c, const struct admin_req *r)
{
    struct admin *a = c->a;
    if (!admin_render_status(a, 0)) {
        respond_oom(c, &r->ri);
        return;
    }
    admin_respond(c, &r->ri, 200, "application/json", NULL, a->body.data, a->body.len);
}

static void serve_events(struct aconn *c, const struct admin_req *r)
{
    admin_sse_start(c, &r->ri);
}

static void serve_cache(struct aconn *c, const struct admin_req *r)
{
    struct abuf *b = admin_scratch(c->a);
    int status = admin_cache_handle(r->path, r->query, b);
    admin_respond(c, &r->ri, status, "application/json", NULL, b->data ? b->data : "", b->len);
}

static void serve_waitroom(struct aconn *c, const struct admin_req *r)
{
    api_respond(c, &r->ri, waitroom_admin(r->path, r->post, admin_scratch(c->a)));
}

static void serve_revoke(struct aconn *c, const struct admin_req *r)
{
    api_respond(c, &r->ri, revocation_admin(r->post, r->query, admin_scratch(c->a)));
}

static void security_answered(void *arg, const char *json, size_t len)
{
    struct aconn *c = arg;
    c->op = NULL;
    admin_respond(c, &c->op_ri, 200, "application/json", NULL, json, len);
    admin_conn_run(c);
}

/* Through Redis when the state is there (every instance's locks): answered later, and the
 * connection reads no further request meanwhile. */
static void serve_security(struct aconn *c, const struct admin_req *r)
{
    c->op = security_admin_shared(r->path, r->query, r->post, security_answered, c);
    if (c->op) {
        c->op_ri = r->ri;
        return;
    }
    api_respond(c, &r->ri, security_admin_handle(r->path, r->query, r->post, admin_scratch(c->a)));
}

/* The same as SIGHUP (certificates and keys included): the main thread, which waits for that
 * signal, re-reads the file; /status "reloads" tells how it went. */
static void serve_reload(struct aconn *c, const struct admin_req *r)
{
    kill(getpid(), SIGHUP);
    admin_respond_text(c, &r->ri, 202, NULL, "202 Accepted: reload requested (see /status)\n");
}

static void serve_healthz(struct aconn *c, const struct admin_req *r)
{
    admin_respond_text(c, &r->ri, 200, NULL, "ok\n");
}

static void serve_not_found(struct aconn *c, const struct admin_req *r);

/* ---- the table -------------------------------------------------------------------------- */

static const struct admin_route routes[] = {
    {.path = "/", .methods = ROUTE_READ, .serve = serve_dashboard},
    {.path = "/index.html", .methods = ROUTE_READ, .unlisted = true, .serve = serve_dashboard},
    {.path = "/metrics", .methods = ROUTE_READ, .serve = serve_metrics},
    {.path = "/status", .methods = ROUTE_READ, .serve = serve_status},
    {.path = "/events", .methods = ROUTE_READ, .serve = serve_events},
    {.path = "/waitroom", .methods = ROUTE_READ, .serve = serve_waitroom},
    {.path = "/waitroom/", .prefix = true, .methods = ROUTE_READ | ROUTE_POST, .audited = true,
     .serve = serve_waitroom},  /* GET a room, POST a command to it */
    {.path = "/revoke", .methods = ROUTE_READ | ROUTE_POST, .audited = true,
     .serve = serve_revoke},    /* GET lists, POST revokes */
    {.path = "/lockouts", .methods = ROUTE_READ, .serve = serve_security},
    {.path = "/lockouts/unlock", .methods = ROUTE_POST, .audited = true, .serve = serve_security},
    {.path = "/healthz", .methods = ROUTE_READ, .serve = serve_healthz},
    {.path = "/reload", .methods = ROUTE_POST, .audited = true, .serve = serve_reload},
    {.path = "/cache/", .prefix = true, .methods = ROUTE_POST, .audited = true,
     .serve = serve_cache},
};

/* Every other path. */
static const struct admin_route route_none = {.methods = ROUTE_READ, .serve = serve_not_found};

#define ROUTES_N (sizeof(routes) / sizeof(routes[0]))

static const struct admin_route *route_find(struct str path)
{
    for (size_t i = 0; i < ROUTES_N; i++) {
        struct str p = str_cstr(routes[i].path);
        if (routes[i].prefix ? str_has_prefix(path, p) : str_eq(path, p))
            return &routes[i];
    }
    return &route_none;
}

/* "404 Not Found: try /, /metrics, ...": the table's exact GET paths, aliases left out. */
static void serve_not_found(struct aconn *c, const struct admin_req *r)
{
    char msg[512];
    size_t n = (size_t)snprintf(msg, sizeof(msg), "404 Not Found: try ");
    const char *sep = "";
    for (size_t i = 0; i < ROUTES_N; i++) {
        const struct admin_route *rt = &routes[i];
        if (rt->prefix || rt->unlisted || !(rt->methods & ROUTE_M(H1_M_GET)))
            continue;
        if (n < sizeof(msg))
            n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s", sep, rt->path);
        sep = ", ";
    }
    if (n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - n, "\n");
    admin_respond_text(c, &r->ri, 404, NULL, msg);
}

/* "Allow: GET, HEAD\r\n" for a route's methods, in enum h1_method order. */
static void allow_header(const struct admin_route *rt, char *out, size_t cap)
{
    static const char *const names[] = {
        [H1_M_GET] = "GET",         [H1_M_HEAD] = "HEAD",     [H1_M_POST] = "POST",
        [H1_M_PUT] = "PUT",         [H1_M_DELETE] = "DELETE", [H1_M_OPTIONS] = "OPTIONS",
        [H1_M_PATCH] = "PATCH",     [H1_M_CONNECT] = "CONNECT", [H1_M_TRACE] = "TRACE",
    };
    size_t n = (size_t)snprintf(out, cap, "Allow: ");
    const char *sep = "";
    for (size_t m = 0; m < sizeof(names) / sizeof(names[0]); m++) {
        if (!names[m] || !(rt->methods & ROUTE_M(m)))
            continue;
        if (n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", sep, names[m]);
        sep = ", ";
    }
    if (n < cap)
        snprintf(out + n, cap - n, "\r\n");
}

/* ---- dispatch --------------------------------------------------------------------------- */

void admin_routes_handle(struct aconn *c, const struct h1_request *req)
{
    struct admin *a = c->a;
    struct admin_req r = {.ri.head = req->method_id == H1_M_HEAD,
                          .post = req->method_id == H1_M_POST};
    r.ri.keep = req->minor >= 1 ? !(req->flags & H1F_CONN_CLOSE)
                                : (req->flags & H1F_CONN_KEEPALIVE) != 0;
    bool body = req->framing == H1_FRAME_CHUNKED ||
                (req->framing == H1_FRAME_LENGTH && req->content_length > 0);
    if (body)
        r.ri.keep = false; /* never read: the connection cannot be reused */

    /* Split the target into path and query; absolute-form loses its scheme and authority. */
    struct str t = req->target;
    if (req->flags & H1F_ABSOLUTE_FORM) {
        const char *p = memchr(t.ptr, ':', t.len);
        size_t skip = p && (size_t)(p - t.ptr) + 3 <= t.len ? (size_t)(p - t.ptr) + 3 : t.len;
        const char *slash = memchr(t.ptr + skip, '/', t.len - skip);
        t = slash ? str_from(slash, t.len - (size_t)(slash - t.ptr)) : str_cstr("/");
    }
    const char *qm = memchr(t.ptr, '?', t.len);
    r.path = qm ? str_from(t.ptr, (size_t)(qm - t.ptr)) : t;
    r.query = qm ? str_from(qm + 1, t.len - (size_t)(qm - t.ptr) - 1) : str_from("", 0);

    const struct admin_route *rt = route_find(r.path);
    if (!(rt->methods & ROUTE_M(req->method_id))) {
        char allow[96];
        allow_header(rt, allow, sizeof(allow));
        admin_respond_text(c, &r.ri, 405, allow, "405 Method Not Allowed\n");
        return;
    }
    if (body) {
        admin_respond_text(c, &r.ri, 400, NULL, "400 Bad Request: no body expected\n");
        return;
    }
    if (!admin_auth_ok(a->token, a->token_len, req, r.query)) {
        admin_respond_text(c, &r.ri, 401, "WWW-Authenticate: Bearer realm=\"weir admin\"\r\n",
                           "401 Unauthorized: Authorization: Bearer <token> or ?token=<token>\n");
        return;
    }
    if (rt->audited && r.post)
        security_admin_audit(r.path, r.query); /* every admin action, in the audit log */
    rt->serve(c, &r);
}

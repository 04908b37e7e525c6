/* security_admin.c — see security_admin.h. */
#include "admin/security_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_cache.h"
#include "security/audit.h"
#include "security/sec_kv.h"

int security_admin_handle(struct str path, struct str query, bool post, struct abuf *out)
{
    char key[512];
    size_t n = 0;
    if (str_eq(path, STR_LIT("/lockouts")) && !post) {
        if (!admin_query_value(query, "prefix", key, sizeof(key), &n))
            n = 0;
        size_t need = sec_kv_admin_list(str_from(key, n), NULL, 0);
        char *buf = malloc(need);
        if (!buf)
            return 500;
        size_t got = sec_kv_admin_list(str_from(key, n), buf, need);
        if (got <= need)
            abuf_add(out, buf, got - 1); /* without the NUL */
        else
            abuf_printf(out, "[]"); /* locks came between the two calls: try again */
        free(buf);
        return 200;
    }
    if (str_eq(path, STR_LIT("/lockouts/unlock")) && post) {
        if (!admin_query_value(query, "key", key, sizeof(key), &n) || !n) {
            abuf_printf(out, "400 Bad Request: ?key=<key> or ?key=<prefix>* expected\n");
            return 400;
        }
        abuf_printf(out, "{\"unlocked\":%zu}", sec_kv_admin_unlock(str_from(key, n)));
        return 200;
    }
    abuf_printf(out, "404 Not Found: GET /lockouts, POST /lockouts/unlock?key=\n");
    return 404;
}

struct sec_kv_op *security_admin_shared(struct str path, struct str query, bool post,
                                        void (*done)(void *arg, const char *json, size_t len),
                                        void *arg)
{
    char key[512];
    size_t n = 0;
    bool list = str_eq(path, STR_LIT("/lockouts")) && !post;
    bool unlock = str_eq(path, STR_LIT("/lockouts/unlock")) && post;
    if (list && !admin_query_value(query, "prefix", key, sizeof(key), &n))
        n = 0;
    if ((!list && !unlock) || (unlock && (!admin_query_value(query, "key", key, sizeof(key), &n) ||
                                          !n)))
        return NULL;
    return sec_kv_admin_shared(str_from(key, n), unlock, done, arg);
}

void security_admin_audit(struct str path, struct str query)
{
    char p[256], q[512];
    snprintf(p, sizeof(p), "%.*s", (int)(path.len > 200 ? 200 : path.len), path.ptr);
    snprintf(q, sizeof(q), "%.*s", (int)(query.len > 400 ? 400 : query.len), query.ptr);
    /* the admin token may come as ?token=: never into a log */
    for (char *t = q; (t = strstr(t, "token=")) != NULL;) {
        bool at_start = t == q || t[-1] == '&';
        t += 6;
        for (; at_start && *t && *t != '&'; t++)
            *t = '*';
    }
    audit_emit(&(struct audit_event){.event = "admin", .rule = p, .detail = q[0] ? q : NULL});
}

/* admin_routes.h — the admin API's endpoints: one table (admin_routes.c) that says, for each
 * path, which methods it takes, what serves it and whether its actions are audited. */
#ifndef WEIR_ADMIN_ADMIN_ROUTES_H
#define WEIR_ADMIN_ADMIN_ROUTES_H

#include "admin/admin_conn.h"
#include "http/h1.h"

/* Answers one parsed request on c: 405 (Allow: from the table), 400 when it has a body, 401
 * without the token, else the endpoint's answer (404 when none). Admin thread. */
void admin_routes_handle(struct aconn *c, const struct h1_request *req);

#endif

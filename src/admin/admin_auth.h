/* admin_auth.h — who may use the admin API: with a configured token, a request must carry it
 * as `Authorization: Bearer <token>` or `?token=<token>` (compared in constant time). Admin
 * thread. */
#ifndef WEIR_ADMIN_ADMIN_AUTH_H
#define WEIR_ADMIN_ADMIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"
#include "http/h1_types.h"

/* token NULL: no token configured, every request may. */
bool admin_auth_ok(const char *token, size_t token_len, const struct h1_request *req,
                   struct str query);

#endif

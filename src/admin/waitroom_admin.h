/* waitroom_admin.h — the waiting rooms on the admin listener: their figures in /metrics and
 * /status, and /waitroom (list; POST /waitroom/<name>/pause or /resume). Admin thread. */
#ifndef WEIR_ADMIN_WAITROOM_ADMIN_H
#define WEIR_ADMIN_WAITROOM_ADMIN_H

#include <stdbool.h>

#include "admin/abuf.h"
#include "core/str.h"

void waitroom_prometheus(struct abuf *b);
/* A JSON array of the rooms. */
void waitroom_status_json(struct abuf *b);
/* Answers /waitroom...: writes a JSON (or text) body into b and returns the status. */
int waitroom_admin(struct str path, bool post, struct abuf *b);

#endif

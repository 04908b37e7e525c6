/* status_json.h — the status document (GET /status, every GET /events message).
 *
 * Its shape is fixed by docs/internals/admin-status.md (the dashboard reads it): one line of
 * JSON, numbers as JSON numbers (latencies in ms with up to 3 decimals), strings escaped.
 * Admin thread only. */
#ifndef WEIR_ADMIN_STATUS_JSON_H
#define WEIR_ADMIN_STATUS_JSON_H

#include "admin/abuf.h"
#include "admin/collect.h"

/* Appends the document for m to out (no trailing newline). */
void status_json_render(const struct model *m, struct abuf *out);

#endif

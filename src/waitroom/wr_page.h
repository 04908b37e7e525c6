/* wr_page.h — the queue response's body: JSON for `Accept: application/json`, otherwise an
 * HTML page that refreshes itself (built in, or the operator's template with {{position}},
 * {{ahead}}, {{eta_seconds}}, {{eta_known}}, {{refresh_seconds}}, {{room}}, {{event_start}},
 * {{state}} replaced; unknown {{names}} are left as written). Pure; any thread. */
#ifndef WEIR_WAITROOM_WR_PAGE_H
#define WEIR_WAITROOM_WR_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wr_view {
    const char *room;
    bool waiting;             /* false: the room is full and gave no ticket (reject) */
    uint64_t ahead;
    uint64_t eta_s;
    bool eta_known;
    uint32_t refresh_s;
    uint64_t admitted_per_minute, active, max_active;
    bool event;
    int64_t prequeue_ms, start_ms, end_ms; /* prequeue INT64_MIN: none */
};

/* Both write at most cap bytes (NUL included) and return the full length, like snprintf. */
size_t wr_page_json(const struct wr_view *v, char *out, size_t cap);
/* tmpl NULL: the built-in page. */
size_t wr_page_html(const struct wr_view *v, const char *tmpl, size_t tlen, char *out,
                    size_t cap);

#endif

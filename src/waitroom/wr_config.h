/* wr_config.h — a route's `waiting_room:` section (docs/config.md, docs/waiting-room.md).
 * Loaded by the config loader (main thread), immutable afterwards. */
#ifndef WEIR_WAITROOM_WR_CONFIG_H
#define WEIR_WAITROOM_WR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "waitroom/wr_queue.h"

struct ycx;
struct ynode;
struct wr_mac;

#define WR_NAME_MAX 48

enum wr_bypass_kind { WR_BYPASS_HEADER = 0, WR_BYPASS_CIDR, WR_BYPASS_PATH };

struct wr_bypass {
    enum wr_bypass_kind kind;
    char *header;          /* header: its name ... */
    uint8_t *value;        /* ... and the exact value (from `value` or `value_file`) */
    size_t value_len;
    int family;            /* cidr: AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint32_t prefix;
    char *path;            /* path: a prefix of the request path (the page's assets) */
};

struct wr_conf {
    char name[WR_NAME_MAX + 1];
    uint32_t max_active;
    uint32_t admit_per_minute;   /* auto: the controller's ceiling is max_active */
    bool apm_auto;
    uint32_t session_ms, refresh_ms, abandon_ms, window_ms;
    enum wr_mode queueing;
    uint16_t status;
    uint8_t *secret;
    size_t secret_len;
    struct wr_mac *mac;          /* the secret's precomputed HMAC state (wr_cookie.h) */
    char *page;                  /* the template's text, or NULL: the built-in page */
    size_t page_len;
    bool event;
    int64_t prequeue_ms, start_ms, end_ms;
    struct wr_bypass *bypass;
    uint32_t nbypass;
};

int wr_config_load(struct ycx *cx, const struct ynode *v, const char *where, void **conf);
void wr_config_free(void *conf);

#endif

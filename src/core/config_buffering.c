/* config_buffering.c — see config_buffering.h and docs/config.md, "Buffering". */
#include "core/config_buffering.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIZE (1ull << 40)     /* per-worker bounds: anything larger is a typo */
#define MAX_EXCHANGE (1ull << 30) /* one body or response in memory */

int config_buffering_defaults(struct cfg_buffering *b)
{
    *b = (struct cfg_buffering){.memory = 64u << 20, .files = 1u << 30};
    b->temp_dir = strdup("/tmp");
    return b->temp_dir ? 0 : -1;
}

int config_load_buffering(struct ycx *cx, const struct ynode *v, struct cfg_buffering *b)
{
    static const char *const keys[] = {"temp_dir", "memory", "files", NULL};
    const struct ynode *dir = NULL;

    if (ymap_check(cx, v, "buffering", keys) != 0 || yopt_str(cx, v, "temp_dir", &dir) != 0 ||
        yopt_size(cx, v, "memory", 0, MAX_SIZE, &b->memory) != 0 ||
        yopt_size(cx, v, "files", 0, MAX_SIZE, &b->files) != 0)
        return -1;
    if (!dir)
        return 0;
    if (dir->str[0] != '/')
        return yerr(cx, dir, "'temp_dir' must be an absolute path, got '%.64s'", dir->str);
    /* Checked now so that a typo fails the load, not the first large upload. */
    int fd = open(dir->str, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd == -1)
        return yerr(cx, dir, "cannot create temporary files in '%.64s': %s", dir->str,
                    strerror(errno));
    close(fd);
    free(b->temp_dir);
    b->temp_dir = NULL;
    return ystrdup(cx, dir, dir->str, &b->temp_dir);
}

/* `on`, `off` or a mapping with one size key; *enabled and *size keep their defaults when
 * the section is absent. */
static int load_side(struct ycx *cx, const struct ynode *route, uint32_t idx, const char *name,
                     const char *size_key, bool *enabled, uint64_t *size)
{
    const char *const keys[] = {size_key, NULL};
    const struct ynode *v = ymap_get(route, name);
    enum ysection_form form;
    char where[64];

    if (!v)
        return 0;
    snprintf(where, sizeof(where), "routes[%" PRIu32 "].%s", idx, name);
    if (ysection_form(cx, v, where, true, &form) != 0)
        return -1;
    *enabled = form != YSECTION_OFF;
    if (form != YSECTION_MAP)
        return 0;
    if (ymap_check(cx, v, where, keys) != 0 ||
        yopt_size(cx, v, size_key, 0, MAX_EXCHANGE, size) != 0)
        return -1;
    return 0;
}

int config_load_route_buffering(struct ycx *cx, const struct ynode *route, uint32_t idx,
                                struct cfg_route *r)
{
    struct cfg_route_buffering *b = &r->buffering;

    *b = (struct cfg_route_buffering){
        .request = true, .request_memory = 1u << 20, .response = true, .response_max = 1u << 20};
    if (load_side(cx, route, idx, "request_buffering", "memory", &b->request,
                  &b->request_memory) != 0 ||
        load_side(cx, route, idx, "response_buffering", "max", &b->response,
                  &b->response_max) != 0)
        return -1;
    return 0;
}

/* freelist.c — see freelist.h. */
#include "core/freelist.h"

#include <stdlib.h>
#include <string.h>

int freelist_init(struct freelist *fl, uint32_t max)
{
    *fl = (struct freelist){.max = max};
    fl->items = calloc(max ? max : 1, sizeof(*fl->items));
    return fl->items ? 0 : -1;
}

void freelist_destroy(struct freelist *fl)
{
    for (uint32_t i = 0; i < fl->n; i++)
        free(fl->items[i]);
    free(fl->items);
    *fl = (struct freelist){0};
}

uint32_t freelist_decay(struct freelist *fl, uint32_t keep)
{
    uint32_t unused = fl->low < fl->n ? fl->low : fl->n;
    uint32_t drop = unused > keep ? unused - keep : 0;
    /* The bottom of the stack went longest without use: free from there. */
    for (uint32_t i = 0; i < drop; i++)
        free(fl->items[i]);
    memmove(fl->items, fl->items + drop, (fl->n - drop) * sizeof(*fl->items));
    fl->n -= drop;
    fl->low = fl->n;
    return drop;
}

/* admin_store.h — the state store's figures (state/store_stats.h) in /metrics and /status.
 * Admin thread. */
#ifndef WEIR_ADMIN_ADMIN_STORE_H
#define WEIR_ADMIN_ADMIN_STORE_H

#include "admin/abuf.h"

/* The weir_store_* families. */
void admin_store_prometheus(struct abuf *b);
/* "store":{...}: backend health (connections ready of configured), counters, latency. */
void admin_store_status(struct abuf *b);

#endif

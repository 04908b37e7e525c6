/* accesslog_line.h — formats one exchange as a JSON access-log line into the worker's shard. */
#ifndef WEIR_PROXY_ACCESSLOG_LINE_H
#define WEIR_PROXY_ACCESSLOG_LINE_H

#include "proxy/proxy_types.h"

/* Worker thread. No-op when the access log is off. */
void accesslog_line_write(struct client *c);

#endif

/* dlist.h — the proxy's lists are core's (kept so proxy files include one name). */
#ifndef WEIR_PROXY_DLIST_H
#define WEIR_PROXY_DLIST_H

#include "core/dlist.h"

#endif

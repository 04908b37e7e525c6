/* cache_module.h — the shared HTTP response cache (RFC 9111) as a pipeline module, in the
 * cache phase: after the limits, before the upstream. docs/cache.md describes its behaviour,
 * docs/config.md its keys. */
#ifndef WEIR_CACHE_MODULE_H
#define WEIR_CACHE_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module cache_module;

#endif

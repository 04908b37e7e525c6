/* registry.h — every pipeline module, in phase order (access → limit → cache → content): the
 * one table a new feature adds its line to. */
#ifndef WEIR_MODULES_REGISTRY_H
#define WEIR_MODULES_REGISTRY_H

#include "pipeline/chain.h"

extern const struct pipeline_registry modules_registry;

/* Installs the registry (config extensions included). Main thread, before loading a config. */
void modules_register(void);

#endif

/* wr_module.h — the waiting room's pipeline module (route key `waiting_room`). */
#ifndef WEIR_WAITROOM_WR_MODULE_H
#define WEIR_WAITROOM_WR_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module waitroom_module;

#endif

/* compress_module.h — compression on the pipeline (route key `compress`): negotiates a coding
 * from Accept-Encoding at the request, decides at the response head (compress_policy), edits
 * the head and streams the body through a codec (codec.h) as a body transform; optionally
 * decodes an upstream's coding for a client that does not accept it. Bounded memory per
 * exchange: one encoder or decoder context (codec.h figures) and the host's output buffer. */
#ifndef WEIR_MODULES_COMPRESS_MODULE_H
#define WEIR_MODULES_COMPRESS_MODULE_H

#include "pipeline/module.h"

extern const struct pipeline_module compress_module;

#endif

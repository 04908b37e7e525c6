/* compress_config.h — the compress module's settings (one per route, or the global default).
 *
 * Immutable once built: the YAML loader (wired when the pipeline lands; intended keys in
 * docs/internals/compress.md) fills one from compress_config_defaults() and the config
 * generation owns it. Strings are slices into that generation's memory or into static
 * tables, never copied per request. Read from any worker without locking. */
#ifndef WEIR_MODULES_COMPRESS_CONFIG_H
#define WEIR_MODULES_COMPRESS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "modules/compress/codec.h"

#define COMPRESS_MAX_CODINGS 3 /* gzip, br, zstd: each at most once */

struct compress_coding {
    const struct compress_codec_ops *ops;
    int level; /* within [ops->level_min, ops->level_max] */
};

struct compress_config {
    /* Enabled codings, most preferred first: the tie-break when a client weighs several alike. */
    struct compress_coding codings[COMPRESS_MAX_CODINGS];
    size_t ncodings;
    /* Bodies whose Content-Length is below this stay as they are (unknown lengths compress). */
    uint64_t min_length;
    /* Media types that compress: "type/subtype"; "type/" then a star for any subtype of type;
     * "+suffix" for a subtype ending in +suffix; "*" for all. Case-insensitive; parameters of
     * the Content-Type are ignored. */
    const struct str *types;
    size_t ntypes;
    /* Heap one encoder context may use; a level whose bound is larger is a config error. */
    size_t mem_limit;
    /* Decode gzip/br/zstd from upstream for clients that do not accept it. */
    bool decompress;
    size_t decompress_mem_limit; /* the decoder's hard cap */
};

/* The defaults: zstd 3, br 4, gzip 1 (preference in that order: see compress.md), min_length
 * 1024, the text-like types of compress_config_default_types, mem_limit 4 MiB (br 4 needs 3.4 MiB,
 * zstd 3 1.7 MiB), decompress on with an 8 MiB cap (br and zstd windows up to 4 MiB, the common
 * encoders' default). */
void compress_config_defaults(struct compress_config *c);

/* The built-in allow-list; `n` receives its length. */
const struct str *compress_config_default_types(size_t *n);

/* NULL when c is usable, else a message naming the first problem (a level out of range or over
 * mem_limit, a coding listed twice, no codings). The loader prefixes file:line:col. */
const char *compress_config_check(const struct compress_config *c);

#endif

/* compress_config.c — defaults and checks of struct compress_config. Pure. */
#include "modules/compress/compress_config.h"

#define KIB ((size_t)1024)
#define MIB (1024 * KIB)

/* Text-like types; already-compressed formats (images, video, woff2, archives) stay off. */
static const struct str default_types[] = {
    STR_LIT("text/*"),
    STR_LIT("application/json"),
    STR_LIT("application/javascript"),
    STR_LIT("application/x-javascript"),
    STR_LIT("application/ecmascript"),
    STR_LIT("application/xml"),
    STR_LIT("application/x-ndjson"),
    STR_LIT("application/yaml"),
    STR_LIT("application/wasm"),
    STR_LIT("application/vnd.ms-fontobject"),
    STR_LIT("+json"), /* application/ld+json, application/problem+json, manifest+json... */
    STR_LIT("+xml"),  /* image/svg+xml, application/rss+xml, atom+xml, xhtml+xml... */
    STR_LIT("image/svg+xml"),
    STR_LIT("image/x-icon"),
    STR_LIT("image/vnd.microsoft.icon"),
    STR_LIT("image/bmp"),
    STR_LIT("font/ttf"),
    STR_LIT("font/otf"),
};

const struct str *compress_config_default_types(size_t *n)
{
    *n = sizeof(default_types) / sizeof(default_types[0]);
    return default_types;
}

void compress_config_defaults(struct compress_config *c)
{
    *c = (struct compress_config){
        .codings = {{.ops = &compress_codec_zstd, .level = 3},
                    {.ops = &compress_codec_br, .level = 4},
                    {.ops = &compress_codec_gzip, .level = 1}},
        .ncodings = 3,
        .min_length = 1024,
        .mem_limit = 4 * MIB,
        .decompress = true,
        .decompress_mem_limit = 8 * MIB,
    };
    c->types = compress_config_default_types(&c->ntypes);
}

const char *compress_config_check(const struct compress_config *c)
{
    if (c->ncodings == 0 || c->ncodings > COMPRESS_MAX_CODINGS)
        return "compress: at least one coding (gzip, br, zstd) is needed";
    for (size_t i = 0; i < c->ncodings; i++) {
        const struct compress_coding *k = &c->codings[i];
        for (size_t j = 0; j < i; j++)
            if (c->codings[j].ops == k->ops)
                return "compress: a coding is listed twice";
        if (k->level < k->ops->level_min || k->level > k->ops->level_max)
            return "compress: level out of range for its coding";
        if (k->ops->enc_mem_bound(k->level) > c->mem_limit)
            return "compress: this level needs more memory than mem_limit";
    }
    return NULL;
}

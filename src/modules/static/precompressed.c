/* precompressed.c — sibling lookup for precompressed files (see precompressed.h). */
#include "modules/static/precompressed.h"

#include <string.h>
#include <unistd.h>

static const struct {
    struct str suffix, coding;
} encs[PRECOMPRESSED_COUNT] = {
    [PRECOMPRESSED_BR] = {.suffix = STR_LIT(".br"), .coding = STR_LIT("br")},
    [PRECOMPRESSED_ZSTD] = {.suffix = STR_LIT(".zst"), .coding = STR_LIT("zstd")},
    [PRECOMPRESSED_GZIP] = {.suffix = STR_LIT(".gz"), .coding = STR_LIT("gzip")},
};

struct str precompressed_suffix(enum precompressed_enc e)
{
    return e >= 0 && e < PRECOMPRESSED_COUNT ? encs[e].suffix : STR_NULL;
}

struct str precompressed_coding(enum precompressed_enc e)
{
    return e >= 0 && e < PRECOMPRESSED_COUNT ? encs[e].coding : STR_NULL;
}

bool precompressed_usable(const struct stat *orig, const struct stat *sib)
{
    if (!S_ISREG(sib->st_mode))
        return false;
    /* Whole seconds: brotli and zstd copy the original's time with utime(), dropping the
     * nanoseconds, so an exact comparison would call every such sibling stale. */
    return sib->st_mtim.tv_sec >= orig->st_mtim.tv_sec;
}

enum precompressed_enc precompressed_find(int root_fd, const struct static_path_opts *o,
                                          const char *rel, size_t rel_len,
                                          const struct stat *orig,
                                          const enum precompressed_enc *order, size_t n, int *fd,
                                          struct stat *st)
{
    *fd = -1;
    char buf[STATIC_PATH_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        struct str suf = precompressed_suffix(order[i]);
        if (!suf.len || rel_len == 0 || rel_len + suf.len > STATIC_PATH_MAX)
            continue;
        memcpy(buf, rel, rel_len);
        memcpy(buf + rel_len, suf.ptr, suf.len);
        buf[rel_len + suf.len] = '\0';
        int sfd;
        if (static_path_open(root_fd, buf, o, &sfd, st) != STATIC_PATH_OK)
            continue;
        if (precompressed_usable(orig, st)) {
            *fd = sfd;
            return order[i];
        }
        close(sfd);
    }
    return PRECOMPRESSED_NONE;
}

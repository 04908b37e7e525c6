/* precompressed.h — find a precompressed sibling (file.br, file.zst, file.gz) of a static file.
 *
 * The caller passes the encodings the client accepts, most preferred first (parsing
 * Accept-Encoding is not done here). A sibling counts when it is a regular file under the root
 * (opened the same safe way as the original) whose mtime is not older than the original's: a
 * stale .gz left behind by an old build is never served in place of a newer file.
 * Any thread; no state. */
#ifndef WEIR_MODULES_PRECOMPRESSED_H
#define WEIR_MODULES_PRECOMPRESSED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "core/str.h"
#include "modules/static/static_path.h"

enum precompressed_enc {
    PRECOMPRESSED_BR,
    PRECOMPRESSED_ZSTD,
    PRECOMPRESSED_GZIP,
    PRECOMPRESSED_COUNT,
    PRECOMPRESSED_NONE = -1,
};

/* ".br" and "br", ".zst" and "zstd", ".gz" and "gzip". */
struct str precompressed_suffix(enum precompressed_enc e);
struct str precompressed_coding(enum precompressed_enc e);

/* True when the sibling's stat qualifies for the original (regular, mtime >= original's). */
bool precompressed_usable(const struct stat *orig, const struct stat *sib);

/* Opens the first acceptable sibling of rel (in `order`, n entries) that qualifies. Returns its
 * encoding with *fd and *st set (the caller owns fd), or PRECOMPRESSED_NONE (*fd = -1). */
enum precompressed_enc precompressed_find(int root_fd, const struct static_path_opts *o,
                                          const char *rel, size_t rel_len,
                                          const struct stat *orig,
                                          const enum precompressed_enc *order, size_t n, int *fd,
                                          struct stat *st);

#endif

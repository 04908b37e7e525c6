/* static_path.h — from a request target to an open file under a root directory, safely.
 *
 * Two steps, kept apart so the first is pure (fuzzed) and the second is the only one that
 * touches the file system:
 *   static_path_normalize  target → a clean relative path (no I/O, no allocation)
 *   static_path_resolve    clean path → an open regular file under the root, following the
 *                          try_files list and the index files, or a 301 / 404 / 403 decision
 *
 * The invariant that keeps the root closed: every path handed to the kernel is relative, has no
 * "." or ".." segment, no empty segment, no NUL, and is opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) against the root's directory fd. Lexical checks reject the obvious
 * attempts early (400); the kernel refuses the rest (symlinks leading out → 404).
 * All functions may be called from any thread; they share nothing. */
#ifndef WEIR_MODULES_STATIC_PATH_H
#define WEIR_MODULES_STATIC_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "core/str.h"

/* Longest clean relative path accepted (Linux PATH_MAX less the NUL). Longer → 414. */
#define STATIC_PATH_MAX 4095

/* Status codes the functions return. 0 means success; a negative value is -(HTTP status). */
enum {
    STATIC_PATH_OK = 0,
    STATIC_PATH_BAD = -400,       /* malformed, bad escape, encoded '/', NUL, '\', climbing */
    STATIC_PATH_FORBIDDEN = -403, /* the file exists but weir may not read it (EACCES) */
    STATIC_PATH_NOT_FOUND = -404, /* missing, hidden, outside the root, not a regular file */
    STATIC_PATH_TOO_LONG = -414,
    STATIC_PATH_ERROR = -500,     /* an unexpected errno */
    STATIC_PATH_BUSY = -503,      /* out of file descriptors or memory: try again later */
};

struct static_path_opts {
    bool allow_hidden;     /* serve segments starting with '.' (default: 404) */
    bool allow_well_known; /* serve /.well-known/... even when hidden segments are refused */
    bool no_symlinks;      /* RESOLVE_NO_SYMLINKS: refuse every symlink, even inside the root */
};

/* A normalised target. `path` is relative ("" is the root), NUL-terminated, and made of
 * segments that are neither empty, ".", nor "..". `dir` is true when the target named a
 * directory (it ended with '/', "/." or "/.."). `query` points into the target (without '?'). */
struct static_norm {
    char path[STATIC_PATH_MAX + 1];
    size_t len;
    bool dir;
    struct str query;
};

/* Normalises an origin-form request target: drops "?query" and "#fragment", percent-decodes
 * once when `decode` (config-written paths are not decoded), collapses "//" and ".", applies
 * "..", and refuses hidden segments unless allowed. Returns STATIC_PATH_OK, _BAD (no leading '/',
 * invalid escape, %2F, NUL or control byte, '\' raw or encoded, ".." above the root), _NOT_FOUND
 * (hidden segment) or _TOO_LONG. Pure. */
int static_path_normalize(struct str target, bool decode, const struct static_path_opts *o,
                          struct static_norm *out);

/* Opens root/rel (rel as made by static_path_normalize; "" is the root itself) read-only,
 * non-blocking (a FIFO must not stall the worker), close-on-exec, with openat2 and
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (| RESOLVE_NO_SYMLINKS). Falls back to
 * static_path_open_walk when the kernel has no openat2 (ENOSYS). On success *fd and *st are set
 * (the caller owns the fd) and the file is a regular file or a directory; anything else is
 * closed and reported as _NOT_FOUND. Returns STATIC_PATH_OK or a negative status. */
int static_path_open(int root_fd, const char *rel, const struct static_path_opts *o, int *fd,
                     struct stat *st);

/* The ENOSYS fallback, exposed for tests: walks rel one segment at a time with
 * openat(O_NOFOLLOW), so every symlink is refused (stricter than openat2's default). */
int static_path_open_walk(int root_fd, const char *rel, int *fd, struct stat *st);

/* What static_path_resolve needs; owned by the route's config, read-only. */
struct static_resolve_cfg {
    int root_fd;                  /* O_PATH or O_RDONLY directory fd of the root */
    struct static_path_opts opts;
    const char *const *index;     /* index file names tried in a directory, in order */
    size_t nindex;                /* 0: no index files (a directory is then never served) */
    /* try_files entries, tried in order: "$uri" + an optional suffix ("$uri", "$uri/",
     * "$uri.html"), a root-relative path ("/index.html"), or "=NNN" as the last entry (that
     * status when nothing before matched). NULL/0 means {"$uri", "$uri/"}. */
    const char *const *try_files;
    size_t ntry;
};

/* The outcome: status 200 with fd/st/path (the caller owns fd), 301 with path = the directory
 * (build the Location with static_path_location), or an error status (fd = -1). */
struct static_resolved {
    int status;
    int fd;
    struct stat st;
    char path[STATIC_PATH_MAX + 1]; /* relative path of the opened file, or of the directory */
    size_t len;
    bool direct; /* 200 from the "$uri" entry itself: path is the normalised target */
};

/* Resolves a normalised target under cfg. A directory reached through "$uri/" is redirected
 * (301) when the target had no trailing slash, otherwise its index files are tried; there is no
 * directory listing. Returns out->status (200, 301, 403, 404, 414, 500, 503 or an "=NNN"). */
int static_path_resolve(const struct static_resolve_cfg *cfg, const struct static_norm *norm,
                        struct static_resolved *out);

/* Writes the Location for a 301 to the slash form of directory `rel`: "/" rel "/" [?query],
 * with every byte outside unreserved / sub-delims / ":@" percent-encoded, so the value can never
 * read as "//host" or carry a control byte. Returns the length, or -1 when it does not fit cap
 * (including the NUL). */
int static_path_location(const char *rel, size_t rel_len, struct str query, char *out, size_t cap);

#endif

/* static_path.c — request target → clean relative path → open file under the root.
 *
 * Choices (docs/internals/static.md has the reasons):
 * - ".." that would climb above the root is a 400, not a 404: no browser sends it (they resolve
 *   dot-segments before sending), so it is an attack or a broken client, and saying so is honest.
 * - Hidden segments are a 404, not a 403: a 403 would tell a scanner that /.git exists.
 * - "%2F" is a 400: a decoded '/' would make one segment into two, and nothing needs it.
 * - Symlinks whose target stays under the root are served; the kernel refuses the others
 *   (EXDEV → 404). The hidden-segment rule is lexical: it looks at the request, not at where a
 *   symlink inside the root points. */
#include "modules/static/static_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Ends the segment out[start .. start+seglen): drops "" and ".", pops for "..", keeps the rest.
 * *n is the committed length (no trailing '/'). Returns 0, or -400 when ".." leaves the root. */
static int end_segment(char *out, size_t *n, size_t start, size_t seglen)
{
    const char *s = out + start;
    if (seglen == 0 || (seglen == 1 && s[0] == '.'))
        return 0;
    if (seglen == 2 && s[0] == '.' && s[1] == '.') {
        if (*n == 0)
            return STATIC_PATH_BAD;
        const char *slash = memrchr(out, '/', *n);
        *n = slash ? (size_t)(slash - out) : 0;
        return 0;
    }
    if (*n)
        out[*n] = '/';
    *n = start + seglen;
    return 0;
}

/* True when some segment of the clean path starts with '.', except a leading ".well-known"
 * when that is allowed. */
static bool has_hidden(const char *p, size_t n, const struct static_path_opts *o)
{
    size_t i = 0;
    while (i < n) {
        const char *slash = memchr(p + i, '/', n - i);
        size_t seg = slash ? (size_t)(slash - (p + i)) : n - i;
        if (p[i] == '.') {
            bool wk = i == 0 && seg == 11 && memcmp(p, ".well-known", 11) == 0;
            if (!(wk && o->allow_well_known))
                return true;
        }
        i += seg + 1;
    }
    return false;
}

int static_path_normalize(struct str target, bool decode, const struct static_path_opts *o,
                          struct static_norm *out)
{
    out->len = 0;
    out->path[0] = '\0';
    out->dir = false;
    out->query = STR_NULL;
    if (target.len == 0 || target.ptr[0] != '/')
        return STATIC_PATH_BAD;

    size_t end = target.len;
    for (size_t i = 0; i < target.len; i++) {
        if (target.ptr[i] == '?' || target.ptr[i] == '#') {
            end = i;
            break;
        }
    }
    if (end < target.len && target.ptr[end] == '?') {
        const char *q = target.ptr + end + 1;
        const char *hash = memchr(q, '#', target.len - end - 1);
        out->query = str_from(q, hash ? (size_t)(hash - q) : target.len - end - 1);
    }

    char *p = out->path;
    size_t n = 0, start = 0, seglen = 0;
    for (size_t i = 1; i <= end; i++) {
        if (i == end || target.ptr[i] == '/') {
            if (end_segment(p, &n, start, seglen) != 0)
                return STATIC_PATH_BAD;
            /* the target names a directory when its last segment is "", "." or ".." */
            out->dir = seglen == 0 || (seglen <= 2 && memcmp(p + start, "..", seglen) == 0);
            start = n ? n + 1 : 0;
            seglen = 0;
            continue;
        }
        unsigned char c = (unsigned char)target.ptr[i];
        if (c == '%' && decode) {
            if (end - i < 3)
                return STATIC_PATH_BAD;
            int hi = str_hex_digit(target.ptr[i + 1]), lo = str_hex_digit(target.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return STATIC_PATH_BAD;
            c = (unsigned char)(hi << 4 | lo);
            if (c == '/')
                return STATIC_PATH_BAD;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            return STATIC_PATH_BAD;
        if (start + seglen >= STATIC_PATH_MAX)
            return STATIC_PATH_TOO_LONG;
        p[start + seglen++] = (char)c;
    }
    p[n] = '\0';
    out->len = n;
    if (!o->allow_hidden && has_hidden(p, n, o))
        return STATIC_PATH_NOT_FOUND;
    return STATIC_PATH_OK;
}

static int errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EXDEV:        /* RESOLVE_BENEATH: the path would leave the root */
    case ELOOP:        /* a refused symlink, or a loop */
    case ENAMETOOLONG:
    case ENXIO:
    case ENODEV:
        return STATIC_PATH_NOT_FOUND;
    case EACCES:
    case EPERM:
        return STATIC_PATH_FORBIDDEN;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
        return STATIC_PATH_BUSY;
    default:
        return STATIC_PATH_ERROR;
    }
}

/* Keeps only regular files and directories. Takes ownership of fd. */
static int finish_open(int fd, int *fd_out, struct stat *st)
{
    if (fstat(fd, st) == -1) {
        int err = errno;
        close(fd);
        return errno_status(err);
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        close(fd);
        return STATIC_PATH_NOT_FOUND;
    }
    *fd_out = fd;
    return STATIC_PATH_OK;
}

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

int static_path_open_walk(int root_fd, const char *rel, int *fd_out, struct stat *st)
{
    *fd_out = -1;
    if (rel[0] == '\0') {
        int fd = openat(root_fd, ".", OPEN_FLAGS | O_DIRECTORY);
        return fd == -1 ? errno_status(errno) : finish_open(fd, fd_out, st);
    }
    int dir = root_fd;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char seg[NAME_MAX + 1];
        if (len > NAME_MAX) {
            if (dir != root_fd)
                close(dir);
            return STATIC_PATH_NOT_FOUND;
        }
        memcpy(seg, p, len);
        seg[len] = '\0';
        int flags = slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC : OPEN_FLAGS | O_NOFOLLOW;
        int fd = openat(dir, seg, flags);
        int err = errno;
        if (dir != root_fd)
            close(dir);
        if (fd == -1)
            return errno_status(err);
        if (!slash)
            return finish_open(fd, fd_out, st);
        dir = fd;
        p = slash + 1;
    }
}

static atomic_bool no_openat2;

int static_path_open(int root_fd, const char *rel, const struct static_path_opts *o, int *fd_out,
                     struct stat *st)
{
    *fd_out = -1;
    if (atomic_load_explicit(&no_openat2, memory_order_relaxed))
        return static_path_open_walk(root_fd, rel, fd_out, st);
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                   (o->no_symlinks ? RESOLVE_NO_SYMLINKS : 0),
    };
    long fd;
    /* EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry. */
    for (int tries = 0;; tries++) {
        fd = syscall(SYS_openat2, root_fd, rel[0] ? rel : ".", &how, sizeof(how));
        if (fd != -1 || errno != EAGAIN || tries == 2)
            break;
    }
    if (fd == -1) {
        if (errno == ENOSYS) {
            atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
            return static_path_open_walk(root_fd, rel, fd_out, st);
        }
        return errno_status(errno);
    }
    return finish_open((int)fd, fd_out, st);
}

/* Joins a (may be "") and b with '/' into out; false when too long. */
static bool join(char *out, const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    size_t need = alen + (alen ? 1 : 0) + blen;
    if (need > STATIC_PATH_MAX)
        return false;
    memmove(out, a, alen);
    size_t n = alen;
    if (alen)
        out[n++] = '/';
    memcpy(out + n, b, blen);
    out[need] = '\0';
    return true;
}

enum want { WANT_FILE, WANT_DIR };

/* One candidate. Returns 1 when out is final (served, redirected or an error to report), 0 to
 * go on with the next try_files entry. */
static int try_candidate(const struct static_resolve_cfg *cfg, const char *cand, size_t len,
                         enum want want, bool redirect, struct static_resolved *out)
{
    int fd;
    int rc = static_path_open(cfg->root_fd, cand, &cfg->opts, &fd, &out->st);
    if (rc == STATIC_PATH_NOT_FOUND)
        return 0;
    if (rc != STATIC_PATH_OK) {
        out->status = -rc;
        return 1;
    }
    bool is_dir = S_ISDIR(out->st.st_mode);
    if (want == WANT_FILE) {
        if (is_dir) {
            close(fd);
            return 0;
        }
        out->status = 200;
        out->fd = fd;
        memmove(out->path, cand, len + 1);
        out->len = len;
        return 1;
    }
    close(fd);
    if (!is_dir)
        return 0;
    if (redirect) {
        out->status = 301;
        memmove(out->path, cand, len + 1);
        out->len = len;
        return 1;
    }
    char buf[STATIC_PATH_MAX + 1];
    for (size_t i = 0; i < cfg->nindex; i++) {
        if (!join(buf, cand, len, cfg->index[i]))
            continue;
        rc = static_path_open(cfg->root_fd, buf, &cfg->opts, &fd, &out->st);
        if (rc == STATIC_PATH_NOT_FOUND)
            continue;
        if (rc != STATIC_PATH_OK) {
            out->status = -rc;
            return 1;
        }
        if (S_ISDIR(out->st.st_mode)) {
            close(fd);
            continue;
        }
        out->status = 200;
        out->fd = fd;
        out->len = strlen(buf);
        memcpy(out->path, buf, out->len + 1);
        return 1;
    }
    return 0;
}

static const char *const default_try[] = {"$uri", "$uri/"};

int static_path_resolve(const struct static_resolve_cfg *cfg, const struct static_norm *norm,
                        struct static_resolved *out)
{
    out->status = 404;
    out->fd = -1;
    out->len = 0;
    out->path[0] = '\0';
    out->direct = false;
    const char *const *tries = cfg->ntry ? cfg->try_files : default_try;
    size_t ntry = cfg->ntry ? cfg->ntry : 2;

    for (size_t i = 0; i < ntry; i++) {
        const char *e = tries[i];
        if (e[0] == '=') {
            long code = strtol(e + 1, NULL, 10);
            out->status = code >= 200 && code <= 599 ? (int)code : 404;
            return out->status;
        }
        int done;
        if (strncmp(e, "$uri", 4) == 0 && (e[4] == '\0' || strcmp(e + 4, "/") == 0)) {
            bool want_dir = e[4] == '/';
            if (!want_dir && norm->dir)
                continue; /* "/x/" names a directory, never a file */
            done = try_candidate(cfg, norm->path, norm->len, want_dir ? WANT_DIR : WANT_FILE,
                                 want_dir && !norm->dir, out);
            if (done && out->status == 200 && !want_dir)
                out->direct = true;
        } else {
            /* "$uri<suffix>" or a root-relative path: build it, then clean it like a target
             * (without decoding) so a suffix cannot make a hidden or climbing path. */
            char raw[STATIC_PATH_MAX + 2];
            size_t rlen;
            if (e[0] == '$') {
                size_t slen = strlen(e + 4);
                if (norm->len + slen + 1 > STATIC_PATH_MAX)
                    continue;
                raw[0] = '/';
                memcpy(raw + 1, norm->path, norm->len);
                memcpy(raw + 1 + norm->len, e + 4, slen);
                rlen = 1 + norm->len + slen;
            } else {
                rlen = strlen(e);
                if (rlen > STATIC_PATH_MAX)
                    continue;
                memcpy(raw, e, rlen);
            }
            struct static_norm cand;
            if (static_path_normalize(str_from(raw, rlen), false, &cfg->opts, &cand) != 0)
                continue;
            done = try_candidate(cfg, cand.path, cand.len, cand.dir ? WANT_DIR : WANT_FILE, false,
                                 out);
        }
        if (done)
            return out->status;
    }
    out->status = 404;
    return out->status;
}

static bool location_safe(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

int static_path_location(const char *rel, size_t rel_len, struct str query, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
#define PUT(ch)                                                                                   \
    do {                                                                                          \
        if (n + 1 >= cap)                                                                         \
            return -1;                                                                            \
        out[n++] = (ch);                                                                          \
    } while (0)
    PUT('/');
    for (size_t i = 0; i < rel_len; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (location_safe(c)) {
            PUT((char)c);
        } else {
            PUT('%');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        }
    }
    if (rel_len)
        PUT('/');
    if (query.ptr) {
        PUT('?');
        for (size_t i = 0; i < query.len; i++) {
            unsigned char c = (unsigned char)query.ptr[i];
            if (c > 0x20 && c < 0x7f) {
                PUT((char)c);
            } else {
                PUT('%');
                PUT(hex[c >> 4]);
                PUT(hex[c & 15]);
            }
        }
    }
#undef PUT
    out[n] = '\0';
    return (int)n;
}

/* static_fixture.h — temporary directory trees for the static module's tests (test code only).
 *
 * fx_tmp_new makes a fresh directory under $TMPDIR (or /tmp); fx_write / fx_mkdir / fx_symlink
 * create things in it by relative path; fx_tmp_remove deletes the whole tree. */
#ifndef WEIR_TEST_STATIC_FIXTURE_H
#define WEIR_TEST_STATIC_FIXTURE_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void fx_path(char *out, size_t cap, const char *dir, const char *rel)
{
    int n = snprintf(out, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap)
        abort();
}

/* A new empty directory; its path goes into out (PATH_MAX-sized). */
static inline void fx_tmp_new(char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    int n = snprintf(out, cap, "%s/weir-static-XXXXXX", t && *t ? t : "/tmp");
    if (n < 0 || (size_t)n >= cap || !mkdtemp(out))
        abort();
}

static inline void fx_write(const char *dir, const char *rel, const char *content)
{
    char p[4096];
    fx_path(p, sizeof(p), dir, rel);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

static inline void fx_mkdir(const char *dir, const char *rel)
{
    char p[4096];
    fx_path(p, sizeof(p), dir, rel);
    if (mkdir(p, 0755) == -1)
        abort();
}

static inline void fx_symlink(const char *dir, const char *rel, const char *target)
{
    char p[4096];
    fx_path(p, sizeof(p), dir, rel);
    if (symlink(target, p) == -1)
        abort();
}

/* Sets a file's mtime to sec + nsec. */
static inline void fx_mtime(const char *dir, const char *rel, time_t sec, long nsec)
{
    char p[4096];
    fx_path(p, sizeof(p), dir, rel);
    struct timespec ts[2] = {{.tv_sec = sec, .tv_nsec = nsec}, {.tv_sec = sec, .tv_nsec = nsec}};
    if (utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == -1)
        abort();
}

static inline int fx_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void fx_tmp_remove(const char *dir)
{
    nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif

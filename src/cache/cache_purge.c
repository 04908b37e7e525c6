/* cache_purge.c — see cache_purge.h. */
#include "cache/cache_purge.h"

#include <fnmatch.h>
#include <string.h>

#include "cache/cache_key.h"
#include "cache/cache_store.h"
#include "pipeline/response.h"

#define URL_MAX 8192

struct job {
    enum cache_purge_kind kind;
    struct str arg;           /* normalised URL or prefix, tag; pattern NUL-terminated */
    bool soft;
    int64_t n;
};

/* The URL line of a key (keys may go on with "\n<extra>"). */
static struct str url_of(const struct cache_obj *o)
{
    const char *nl = memchr(o->key.ptr, '\n', o->key.len);
    return nl ? str_from(o->key.ptr, (size_t)(nl - o->key.ptr)) : o->key;
}

bool cache_purge_tag_listed(struct str list, struct str tag)
{
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
            p++;
        const char *a = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        if (p > a && str_eq(str_from(a, (size_t)(p - a)), tag))
            return true;
    }
    return false;
}

static bool match(const struct cache_obj *o, void *arg)
{
    const struct job *j = arg;
    struct str url = url_of(o);
    switch (j->kind) {
    case CACHE_PURGE_URL:
        return str_eq(url, j->arg);
    case CACHE_PURGE_PREFIX:
        return str_has_prefix(url, j->arg);
    case CACHE_PURGE_TAG:
        return o->tags.len && cache_purge_tag_listed(o->tags, j->arg);
    case CACHE_PURGE_BAN: {
        char buf[URL_MAX + 1];
        if (url.len > URL_MAX)
            return false;
        memcpy(buf, url.ptr, url.len);
        buf[url.len] = '\0';
        return fnmatch(j->arg.ptr, buf, 0) == 0;
    }
    }
    return false;
}

static void run(struct cache_store *s, void *arg)
{
    struct job *j = arg;
    if (j->kind == CACHE_PURGE_URL && !j->soft) {
        /* Without a walk: the key is the URL (routes that add headers or cookies to their
         * keys are purged by prefix). */
        uint32_t n = cache_store_remove_key(s, cache_key_hash(j->arg), j->arg);
        atomic_fetch_add_explicit(&cache_store_stats(s)->purged, n, memory_order_relaxed);
        j->n += n;
        return;
    }
    j->n += cache_store_purge(s, match, j, j->soft);
}

int64_t cache_purge(enum cache_purge_kind kind, struct str arg, bool soft)
{
    char buf[URL_MAX + 1];
    struct job j = {.kind = kind, .soft = soft};
    if (!arg.len || arg.len > URL_MAX)
        return -1;
    if (kind == CACHE_PURGE_URL || kind == CACHE_PURGE_PREFIX) {
        int n = cache_key_from_url(arg, buf, URL_MAX);
        if (n < 0)
            return -1;
        j.arg = str_from(buf, (size_t)n);
        /* A prefix given as "http://host" means the whole host, not "http://host/" only. */
        const char *auth = (const char *)memmem(arg.ptr, arg.len, "://", 3) + 3;
        bool has_path = memchr(auth, '/', arg.len - (size_t)(auth - arg.ptr)) != NULL;
        if (kind == CACHE_PURGE_PREFIX && !has_path)
            j.arg.len--;
    } else {
        memcpy(buf, arg.ptr, arg.len);
        buf[arg.len] = '\0';
        j.arg = str_from(buf, arg.len);
    }
    cache_store_foreach(run, &j);
    return j.n;
}

/* An unsafe method succeeded: the target URI and same-origin Location / Content-Location are
 * no longer what is stored (RFC 9111 §4.4). */
void cache_purge_unsafe(struct cache_store *store, struct str key, uint64_t hash,
                        const struct response *r)
{
    cache_store_remove_key(store, hash, key);
    const char *nl = memchr(key.ptr, '\n', key.len);
    struct str extra = nl ? str_from(nl, key.len - (size_t)(nl - key.ptr)) : STR_NULL;
    /* "<scheme>://<host>": the key up to the path's '/' (keys always have one after "://"). */
    const char *auth = memmem(key.ptr, key.len, "://", 3);
    const char *slash = auth ? memchr(auth + 3, '/', key.len - (size_t)(auth + 3 - key.ptr))
                             : NULL;
    if (!slash)
        return;
    size_t origin = (size_t)(slash - key.ptr);
    static const struct str fields[] = {STR_LIT("Location"), STR_LIT("Content-Location")};
    for (size_t i = 0; i < 2; i++) {
        struct str v = str_trim_ows(response_get(r, fields[i]));
        if (!v.len)
            continue;
        char buf[URL_MAX];
        int n;
        if (v.ptr[0] == '/') {
            if (origin + v.len + extra.len > sizeof(buf))
                continue;
            memcpy(buf, key.ptr, origin);
            memcpy(buf + origin, v.ptr, v.len);
            n = (int)(origin + v.len);
        } else {
            n = cache_key_from_url(v, buf, sizeof(buf) - extra.len);
            /* Same origin only: another host's entries are not this response's to drop. */
            if (n < 0 || (size_t)n < origin || memcmp(buf, key.ptr, origin) != 0)
                continue;
        }
        if (extra.len)
            memcpy(buf + n, extra.ptr, extra.len);
        struct str k = str_from(buf, (size_t)n + extra.len);
        cache_store_remove_key(store, cache_key_hash(k), k);
    }
}


size_t cache_purge_encode(enum cache_purge_kind kind, struct str arg, bool soft, char *out,
                          size_t cap)
{
    if (arg.len + 4 > cap)
        return 0;
    out[0] = (char)('0' + kind);
    out[1] = ' ';
    out[2] = soft ? '1' : '0';
    out[3] = ' ';
    memcpy(out + 4, arg.ptr, arg.len);
    return arg.len + 4;
}

void cache_purge_event(const char *payload, size_t len)
{
    if (len < 5 || payload[0] < '0' || payload[0] > '0' + CACHE_PURGE_BAN || payload[1] != ' ' ||
        payload[3] != ' ')
        return;
    cache_purge((enum cache_purge_kind)(payload[0] - '0'), str_from(payload + 4, len - 4),
                payload[2] == '1');
}

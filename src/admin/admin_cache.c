/* admin_cache.c — see admin_cache.h. Reads the stores through cache_store_foreach (the
 * registry mutex) and their atomic counters; purges walk the stores shard by shard. */
#include "admin/admin_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_purge.h"
#include "state/state_events.h"
#include "cache/cache_store.h"
#include "cache/cache_warm.h"

#define WARM_MAX_URLS 100000

/* The `skip`-th value of `name` in a query string, percent-decoded into out (NUL-terminated). */
static bool query_nth(struct str q, const char *name, uint32_t skip, char *out, size_t cap,
                      size_t *len)
{
    size_t nl = strlen(name);
    const char *p = q.ptr, *end = q.ptr + q.len;
    while (p < end) {
        const char *a = p;
        while (p < end && *p != '&')
            p++;
        if ((size_t)(p - a) > nl && memcmp(a, name, nl) == 0 && a[nl] == '=' && skip-- == 0) {
            size_t n = 0;
            for (const char *s = a + nl + 1; s < p; s++) {
                char ch = *s;
                if (ch == '+') {
                    ch = ' ';
                } else if (ch == '%' && p - s > 2 && str_hex_digit(s[1]) >= 0 &&
                           str_hex_digit(s[2]) >= 0) {
                    ch = (char)(str_hex_digit(s[1]) * 16 + str_hex_digit(s[2]));
                    s += 2;
                }
                if (n + 1 >= cap)
                    return false;
                out[n++] = ch;
            }
            out[n] = '\0';
            *len = n;
            return true;
        }
        if (p < end)
            p++;
    }
    return false;
}

bool admin_query_value(struct str q, const char *name, char *out, size_t cap, size_t *len)
{
    return query_nth(q, name, 0, out, cap, len);
}

static uint32_t query_u32(struct str q, const char *name, uint32_t dflt)
{
    char v[16];
    size_t n;
    return admin_query_value(q, name, v, sizeof(v), &n) ? (uint32_t)strtoul(v, NULL, 10) : dflt;
}

struct url_list {
    char **urls;
    uint32_t n, cap;
    bool failed;
};

static void list_add(struct url_list *l, const char *u)
{
    if (l->failed || l->n >= WARM_MAX_URLS)
        return;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        char **a = realloc(l->urls, cap * sizeof(*a));
        if (!a) {
            l->failed = true;
            return;
        }
        l->urls = a;
        l->cap = cap;
    }
    if (!(l->urls[l->n] = strdup(u)))
        l->failed = true;
    else
        l->n++;
}

/* The URLs of a route's prewarm_file: one a line, blank lines and "#" comments skipped. */
static void list_file(struct cache_store *s, void *arg)
{
    char *path = cache_store_prewarm(s);
    FILE *f = path ? fopen(path, "re") : NULL;
    char line[8192];
    while (f && fgets(line, sizeof(line), f)) {
        struct str t = str_trim_ows(str_cstr(line));
        while (t.len && (t.ptr[t.len - 1] == '\n' || t.ptr[t.len - 1] == '\r'))
            t.len--;
        t = str_trim_ows(t);
        if (!t.len || t.ptr[0] == '#')
            continue;
        ((char *)t.ptr)[t.len] = '\0';
        list_add(arg, t.ptr);
    }
    if (f)
        fclose(f);
    free(path);
}

/* POST /cache/warm?url=...&url=...[&concurrency=4][&rate=100][&host=...], or ?from=config
 * for the routes' prewarm_file lists. */
static int warm(struct str query, struct abuf *out)
{
    char buf[8192], host[256];
    size_t n;
    struct url_list l = {0};
    if (admin_query_value(query, "from", buf, sizeof(buf), &n) && strcmp(buf, "config") == 0)
        cache_store_foreach(list_file, &l);
    for (uint32_t i = 0; i < WARM_MAX_URLS && query_nth(query, "url", i, buf, sizeof(buf), &n);
         i++)
        list_add(&l, buf);
    uint32_t count = l.n;
    char **urls = l.urls;
    bool ok = !l.failed;
    if (!count && ok) {
        free(urls);
        abuf_str(out, "{\"error\":\"give url= (repeated), or from=config with a prewarm_file\"}\n");
        return 400;
    }
    bool has_host = admin_query_value(query, "host", host, sizeof(host), &n);
    int rc = ok ? cache_warm_start(urls, count, query_u32(query, "concurrency", 4),
                                   query_u32(query, "rate", 100), has_host ? host : NULL)
                : -2;
    for (uint32_t i = 0; urls && i < count; i++)
        free(urls[i]);
    free(urls);
    if (rc == -1) {
        abuf_str(out, "{\"error\":\"a warm-up is running\"}\n");
        return 409;
    }
    if (rc != 0) {
        abuf_str(out, "{\"error\":\"out of memory\"}\n");
        return 503;
    }
    abuf_printf(out, "{\"queued\":%u}\n", count);
    return 202;
}

int admin_cache_handle(struct str path, struct str query, struct abuf *out)
{
    if (str_eq(path, STR_LIT("/cache/warm")))
        return warm(query, out);
    static char arg[8192];
    char soft[8];
    size_t n = 0, sn;
    bool is_soft = admin_query_value(query, "soft", soft, sizeof(soft), &sn) &&
                   (strcmp(soft, "1") == 0 || strcmp(soft, "true") == 0);
    enum cache_purge_kind kind;
    if (str_eq(path, STR_LIT("/cache/purge"))) {
        if (admin_query_value(query, "url", arg, sizeof(arg), &n))
            kind = CACHE_PURGE_URL;
        else if (admin_query_value(query, "prefix", arg, sizeof(arg), &n))
            kind = CACHE_PURGE_PREFIX;
        else if (admin_query_value(query, "tag", arg, sizeof(arg), &n))
            kind = CACHE_PURGE_TAG;
        else {
            abuf_str(out, "{\"error\":\"give url=, prefix= or tag=\"}\n");
            return 400;
        }
    } else if (str_eq(path, STR_LIT("/cache/ban"))) {
        if (!admin_query_value(query, "pattern", arg, sizeof(arg), &n)) {
            abuf_str(out, "{\"error\":\"give pattern=\"}\n");
            return 400;
        }
        kind = CACHE_PURGE_BAN;
    } else {
        abuf_str(out, "{\"error\":\"try /cache/purge, /cache/ban or /cache/warm\"}\n");
        return 404;
    }
    int64_t count = cache_purge(kind, str_from(arg, n), is_soft);
    if (count < 0) {
        abuf_str(out, "{\"error\":\"url and prefix are absolute URLs (http://host/path); tag and "
                      "pattern are not empty\"}\n");
        return 400;
    }
    abuf_printf(out, "{\"%s\":%lld", is_soft ? "marked_stale" : "purged", (long long)count);
    if (state_events_shared()) {
        /* Every other instance sharing the Redis store does the same (state_events.h). */
        char ev[sizeof(arg) + 8];
        size_t evn = cache_purge_encode(kind, str_from(arg, n), is_soft, ev, sizeof(ev));
        bool sent = evn && state_event_publish(STATE_EV_PURGE, ev, evn);
        abuf_printf(out, ",\"broadcast\":%s", sent ? "true" : "false");
    }
    abuf_str(out, "}\n");
    return 200;
}

/* ---- figures ----------------------------------------------------------------------------- */

struct figures {
    const char *name;
    uint64_t hit, miss, stale, revalidated, coalesced, pass, evicted, stored, purged,
        uncacheable, bytes_served, bytes, objects, max_size;
    const char *policy;
};

struct collected {
    struct figures *f;
    uint32_t n, cap;
};

#define LOAD(s, field) atomic_load_explicit(&(s)->field, memory_order_relaxed)

static void collect_one(struct cache_store *s, void *arg)
{
    struct collected *c = arg;
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 8;
        struct figures *f = realloc(c->f, cap * sizeof(*f));
        if (!f)
            return;
        c->f = f;
        c->cap = cap;
    }
    struct cache_store_stats *st = cache_store_stats(s);
    struct figures *f = &c->f[c->n++];
    *f = (struct figures){
        .name = strdup(cache_store_name(s)), .hit = LOAD(st, hit), .miss = LOAD(st, miss),
        .stale = LOAD(st, stale), .revalidated = LOAD(st, revalidated),
        .coalesced = LOAD(st, coalesced), .pass = LOAD(st, pass), .evicted = LOAD(st, evicted),
        .stored = LOAD(st, stored), .purged = LOAD(st, purged),
        .uncacheable = LOAD(st, uncacheable), .bytes_served = LOAD(st, bytes_served),
        .policy = cache_store_policy(s)->name,
    };
    cache_store_usage(s, &f->bytes, &f->objects);
}

static struct collected collect(void)
{
    struct collected c = {0};
    cache_store_foreach(collect_one, &c);
    return c;
}

static void release(struct collected *c)
{
    for (uint32_t i = 0; i < c->n; i++)
        free((void *)c->f[i].name);
    free(c->f);
}

static double ratio(const struct figures *f)
{
    uint64_t served = f->hit + f->stale + f->revalidated + f->coalesced;
    uint64_t all = served + f->miss + f->pass;
    return all ? (double)served / (double)all : 0.0;
}

#define FIELD(name, help, type, member)                                                        \
    {name, help, type, offsetof(struct figures, member)}

static const struct {
    const char *name, *help, *type;
    size_t off;
} families[] = {
    FIELD("weir_cache_hits_total", "Requests answered from the cache while fresh.", "counter", hit),
    FIELD("weir_cache_misses_total", "Requests the cache sent upstream.", "counter", miss),
    FIELD("weir_cache_stale_total", "Requests answered with a stale response (max-stale, "
          "stale-while-revalidate, stale-if-error).", "counter", stale),
    FIELD("weir_cache_revalidated_total", "Requests answered after a revalidation.", "counter",
          revalidated),
    FIELD("weir_cache_coalesced_total", "Requests answered from another request's fetch.",
          "counter", coalesced),
    FIELD("weir_cache_pass_total", "Requests passed upstream as hit-for-pass.", "counter", pass),
    FIELD("weir_cache_evicted_total", "Objects evicted to make room.", "counter", evicted),
    FIELD("weir_cache_stored_total", "Responses stored.", "counter", stored),
    FIELD("weir_cache_purged_total", "Objects purged through the admin API or invalidated.",
          "counter", purged),
    FIELD("weir_cache_uncacheable_total", "Responses the rules kept out of the cache.", "counter",
          uncacheable),
    FIELD("weir_cache_served_bytes_total", "Body bytes served from the cache.", "counter",
          bytes_served),
    FIELD("weir_cache_bytes", "Bytes stored.", "gauge", bytes),
    FIELD("weir_cache_objects", "Objects stored.", "gauge", objects),
};

void admin_cache_prometheus(struct abuf *b)
{
    struct collected c = collect();
    if (!c.n) {
        release(&c);
        return;
    }
    for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
        abuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", families[k].name, families[k].help,
                    families[k].name, families[k].type);
        for (uint32_t i = 0; i < c.n; i++) {
            abuf_printf(b, "%s{route=\"", families[k].name);
            abuf_prom_label(b, c.f[i].name);
            abuf_str(b, "\"} ");
            abuf_u64(b, *(const uint64_t *)(const void *)((const char *)&c.f[i] + families[k].off));
            abuf_str(b, "\n");
        }
    }
    struct cache_warm_progress w;
    cache_warm_progress(&w);
    abuf_printf(b, "# HELP weir_cache_warm_urls Pre-warm progress: URLs queued, done, failed.\n"
                   "# TYPE weir_cache_warm_urls gauge\n"
                   "weir_cache_warm_urls{state=\"queued\"} %llu\n"
                   "weir_cache_warm_urls{state=\"done\"} %llu\n"
                   "weir_cache_warm_urls{state=\"failed\"} %llu\n"
                   "# HELP weir_cache_warm_bytes Bytes read by the pre-warm fetches.\n"
                   "# TYPE weir_cache_warm_bytes gauge\n"
                   "weir_cache_warm_bytes %llu\n",
                (unsigned long long)w.queued, (unsigned long long)w.done,
                (unsigned long long)w.failed, (unsigned long long)w.bytes);
    abuf_str(b, "# HELP weir_cache_hit_ratio Share of lookups answered from the cache.\n"
                "# TYPE weir_cache_hit_ratio gauge\n");
    for (uint32_t i = 0; i < c.n; i++) {
        abuf_str(b, "weir_cache_hit_ratio{route=\"");
        abuf_prom_label(b, c.f[i].name);
        abuf_str(b, "\"} ");
        abuf_num(b, ratio(&c.f[i]));
        abuf_str(b, "\n");
    }
    release(&c);
}

void admin_cache_status(struct abuf *b)
{
    struct collected c = collect();
    abuf_str(b, "\"caches\":[");
    for (uint32_t i = 0; i < c.n; i++) {
        const struct figures *f = &c.f[i];
        if (i)
            abuf_str(b, ",");
        abuf_str(b, "{\"route\":");
        abuf_json_str(b, f->name);
        abuf_printf(b, ",\"policy\":\"%s\"", f->policy);
        for (size_t k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
            /* weir_cache_<what>[_total] -> "<what>" */
            const char *nm = families[k].name + strlen("weir_cache_");
            size_t len = strlen(nm);
            if (len > 6 && strcmp(nm + len - 6, "_total") == 0)
                len -= 6;
            abuf_printf(b, ",\"%.*s\":", (int)len, nm);
            abuf_u64(b, *(const uint64_t *)(const void *)((const char *)f + families[k].off));
        }
        abuf_str(b, ",\"hit_ratio\":");
        abuf_num(b, ratio(f));
        abuf_str(b, "}");
    }
    struct cache_warm_progress w;
    cache_warm_progress(&w);
    abuf_printf(b, "],\"cache_warm\":{\"running\":%s,\"queued\":%llu,\"done\":%llu,"
                   "\"failed\":%llu,\"bytes\":%llu}",
                w.running ? "true" : "false", (unsigned long long)w.queued,
                (unsigned long long)w.done, (unsigned long long)w.failed,
                (unsigned long long)w.bytes);
    release(&c);
}

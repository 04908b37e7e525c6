/* waitroom_bench.c — what the waiting room costs per request, in pieces (ns per call), and the
 * memory of 1,000,000 waiting tickets. Single thread, uncontended locks: the floor.
 *
 *   cookie_check   find weir_wr_<room> among the Cookie fields + parse + HMAC-SHA256 verify:
 *                  what the first request with a given cookie value pays (the module then
 *                  remembers the verified value per worker: see cached_check)
 *   cached_check   find + a hit in the verified-value cache (wr_vcache): what an admitted
 *                  request within the touch interval pays for its cookie
 *   store_touch    the memory store's touch (lock + state machine): once per touch interval
 *   store_poll     the memory store's poll of a waiting ticket (lock + state machine)
 *   cookie_issue   HMAC-sign a new cookie (after each store call)
 *   arrive_1m      1,000,000 arrivals into one room: ns each, the room's heap and RSS growth
 *
 * Numbers mean something only in a release build without sanitizers.
 * Usage: waitroom_bench [iterations]   (default 1000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/h1_types.h"
#include "waitroom/wr_cookie.h"
#include "waitroom/wr_queue.h"
#include "waitroom/wr_store.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    static const uint8_t secret[] = "bench-secret-0123456789abcdef0123456789";
    struct wr_mac *k = wr_mac_new(secret, sizeof(secret) - 1);
    struct wr_mac_work *w = wr_mac_work_new();
    struct wr_cookie ck = {.admitted = true, .id = 123456, .slot = 42, .nonce = 0xdeadbeef,
                           .issued_ms = wall_ms(), .seen_ms = wall_ms()};
    char val[WR_COOKIE_MAX], hdr[512];
    size_t len = wr_cookie_encode(&ck, "concert", k, w, val);
    snprintf(hdr, sizeof(hdr), "_ga=GA1.2.3456; session=abcdef0123; weir_wr_concert=%s; theme=dark",
             val);
    struct h1_header h[3] = {
        {STR_LIT("Host"), STR_LIT("example.com")},
        {STR_LIT("Accept"), STR_LIT("text/html")},
        {STR_LIT("Cookie"), str_cstr(hdr)},
    };
    (void)len;

    double t0 = now_ns();
    long ok = 0;
    for (long i = 0; i < n; i++) {
        bool found;
        struct str v = wr_cookie_find(h, 3, STR_LIT("weir_wr_concert"), &found);
        struct wr_cookie out;
        ok += found && wr_cookie_decode(v, "concert", k, w, &out);
    }
    double t1 = now_ns();
    printf("cookie_check   %8.1f ns  (%ld ok)\n", (t1 - t0) / (double)n, ok);

    static struct wr_vcache vc;
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        bool found;
        struct str v = wr_cookie_find(h, 3, STR_LIT("weir_wr_concert"), &found);
        struct wr_cookie out;
        ok += found && wr_cookie_decode_cached(&vc, v, "concert", k, w, &out);
    }
    t1 = now_ns();
    printf("cached_check   %8.1f ns\n", (t1 - t0) / (double)n);

    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ck.seen_ms++;
        ok += wr_cookie_encode(&ck, "concert", k, w, val) > 0;
    }
    t1 = now_ns();
    printf("cookie_issue   %8.1f ns\n", (t1 - t0) / (double)n);

    const struct wr_store_ops *ops = &wr_store_memory;
    uint32_t nonce;
    void *room = ops->open("bench", &nonce);
    struct wr_params p = {.max_active = 1000000, .admit_per_minute = 1000000,
                          .window_ms = 60000, .session_ms = 300000, .abandon_ms = 3600000,
                          .mode = WR_FIFO};
    int64_t now = wall_ms();
    struct wr_result res;
    ops->arrive(room, &p, now, &res);
    uint64_t sid = res.id;
    uint32_t slot = res.slot;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        ops->touch(room, &p, sid, slot, now + i / 1000, &res);
    t1 = now_ns();
    printf("store_touch    %8.1f ns\n", (t1 - t0) / (double)n);

    /* a full room: the next arrival waits, and its polls stay waiting */
    p.max_active = 1;
    p.admit_per_minute = 1;
    ops->arrive(room, &p, now, &res);
    uint64_t ticket = res.id;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        ops->poll(room, &p, ticket, now + i / 1000, &res);
    t1 = now_ns();
    printf("store_poll     %8.1f ns  (%s)\n", (t1 - t0) / (double)n,
           res.v == WR_WAITING ? "waiting" : "?");
    ops->close(room);

    room = ops->open("bench1m", &nonce);
    long rss0 = rss_kib();
    t0 = now_ns();
    ops->arrive(room, &p, now, &res); /* the one admitted */
    for (long i = 0; i < 1000000; i++)
        ops->arrive(room, &p, now + 1, &res);
    t1 = now_ns();
    struct wr_stats st;
    ops->stats(room, &p, now + 2, &st);
    long rss1 = rss_kib();
    printf("arrive_1m      %8.1f ns each; %llu waiting; RSS +%.1f MiB\n", (t1 - t0) / 1e6,
           (unsigned long long)st.waiting, (double)(rss1 - rss0) / 1024.0);
    ops->close(room);
    wr_mac_work_free(w);
    wr_mac_free(k);
    return ok > 0 ? 0 : 1;
}

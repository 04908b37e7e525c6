/* audit.c — see audit.h. Shared state: the queue, the fd, the key and the chain's last MAC,
 * under `lock`; emitters hold it only to link a line in. The writer thread owns the MAC chain
 * computation and the writes. */
#include "security/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core/accesslog.h"
#include "core/config_types.h"
#include "core/log.h"
#include "pipeline/exchange.h"
#include "security/auth_common.h"
#include "security/mask.h"

#define MAC_HEX 64
#define LINE_MAX_BYTES 8192

struct qline {
    struct qline *next;
    size_t len;
    char body[];                 /* BODY (no closing brace, no newline) */
};

/* Where lines go and how they are chained. */
struct stream {
    int fd;
    uint8_t key[AUDIT_KEY_MAX];
    size_t keylen;
    char last[MAC_HEX + 1];      /* the chain's last MAC (hex) */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool running, stopping;
    atomic_bool enabled;
    char *path;
    /* cur is the writer's while it runs (it writes with the lock released); a reopen puts the
     * new stream in next, which the writer adopts between two lines, closing the old fd
     * itself: no fd is closed (and reused) under a write. */
    struct stream cur, next;
    bool has_next;
    struct qline *head, *tail;
    uint32_t queued;
    atomic_uint_fast64_t dropped;
    uint64_t dropped_noted;
} au = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .cur.fd = -1,
      .next.fd = -1};

/* The HMAC implementation, fetched once (a fetch per line would cost more than the MAC). */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;

static void hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* mac_hex = HMAC(key, prev_hex || body). */
static void chain_mac(const uint8_t *key, size_t keylen, const char *prev, const char *body,
                      size_t len, char mac_hex[MAC_HEX + 1])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *c = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (c && EVP_MAC_init(c, key, keylen, params) && EVP_MAC_update(c, (const uint8_t *)prev, MAC_HEX) &&
        EVP_MAC_update(c, (const uint8_t *)body, len) && EVP_MAC_final(c, mac, &outl, sizeof(mac)))
        ml = (unsigned)outl;
    EVP_MAC_CTX_free(c);
    if (ml != 32)
        memset(mac, 0, 32); /* cannot happen short of OpenSSL failing: an unverifiable line */
    auth_hex_encode(mac, 32, mac_hex);
}

/* Writer thread, lock held on entry; releases it around the write. */
static void write_line(const char *body, size_t len)
{
    char *line = malloc(len + MAC_HEX + 16);
    if (!line)
        return;
    char mac[MAC_HEX + 1];
    chain_mac(au.cur.key, au.cur.keylen, au.cur.last, body, len, mac);
    memcpy(au.cur.last, mac, sizeof(mac));
    memcpy(line, body, len);
    size_t n = len + (size_t)sprintf(line + len, ",\"mac\":\"%s\"}\n", mac);
    int fd = au.cur.fd;
    pthread_mutex_unlock(&au.lock);
    if (fd >= 0)
        accesslog_write_all(fd, line, n);
    free(line);
    pthread_mutex_lock(&au.lock);
}

static size_t format_body(char *out, size_t cap, const struct audit_event *e);

/* Lock held: the stream a reopen left in next becomes the current one. */
static void adopt_next(void)
{
    if (!au.has_next)
        return;
    if (au.cur.fd > 2)
        close(au.cur.fd);
    au.cur = au.next;
    OPENSSL_cleanse(&au.next, sizeof(au.next));
    au.next.fd = -1;
    au.has_next = false;
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&au.lock);
    for (;;) {
        while (!au.head && !au.stopping)
            pthread_cond_wait(&au.wake, &au.lock);
        adopt_next();
        if (!au.head && au.stopping)
            break;
        struct qline *q = au.head;
        au.head = q->next;
        if (!au.head)
            au.tail = NULL;
        au.queued--;
        write_line(q->body, q->len);
        free(q);
        uint64_t d = atomic_load(&au.dropped);
        if (d != au.dropped_noted) {
            char body[256], detail[64];
            snprintf(detail, sizeof(detail), "%llu lines dropped",
                     (unsigned long long)(d - au.dropped_noted));
            au.dropped_noted = d;
            size_t n = format_body(body, sizeof(body),
                                   &(struct audit_event){.event = "audit_dropped", .detail = detail});
            write_line(body, n);
        }
    }
    pthread_mutex_unlock(&au.lock);
    return NULL;
}

/* The MAC of the last line of the file at fd (to continue its chain), or false. */
static bool tail_mac(int fd, char mac[MAC_HEX + 1])
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        return false;
    char buf[LINE_MAX_BYTES];
    off_t off = st.st_size > (off_t)sizeof(buf) ? st.st_size - (off_t)sizeof(buf) : 0;
    ssize_t n = pread(fd, buf, sizeof(buf), off);
    if (n <= 0)
        return false;
    size_t end = (size_t)n;
    while (end && buf[end - 1] == '\n')
        end--;
    const char *tag = ",\"mac\":\"";
    if (end < MAC_HEX + 2 + strlen(tag))
        return false;
    const char *m = buf + end - 2 - MAC_HEX;
    if (memcmp(m - strlen(tag), tag, strlen(tag)) != 0)
        return false;
    memcpy(mac, m, MAC_HEX);
    mac[MAC_HEX] = '\0';
    return true;
}

int audit_read_key(const char *path, uint8_t key[AUDIT_KEY_MAX])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[2 * AUDIT_KEY_MAX + 4];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    int r = n && n % 2 == 0 && n / 2 <= AUDIT_KEY_MAX &&
                    auth_hex_decode(buf, n, key, n / 2) == 0
                ? (int)(n / 2)
                : -1;
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}

/* Creates key_file with 32 random bytes in hex, mode 0600 (never overwriting). */
static int make_key(const char *path, uint8_t *key)
{
    if (RAND_bytes(key, 32) != 1)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char h[65];
    auth_hex_encode(key, 32, h);
    h[64] = '\n';
    ssize_t w = write(fd, h, 65);
    OPENSSL_cleanse(h, sizeof(h));
    close(fd);
    return w == 65 ? 32 : -1;
}

int audit_open(const char *path, const char *key_file, const char **why)
{
    if (!path) {
        atomic_store(&au.enabled, false);
        return 0;
    }
    bool is_stderr = strcmp(path, "stderr") == 0;
    uint8_t key[AUDIT_KEY_MAX];
    int kl;
    char kpath[4096];
    if (key_file) {
        kl = audit_read_key(key_file, key);
        if (kl <= 0) {
            *why = "cannot read the key file (hex)";
            return -1;
        }
    } else if (is_stderr) {
        kl = RAND_bytes(key, 32) == 1 ? 32 : -1;
        log_warn("audit log on stderr without key_file: its MAC key lives only in this run");
    } else {
        snprintf(kpath, sizeof(kpath), "%s.key", path);
        kl = audit_read_key(kpath, key);
        if (kl <= 0 && access(kpath, F_OK) != 0)
            kl = make_key(kpath, key);
        if (kl <= 0) {
            *why = "cannot read or create the key file next to the log";
            return -1;
        }
    }
    pthread_mutex_lock(&au.lock);
    const struct stream *now = au.has_next ? &au.next : &au.cur;
    bool same = au.path && strcmp(au.path, path) == 0 && now->keylen == (size_t)kl &&
                CRYPTO_memcmp(now->key, key, (size_t)kl) == 0;
    if (!same) {
        int fd = is_stderr ? 2 : open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            pthread_mutex_unlock(&au.lock);
            *why = strerror(errno);
            return -1;
        }
        struct stream st = {.fd = fd, .keylen = (size_t)kl};
        memcpy(st.key, key, (size_t)kl);
        if (is_stderr || !tail_mac(fd, st.last))
            memset(st.last, '0', MAC_HEX);
        st.last[MAC_HEX] = '\0';
        free(au.path);
        au.path = strdup(path);
        if (au.has_next && au.next.fd > 2)
            close(au.next.fd); /* a reopen the writer never adopted */
        au.next = st;
        au.has_next = true;
        if (!au.running)
            adopt_next();
        OPENSSL_cleanse(&st, sizeof(st));
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (!au.running) {
        au.stopping = false;
        au.running = pthread_create(&au.thread, NULL, writer_main, NULL) == 0;
    }
    bool ok = au.running;
    pthread_mutex_unlock(&au.lock);
    atomic_store(&au.enabled, ok);
    if (!ok)
        *why = "cannot start the writer thread";
    return ok ? 0 : -1;
}

void audit_close(void)
{
    atomic_store(&au.enabled, false);
    pthread_mutex_lock(&au.lock);
    bool running = au.running;
    au.stopping = true;
    pthread_cond_signal(&au.wake);
    pthread_mutex_unlock(&au.lock);
    if (running)
        pthread_join(au.thread, NULL);
    pthread_mutex_lock(&au.lock);
    au.running = false;
    adopt_next();
    if (au.cur.fd > 2)
        close(au.cur.fd);
    OPENSSL_cleanse(&au.cur, sizeof(au.cur));
    au.cur.fd = -1;
    free(au.path);
    au.path = NULL;
    pthread_mutex_unlock(&au.lock);
}

static atomic_bool successes;

void audit_set_successes(bool on)
{
    atomic_store_explicit(&successes, on, memory_order_relaxed);
}

bool audit_successes(void)
{
    return atomic_load_explicit(&successes, memory_order_relaxed) && audit_enabled();
}

bool audit_enabled(void)
{
    return atomic_load_explicit(&au.enabled, memory_order_relaxed);
}

uint64_t audit_dropped(void)
{
    return atomic_load(&au.dropped);
}

/* ,"name":"value" with the value escaped and masked; returns bytes (0 when s is NULL). */
static size_t put_field(char *o, size_t room, const char *name, const char *s)
{
    if (!s)
        return 0;
    char masked[1024];
    size_t n = mask_text(s, strlen(s), masked, sizeof(masked));
    size_t need = strlen(name) + 6 + 6 * n;
    if (need > room)
        return 0;
    size_t k = (size_t)sprintf(o, ",\"%s\":\"", name);
    k += accesslog_json_escape(o + k, masked, n);
    o[k++] = '"';
    return k;
}

static size_t format_body(char *out, size_t cap, const struct audit_event *e)
{
    char ts[64];
    log_timestamp(ts);
    size_t o = (size_t)snprintf(out, cap, "{\"ts\":\"%s\"", ts);
    o += put_field(out + o, cap - o, "event", e->event);
    o += put_field(out + o, cap - o, "client", e->client);
    o += put_field(out + o, cap - o, "subject", e->subject);
    o += put_field(out + o, cap - o, "route", e->route);
    o += put_field(out + o, cap - o, "rule", e->rule);
    o += put_field(out + o, cap - o, "request_id", e->request_id);
    o += put_field(out + o, cap - o, "detail", e->detail);
    return o;
}

void audit_emit(const struct audit_event *e)
{
    if (!audit_enabled())
        return;
    struct qline *q = malloc(sizeof(*q) + LINE_MAX_BYTES);
    if (!q) {
        atomic_fetch_add(&au.dropped, 1);
        return;
    }
    q->next = NULL;
    q->len = format_body(q->body, LINE_MAX_BYTES, e);
    pthread_mutex_lock(&au.lock);
    if (au.queued >= AUDIT_MAX_QUEUED || !au.running) {
        pthread_mutex_unlock(&au.lock);
        free(q);
        atomic_fetch_add(&au.dropped, 1);
        return;
    }
    if (au.tail)
        au.tail->next = q;
    else
        au.head = q;
    au.tail = q;
    au.queued++;
    pthread_cond_signal(&au.wake);
    pthread_mutex_unlock(&au.lock);
}

void audit_emit_exchange(const struct exchange *x, const char *event, const char *rule,
                         const char *detail)
{
    if (!audit_enabled())
        return;
    char route[512] = "";
    if (x->route)
        snprintf(route, sizeof(route), "%s%s", x->route->host ? x->route->host : "",
                 x->route->path ? x->route->path : "");
    audit_emit(&(struct audit_event){.event = event, .client = x->client_ip,
                                     .subject = x->client_id, .route = route, .rule = rule,
                                     .request_id = x->request_id, .detail = detail});
}

long audit_verify(const char *path, const uint8_t *key, size_t keylen, FILE *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(out, "%s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    char prev[MAC_HEX + 1], mac[MAC_HEX + 1];
    memset(prev, '0', MAC_HEX);
    prev[MAC_HEX] = '\0';
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long no = 0, bad = 0;
    const char *tag = ",\"mac\":\"";
    size_t tl = strlen(tag);
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        size_t len = (size_t)n;
        if (line[len - 1] != '\n') {
            bad = no;
            break;
        }
        len--;
        if (len < tl + MAC_HEX + 2 || memcmp(line + len - 2 - MAC_HEX - tl, tag, tl) != 0 ||
            memcmp(line + len - 2, "\"}", 2) != 0) {
            bad = no;
            break;
        }
        size_t blen = len - 2 - MAC_HEX - tl;
        chain_mac(key, keylen, prev, line, blen, mac);
        if (CRYPTO_memcmp(mac, line + blen + tl, MAC_HEX) != 0) {
            bad = no;
            break;
        }
        memcpy(prev, mac, sizeof(prev));
    }
    free(line);
    fclose(f);
    if (bad)
        fprintf(out, "%s:%ld: the chain breaks here (line edited, inserted, removed or "
                     "reordered, or a different key)\n", path, bad);
    else
        fprintf(out, "%s: %ld lines, chain intact\n", path, no);
    return bad;
}

int audit_main(int argc, char **argv)
{
    const char *file = NULL, *keyf = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            keyf = argv[++i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            file = NULL, i = argc;
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0 || !file) {
        fprintf(stderr, "usage: weir audit verify FILE [--key KEYFILE]  (default key: FILE.key)\n");
        return 2;
    }
    char kpath[4096];
    if (!keyf) {
        snprintf(kpath, sizeof(kpath), "%s.key", file);
        keyf = kpath;
    }
    uint8_t key[AUDIT_KEY_MAX];
    int kl = audit_read_key(keyf, key);
    if (kl <= 0) {
        fprintf(stderr, "weir audit: cannot read key file %s (hex)\n", keyf);
        return 2;
    }
    long r = audit_verify(file, key, (size_t)kl, stdout);
    OPENSSL_cleanse(key, sizeof(key));
    return r == 0 ? 0 : 1;
}

/* sec_kv.c — see sec_kv.h. The store is a pipeline_shared object under a fixed key; the admin
 * API reaches it through g_kv under g_lock (set by init, cleared by fini). */
#include "security/sec_kv.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "event/loop.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "security/audit.h"

#define SEC_KV_MAX_KEYS 100000
#define SEC_KEY_MAX 320

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sec_kv *g_kv;

static int kv_init(void *obj, const void *key)
{
    (void)key;
    struct sec_kv *s = obj;
    s->ops = &kv_redis; /* the memory store, shared through Redis when a thread has it */
    s->st = s->ops->open(SEC_KV_MAX_KEYS);
    if (!s->st)
        return -1;
    pthread_mutex_lock(&g_lock);
    g_kv = s;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static void kv_fini(void *obj)
{
    struct sec_kv *s = obj;
    pthread_mutex_lock(&g_lock);
    if (g_kv == s)
        g_kv = NULL;
    pthread_mutex_unlock(&g_lock);
    s->ops->close(s->st);
}

static const struct pipeline_shared_type kv_type = {
    .name = "security_kv", .size = sizeof(struct sec_kv), .init = kv_init, .fini = kv_fini};

struct sec_kv *sec_kv_get(void)
{
    return pipeline_shared_get(&kv_type, &kv_type);
}

void sec_kv_put(struct sec_kv *s)
{
    if (s)
        pipeline_shared_put(s);
}

static void check_done(struct kv_call *call)
{
    struct sec_kv_wait *w =
        (struct sec_kv_wait *)(void *)((char *)call - offsetof(struct sec_kv_wait, call));
    w->answered = true;
    if (!w->in_call)
        pipeline_resume(w->x);
}

bool sec_kv_check(struct sec_kv *s, struct sec_kv_wait *w, struct exchange *x, struct str key,
                  uint64_t now_ms)
{
    w->x = x;
    w->answered = false;
    w->call = (struct kv_call){.key = key, .now_ms = now_ms, .done = check_done};
    w->in_call = true;
    kv_call_check(s->ops, s->st, &w->call);
    w->in_call = false;
    return w->answered;
}

void sec_kv_cancel(struct sec_kv *s, struct sec_kv_wait *w)
{
    if (s)
        kv_call_cancel(s->ops, s->st, &w->call);
}

size_t sec_kv_key(char *out, size_t cap, const struct str *parts, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && cap; i++) {
        if (i && o + 1 < cap)
            out[o++] = '|';
        size_t k = parts[i].len < cap - 1 - o ? parts[i].len : cap - 1 - o;
        memcpy(out + o, parts[i].ptr, k);
        o += k;
    }
    if (cap)
        out[o] = '\0';
    return o;
}

struct list_out {
    char *out;
    size_t cap, len;
    uint64_t now;
};

static void list_one(void *arg, struct str key, uint64_t until, uint32_t strikes)
{
    struct list_out *o = arg;
    char tmp[SEC_KEY_MAX * 6 + 96];
    size_t k = (size_t)snprintf(tmp, sizeof(tmp), "%s{\"key\":\"", o->len > 1 ? "," : "");
    for (size_t i = 0; i < key.len && k < sizeof(tmp) - 80; i++) {
        unsigned char ch = (unsigned char)key.ptr[i];
        if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
            k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "\\u%04x", ch);
        else
            tmp[k++] = (char)ch;
    }
    k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "\",\"retry_after_s\":%llu,\"strikes\":%u}",
                          (unsigned long long)((until - o->now + 999) / 1000), strikes);
    if (o->len + k < o->cap)
        memcpy(o->out + o->len, tmp, k);
    o->len += k;
}

size_t sec_kv_admin_list(struct str prefix, char *out, size_t cap)
{
    struct list_out o = {.out = out, .cap = cap, .len = 1, .now = ev_clock_us() / 1000};
    if (cap)
        out[0] = '[';
    pthread_mutex_lock(&g_lock);
    if (g_kv)
        g_kv->ops->list(g_kv->st, prefix, o.now, list_one, &o);
    pthread_mutex_unlock(&g_lock);
    if (o.len + 1 < cap) {
        out[o.len] = ']';
        out[o.len + 1] = '\0';
    }
    return o.len + 2;
}

size_t sec_kv_admin_unlock(struct str key)
{
    size_t n = 0;
    pthread_mutex_lock(&g_lock);
    if (g_kv && key.len && key.ptr[key.len - 1] == '*')
        n = g_kv->ops->unlock_prefix(g_kv->st, str_from(key.ptr, key.len - 1));
    else if (g_kv && key.len)
        n = g_kv->ops->unlock(g_kv->st, key) ? 1 : 0;
    pthread_mutex_unlock(&g_lock);
    if (n) {
        char d[SEC_KEY_MAX + 32];
        snprintf(d, sizeof(d), "%.*s (%zu keys)", (int)(key.len > 256 ? 256 : key.len), key.ptr, n);
        audit_emit(&(struct audit_event){.event = "unlock", .rule = "admin", .detail = d});
    }
    return n;
}

/* sec_kv.c — see sec_kv.h. The store is a pipeline_shared object under a fixed key; the admin
 * API reaches it through g_kv under g_lock (set by init, cleared by fini). */
#include "security/sec_kv.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/loop.h"
#include "pipeline/runner.h"
#include "pipeline/shared.h"
#include "security/audit.h"
#include "state/kv_scan.h"

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
    bool grow;               /* out is malloc'd and grows (the shared view) */
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
    if (o->grow && o->len + k + 2 > o->cap) {
        size_t cap = (o->len + k + 2) * 2;
        char *n = realloc(o->out, cap);
        if (!n)
            return; /* out of memory: this entry is left out */
        o->out = n;
        o->cap = cap;
    }
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

static void unlocked_event(struct str key, size_t n)
{
    char d[SEC_KEY_MAX + 32];
    snprintf(d, sizeof(d), "%.*s (%zu keys)", (int)(key.len > 256 ? 256 : key.len), key.ptr, n);
    audit_emit(&(struct audit_event){.event = "unlock", .rule = "admin", .detail = d});
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
    if (n)
        unlocked_event(key, n);
    return n;
}

/* ---- the shared view (Redis, the admin thread) ------------------------------------------ */

struct sec_kv_op {
    struct kv_scan *scan;
    struct list_out list;
    bool unlock;
    size_t unlocked, local;  /* unlocking: locks deleted in Redis, in the local view */
    char what[SEC_KEY_MAX];  /* the key or "<prefix>*" (the audit event) */
    sec_kv_op_fn done;
    void *arg;
};

static void shared_one(void *arg, struct str key, uint64_t left_ms, uint32_t strikes)
{
    struct sec_kv_op *op = arg;
    if (op->unlock)
        op->unlocked++;
    else
        list_one(&op->list, key, op->list.now + left_ms, strikes);
}

static void shared_done(void *arg, bool complete)
{
    struct sec_kv_op *op = arg;
    char small[40];
    const char *body = small;
    size_t len = 0;
    if (op->unlock) {
        size_t n = op->unlocked > op->local ? op->unlocked : op->local;
        if (n)
            unlocked_event(str_cstr(op->what), n);
        len = (size_t)snprintf(small, sizeof(small), "{\"unlocked\":%zu}", n);
    } else if (!complete) { /* Redis stopped answering: this instance's own view */
        op->list.len = 1;
        pthread_mutex_lock(&g_lock);
        if (g_kv)
            g_kv->ops->list(g_kv->st, str_cstr(op->what), op->list.now, list_one, &op->list);
        pthread_mutex_unlock(&g_lock);
    }
    if (!op->unlock) { /* list_one keeps room for the ']' */
        op->list.out[op->list.len] = ']';
        body = op->list.out;
        len = op->list.len + 1;
    }
    op->done(op->arg, body, len);
    free(op->list.out);
    free(op);
}

struct sec_kv_op *sec_kv_admin_shared(struct str key, bool unlock, sec_kv_op_fn done, void *arg)
{
    struct sec_kv_op *op = calloc(1, sizeof(*op));
    if (!op || key.len >= sizeof(op->what)) {
        free(op);
        return NULL;
    }
    *op = (struct sec_kv_op){.unlock = unlock, .done = done, .arg = arg,
                             .list = {.len = 1, .cap = 256, .now = ev_clock_us() / 1000,
                                      .grow = true}};
    memcpy(op->what, key.ptr, key.len);
    bool is_prefix = !unlock || (key.len && key.ptr[key.len - 1] == '*');
    struct str k = unlock && is_prefix ? str_from(key.ptr, key.len - 1) : key;
    op->list.out = unlock ? NULL : malloc(op->list.cap);
    if (!unlock && !op->list.out) {
        free(op);
        return NULL;
    }
    if (op->list.out)
        op->list.out[0] = '[';
    op->scan = kv_scan_start(k, is_prefix, unlock, shared_one, shared_done, op);
    if (!op->scan) {
        free(op->list.out);
        free(op);
        return NULL;
    }
    if (unlock) { /* this instance's own view too (its next answers come from it) */
        pthread_mutex_lock(&g_lock);
        if (g_kv)
            op->local = is_prefix ? g_kv->ops->unlock_prefix(g_kv->st, k)
                                  : g_kv->ops->unlock(g_kv->st, k);
        pthread_mutex_unlock(&g_lock);
    }
    return op;
}

void sec_kv_op_cancel(struct sec_kv_op *op)
{
    if (!op)
        return;
    kv_scan_cancel(op->scan);
    free(op->list.out);
    free(op);
}

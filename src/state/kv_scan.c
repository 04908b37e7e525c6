/* kv_scan.c — see kv_scan.h. Keys are kv_redis.c's: a lock "{<prefix>:kv:<key>}", a counter
 * kept apart from its lock "{<prefix>:kv:<lock key>}<rest>" (listed by nobody, deleted with its
 * lock by an unlock of the prefix). */
#include "state/kv_scan.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/redis_conn.h"
#include "state/redis_script.h"

#define SCAN_MATCH_MAX 1200
#define SCAN_COUNT "256"

struct kv_scan;

struct scan_item {
    struct kv_scan *s;
    struct redis_req *req;
    const char *key;         /* the kv key, inside the SCAN reply's copy */
    size_t len;
};

struct kv_scan {
    struct redis_conn *c;
    char match[SCAN_MATCH_MAX], head[SCAN_MATCH_MAX / 2];
    size_t match_len, head_len; /* head: "{<prefix>:kv:", as keys start */
    bool unlock, failed, last;
    kv_scan_fn fn;
    kv_scan_done_fn done;
    void *arg;
    char cursor[24];
    struct redis_req *scan_req;
    struct scan_item *items;
    char *keys;              /* the batch's keys, copied out of the reply */
    uint32_t nitems, pending, seen;
};

static void next_scan(struct kv_scan *s);

static void drop_batch(struct kv_scan *s)
{
    for (uint32_t i = 0; i < s->nitems; i++)
        redis_req_cancel(s->items[i].req);
    free(s->items);
    free(s->keys);
    s->items = NULL;
    s->keys = NULL;
    s->nitems = s->pending = 0;
}

static void finish(struct kv_scan *s)
{
    drop_batch(s);
    s->done(s->arg, !s->failed && s->last);
    free(s);
}

/* What one key's script answered: a lock listed, or a lock deleted. */
static void item_answer(struct kv_scan *s, const struct scan_item *it, const redisReply *r)
{
    struct str key = str_from(it->key, it->len);
    if (s->unlock) {
        if (it->key && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
            s->fn(s->arg, key, 0, 0);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER &&
        r->element[0]->integer > 0)
        s->fn(s->arg, key, (uint64_t)r->element[0]->integer, (uint32_t)r->element[1]->integer);
}

static void item_reply(void *arg, const redisReply *r)
{
    struct scan_item *it = arg;
    struct kv_scan *s = it->s;
    it->req = NULL;
    if (r)
        item_answer(s, it, r);
    else
        s->failed = true;
    if (--s->pending)
        return;
    drop_batch(s);
    if (s->failed || s->last || s->seen >= KV_SCAN_MAX_KEYS)
        finish(s);
    else
        next_scan(s);
}

/* A lock key: "{<prefix>:kv:<key>}" (a counter apart has bytes after its tag's brace). */
static bool lock_key(const struct kv_scan *s, const char *k, size_t n)
{
    return n > s->head_len && memcmp(k, s->head, s->head_len) == 0 && k[n - 1] == '}';
}

static void scan_reply(void *arg, const redisReply *r)
{
    struct kv_scan *s = arg;
    s->scan_req = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(s->cursor) ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        s->failed = true;
        return finish(s);
    }
    memcpy(s->cursor, r->element[0]->str, r->element[0]->len);
    s->cursor[r->element[0]->len] = '\0';
    s->last = strcmp(s->cursor, "0") == 0;
    const redisReply *ks = r->element[1];
    size_t bytes = 0;
    for (size_t i = 0; i < ks->elements; i++)
        bytes += ks->element[i]->type == REDIS_REPLY_STRING ? ks->element[i]->len : 0;
    s->items = ks->elements ? calloc(ks->elements, sizeof(*s->items)) : NULL;
    s->keys = ks->elements ? malloc(bytes + 1) : NULL;
    if (ks->elements && (!s->items || !s->keys)) {
        s->failed = true;
        return finish(s);
    }
    s->seen += (uint32_t)ks->elements;
    size_t off = 0;
    /* every request first, then the answers: none comes before this returns */
    for (size_t i = 0; i < ks->elements; i++) {
        const redisReply *k = ks->element[i];
        if (k->type != REDIS_REPLY_STRING || (!s->unlock && !lock_key(s, k->str, k->len)))
            continue;
        const char *argv[1] = {k->str};
        size_t lens[1] = {k->len};
        struct scan_item *it = &s->items[s->nitems];
        *it = (struct scan_item){.s = s};
        if (lock_key(s, k->str, k->len)) { /* the kv key: between the head and the brace */
            it->len = k->len - s->head_len - 1;
            memcpy(s->keys + off, k->str + s->head_len, it->len);
            it->key = s->keys + off;
            off += it->len;
        }
        it->req = redis_conn_eval(s->c, s->unlock ? REDIS_SCRIPT_KV_UNLOCK : REDIS_SCRIPT_KV_CHECK,
                                  1, 1, argv, lens, item_reply, it);
        if (!it->req) {
            s->failed = true;
            break;
        }
        s->nitems++;
        s->pending++;
    }
    if (s->pending)
        return;
    drop_batch(s);
    if (s->failed || s->last || s->seen >= KV_SCAN_MAX_KEYS)
        return finish(s);
    next_scan(s);
}

static bool send_scan(struct kv_scan *s)
{
    const char *argv[6] = {"SCAN", s->cursor, "MATCH", s->match, "COUNT", SCAN_COUNT};
    size_t lens[6] = {4, strlen(s->cursor), 5, s->match_len, 5, strlen(SCAN_COUNT)};
    s->scan_req = redis_conn_command(s->c, 6, argv, lens, scan_reply, s);
    return s->scan_req != NULL;
}

static void next_scan(struct kv_scan *s)
{
    if (!send_scan(s)) {
        s->failed = true;
        finish(s);
    }
}

/* Appends p's bytes to the MATCH pattern with the glob characters escaped. */
static void match_add(struct kv_scan *s, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] && strchr("*?[]\\", p[i]))
            s->match[s->match_len++] = '\\';
        s->match[s->match_len++] = p[i];
    }
}

/* Unlocking one key: one KV_UNLOCK, the walk's last step. */
static bool unlock_one(struct kv_scan *s, struct str key)
{
    char k[SCAN_MATCH_MAX / 2];
    size_t kl = redis_key(k, sizeof(k), redis_conn_cfg(s->c)->prefix, "kv", key.ptr, key.len);
    s->items = calloc(1, sizeof(*s->items));
    s->keys = malloc(key.len + 1);
    if (!kl || !s->items || !s->keys)
        return false;
    memcpy(s->keys, key.ptr, key.len);
    s->items[0] = (struct scan_item){.s = s, .key = s->keys, .len = key.len};
    const char *argv[1] = {k};
    s->items[0].req = redis_conn_eval(s->c, REDIS_SCRIPT_KV_UNLOCK, 1, 1, argv, &kl, item_reply,
                                      &s->items[0]);
    s->nitems = s->pending = s->items[0].req ? 1 : 0;
    s->last = true;
    return s->pending;
}

struct kv_scan *kv_scan_start(struct str prefix, bool is_prefix, bool unlock, kv_scan_fn fn,
                              kv_scan_done_fn done, void *arg)
{
    struct redis_conn *c = redis_conn_here();
    if (!c || !redis_conn_ready(c))
        return NULL;
    const char *p = redis_conn_cfg(c)->prefix;
    struct kv_scan *s = calloc(1, sizeof(*s));
    if (!s || 2 * (strlen(p) + prefix.len) + 8 > sizeof(s->head)) {
        free(s);
        return NULL;
    }
    *s = (struct kv_scan){.c = c, .unlock = unlock, .fn = fn, .done = done, .arg = arg,
                          .cursor = "0"};
    if (unlock && !is_prefix) {
        if (unlock_one(s, prefix))
            return s;
        drop_batch(s);
        free(s);
        return NULL;
    }
    s->head_len = (size_t)snprintf(s->head, sizeof(s->head), "{%s:kv:", p);
    match_add(s, s->head, s->head_len);
    match_add(s, prefix.ptr, prefix.len);
    s->match[s->match_len++] = '*';
    if (!send_scan(s)) {
        free(s);
        return NULL;
    }
    return s;
}

void kv_scan_cancel(struct kv_scan *s)
{
    if (!s)
        return;
    redis_req_cancel(s->scan_req);
    drop_batch(s);
    free(s);
}

/* revocation_sync.c — see revocation_sync.h. */
#include "security/revocation_sync.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/redis_conn.h"
#include "state/redis_script.h"
#include "state/state_events.h"

#define KEY_MAX 128

static size_t list_key(struct redis_conn *c, char *out)
{
    return redis_key(out, KEY_MAX, redis_conn_cfg(c)->prefix, "revoked", "list", 4);
}

/* "j:<value>" / "s:<value>" */
static size_t member(enum revocation_kind kind, struct str value, char *out)
{
    out[0] = kind == REVOKE_JTI ? 'j' : 's';
    out[1] = ':';
    memcpy(out + 2, value.ptr, value.len);
    return value.len + 2;
}

void revocation_sync_publish(enum revocation_kind kind, struct str value, int64_t until_s)
{
    struct redis_conn *c = redis_conn_here();
    char key[KEY_MAX], m[REVOCATION_VALUE_MAX + 2], until[24];
    if (!c || value.len > REVOCATION_VALUE_MAX || !list_key(c, key))
        return;
    const char *argv[3] = {key, m, until};
    size_t lens[3] = {strlen(key), member(kind, value, m),
                      (size_t)snprintf(until, sizeof(until), "%" PRId64, until_s)};
    redis_conn_eval_forget(c, REDIS_SCRIPT_REVOKE_ADD, 1, 3, argv, lens);
    /* the event: "<until> <member>" */
    char ev[24 + REVOCATION_VALUE_MAX + 2];
    int n = snprintf(ev, sizeof(ev), "%" PRId64 " ", until_s);
    memcpy(ev + n, m, lens[1]);
    state_event_publish(STATE_EV_REVOKE, ev, (size_t)n + lens[1]);
}

/* "j:<value>" with its time: into the local list (an add of a known entry only moves its time
 * to the same value). */
static void apply(const char *m, size_t len, int64_t until_s)
{
    if (len < 3 || (m[0] != 'j' && m[0] != 's') || m[1] != ':')
        return;
    int64_t now = (int64_t)time(NULL);
    if (until_s > now)
        revocation_add(m[0] == 'j' ? REVOKE_JTI : REVOKE_SUB, str_from(m + 2, len - 2), until_s,
                       now);
}

void revocation_sync_event(const char *payload, size_t len)
{
    char num[24];
    const char *sp = memchr(payload, ' ', len);
    if (!sp || (size_t)(sp - payload) >= sizeof(num))
        return;
    memcpy(num, payload, (size_t)(sp - payload));
    num[sp - payload] = '\0';
    char *end;
    long long until = strtoll(num, &end, 10);
    if (*end)
        return;
    apply(sp + 1, len - (size_t)(sp + 1 - payload), until);
}

static void listed(void *arg, const redisReply *r)
{
    (void)arg;
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *t = r->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || t->type != REDIS_REPLY_STRING)
            continue;
        apply(m->str, m->len, strtoll(t->str, NULL, 10));
    }
}

void revocation_sync_refresh(void)
{
    struct redis_conn *c = redis_conn_here();
    char key[KEY_MAX];
    if (!c || !redis_conn_ready(c) || !list_key(c, key))
        return;
    const char *argv[1] = {key};
    size_t lens[1] = {strlen(key)};
    redis_conn_eval(c, REDIS_SCRIPT_REVOKE_LIST, 1, 1, argv, lens, listed, NULL);
}

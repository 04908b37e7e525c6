/* idempotency.c — requests carrying an Idempotency-Key on a route that enables it.
 *
 * The record key is (key, method, target, client address); the body is hashed. The first
 * request claims the record and runs; its response, as sent to the client (final head without
 * its Connection field, then the body), is stored when complete and small enough. A repeat
 * gets that response byte for byte with `Idempotent-Replayed: true` added after the status
 * line; a repeat arriving while the first runs waits up to `wait` (polling the store, which may
 * be shared with other instances), then gets 409; a repeat with another body gets 422. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance/hash.h"
#include "proxy/client.h"
#include "proxy/exchange.h"
#include "proxy/worker.h"

#define IDEM_POLL_MS 20

static const struct store_ops *ops_of(const struct client *c)
{
    return c->x->rs->store_ops;
}

/* Sends a stored response with the replay marker after its status line. */
static void replay(struct client *c, const char *resp, size_t len)
{
    static const char mark[] = "Idempotent-Replayed: true\r\n";
    const char *eol = memchr(resp, '\n', len);
    if (!eol) {
        client_reply(c, 502, "the stored response is damaged", false);
        return;
    }
    size_t first = (size_t)(eol - resp) + 1;
    size_t total = len + sizeof(mark) - 1;
    char *out = malloc(total);
    if (!out) {
        client_reply(c, 503, "out of memory", false);
        return;
    }
    memcpy(out, resp, first);
    memcpy(out + first, mark, sizeof(mark) - 1);
    memcpy(out + first + sizeof(mark) - 1, resp + first, len - first);
    int status = 0;
    if (first > 12)
        status = atoi(resp + 9);
    client_send_buffer(c, out, (uint32_t)total, status);
}

static uint64_t body_hash(const struct client *c)
{
    return c->x->body ? lb_hash64(c->x->body, c->x->body_len, 0x1de4) : 0;
}

/* One look at the record; returns true when the exchange proceeds to its attempts. */
static bool look(struct client *c)
{
    const struct cfg_idempotency *cfg = &c->x->route->idempotency;
    char *resp = NULL;
    size_t len = 0;
    enum store_begin r = ops_of(c)->begin(c->x->rs->store, str_from(c->x->idem_key, c->x->idem_key_len),
                                          c->x->idem_body_hash, c->w->loop.now_ms, cfg->ttl_ms,
                                          &resp, &len);
    switch (r) {
    case STORE_NEW:
        c->x->idem_owner = true;
        c->x->idem_waiting = false;
        return true;
    case STORE_DONE:
        c->x->idem_waiting = false;
        replay(c, resp, len);
        free(resp);
        return false;
    case STORE_INFLIGHT:
        if (!c->x->idem_waiting) {
            c->x->idem_waiting = true;
            c->x->admit_deadline_ms = c->w->loop.now_ms + cfg->wait_ms;
        } else if (c->w->loop.now_ms >= c->x->admit_deadline_ms) {
            c->x->idem_waiting = false;
            timer_disarm(&c->w->loop.timers, &c->x->total_timer);
            client_reply(c, 409, "a request with this Idempotency-Key is still in progress",
                         false);
            return false;
        }
        c->state = CS_ADMIT;
        timer_arm(&c->w->loop.timers, &c->timer, c->w->loop.now_ms + IDEM_POLL_MS);
        return false;
    case STORE_MISMATCH:
        c->x->idem_waiting = false;
        timer_disarm(&c->w->loop.timers, &c->x->total_timer);
        client_reply(c, 422, "this Idempotency-Key was used with a different request", false);
        return false;
    case STORE_ERROR:
        break;
    }
    c->x->idem_waiting = false;
    timer_disarm(&c->w->loop.timers, &c->x->total_timer);
    client_reply(c, 503, "the idempotency store is full or unavailable", false);
    return false;
}

bool idempotency_begin(struct client *c)
{
    c->x->idem_body_hash = body_hash(c);
    return look(c);
}

void idempotency_poll(struct client *c)
{
    if (look(c))
        admission_continue(c);
}

void idempotency_capture(struct client *c, const char *p, size_t n)
{
    if (!c->x->idem_owner || c->x->capture_overflow || !n)
        return;
    uint64_t max = c->x->route->idempotency.max_body;
    if ((uint64_t)c->x->capture_len + n > max) {
        c->x->capture_overflow = true;
        return;
    }
    if (c->x->capture_len + n > c->x->capture_cap) {
        uint32_t cap = c->x->capture_cap ? c->x->capture_cap : 4096;
        while (cap < c->x->capture_len + n)
            cap *= 2;
        char *nb = realloc(c->x->capture, cap);
        if (!nb) {
            c->x->capture_overflow = true;
            return;
        }
        c->x->capture = nb;
        c->x->capture_cap = cap;
    }
    memcpy(c->x->capture + c->x->capture_len, p, n);
    c->x->capture_len += (uint32_t)n;
}

void idempotency_end(struct client *c, bool ok)
{
    if (c->x->idem_owner) {
        struct str key = str_from(c->x->idem_key, c->x->idem_key_len);
        if (ok && !c->x->capture_overflow && c->x->capture_len)
            ops_of(c)->complete(c->x->rs->store, key, c->x->capture, c->x->capture_len, c->w->loop.now_ms);
        else
            ops_of(c)->abort(c->x->rs->store, key);
        c->x->idem_owner = false;
    }
    free(c->x->capture);
    c->x->capture = NULL;
    c->x->capture_len = c->x->capture_cap = 0;
    c->x->capture_overflow = false;
}

/* ratelimit.c — see ratelimit.h.
 *
 * GCRA. Times are microseconds. T = period / rate is the emission interval, tau = T * burst the
 * tolerance. A key's state is one number, its theoretical arrival time (TAT): a request at `now`
 * is allowed iff now >= TAT - tau, and then TAT becomes max(now, TAT) + T. A refused request
 * leaves TAT alone (refusals cost the client nothing, so retrying later always works). An entry
 * whose TAT is <= now is indistinguishable from a fresh key, which is what makes expired entries
 * free to drop.
 *
 * Shared state and locking: the parameters are immutable after ratelimit_new. The keys live in
 * `nstripes` stripes (a power of two, at most 64, fewer when max_keys is small so that each
 * stripe holds at least 16 entries; below 32 keys there is one stripe and the LRU is exact),
 * chosen by the top bits of the key's hash; each stripe has its own mutex and is touched only
 * under it. One check takes one stripe lock, for O(1) expected work, except when an insert
 * finds the stripe full and some entry may have expired: then it sweeps the stripe (O(stripe
 * capacity)) and drops every expired entry at once. A per-stripe lower bound on the entries'
 * TATs (TATs only grow) skips sweeps that cannot find anything, so a flood of new keys mostly
 * evicts the recency list's tail in O(1).
 *
 * Memory: at most max_keys entries in all (the stripes' capacities are max_keys split as evenly
 * as possible, so they sum to max_keys exactly; max_keys 0 means 100000), allocated up front (~100 bytes per key plus a uint32 slot
 * array at load <= 1/2); large arrays come from the kernel as untouched pages, and the dense
 * entry array is touched only as keys arrive.
 *
 * Keys: at most RL_KEY_MAX bytes take part (longer keys are truncated, for the hash and the
 * comparison alike, so two keys equal in their first 64 bytes are one key). Client IPs and
 * sane header values are far shorter. The hash is SipHash-1-3 under a random per-limiter key,
 * so a client choosing keys cannot predict which stripe or slot they land in. */
#include "resilience/ratelimit.h"

#include "core/siphash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RL_KEY_MAX 64
#define RL_STRIPES_MAX 64
#define RL_STRIPE_MIN 16 /* entries */
#define RL_NONE UINT32_MAX
#define RL_DEFAULT_MAX_KEYS 100000u
#define RL_DEFAULT_PERIOD_MS 1000u

struct rl_entry {
    uint64_t hash;
    uint64_t tat;        /* theoretical arrival time, us */
    uint32_t prev, next; /* recency list (indices); head = most recently seen */
    uint8_t klen;
    char key[RL_KEY_MAX];
};

struct rl_stripe {
    pthread_mutex_t lock;
    struct rl_entry *entries; /* dense: [0, n) are live */
    uint32_t *slots;          /* linear probing: entry index + 1, 0 = empty; load <= 1/2 */
    uint32_t mask;            /* number of slots - 1 */
    uint32_t n, cap;
    uint32_t head, tail;      /* recency list ends, RL_NONE when empty */
    uint64_t min_tat;         /* no entry's TAT is below this (UINT64_MAX when empty) */
};

struct ratelimiter {
    uint64_t t_us;   /* emission interval, >= 1 */
    uint64_t tau_us; /* tolerance = t_us * burst, saturated */
    uint32_t limit;
    uint32_t window_s;
    uint64_t k0, k1; /* SipHash key */
    uint32_t nstripes;
    unsigned stripe_shift; /* hash >> stripe_shift picks the stripe; 64 when nstripes == 1 */
    struct rl_stripe *stripes;
};

/* ---- arithmetic helpers ---------------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t sat32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint64_t ceil_s(uint64_t us)
{
    return us / 1000000u + (us % 1000000u != 0);
}

static uint64_t rl_hash(const struct ratelimiter *rl, const unsigned char *p, size_t len)
{
    return siphash13(p, len, rl->k0, rl->k1);
}

/* ---- one stripe: hash table + recency list, caller holds the lock ---------------------- */

static uint32_t *slot_of_index(struct rl_stripe *st, uint32_t idx)
{
    uint32_t s = (uint32_t)st->entries[idx].hash & st->mask;
    while (st->slots[s] != idx + 1)
        s = (s + 1) & st->mask;
    return &st->slots[s];
}

static uint32_t find(struct rl_stripe *st, uint64_t hash, const char *key, uint8_t klen)
{
    for (uint32_t s = (uint32_t)hash & st->mask; st->slots[s]; s = (s + 1) & st->mask) {
        struct rl_entry *e = &st->entries[st->slots[s] - 1];
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return st->slots[s] - 1;
    }
    return RL_NONE;
}

static void lru_unlink(struct rl_stripe *st, uint32_t i)
{
    struct rl_entry *e = &st->entries[i];
    if (e->prev != RL_NONE)
        st->entries[e->prev].next = e->next;
    else
        st->head = e->next;
    if (e->next != RL_NONE)
        st->entries[e->next].prev = e->prev;
    else
        st->tail = e->prev;
}

static void lru_push_front(struct rl_stripe *st, uint32_t i)
{
    struct rl_entry *e = &st->entries[i];
    e->prev = RL_NONE;
    e->next = st->head;
    if (st->head != RL_NONE)
        st->entries[st->head].prev = i;
    else
        st->tail = i;
    st->head = i;
}

/* Drops entry i: backward-shift deletion in the slots (no tombstones), then the last entry moves
 * into the hole so [0, n) stays dense. */
static void remove_entry(struct rl_stripe *st, uint32_t i)
{
    uint32_t hole = (uint32_t)(slot_of_index(st, i) - st->slots);
    st->slots[hole] = 0;
    for (uint32_t j = (hole + 1) & st->mask; st->slots[j]; j = (j + 1) & st->mask) {
        uint32_t home = (uint32_t)st->entries[st->slots[j] - 1].hash & st->mask;
        /* The entry at j may fill the hole iff the hole lies on its probe path home..j. */
        if (((j - home) & st->mask) >= ((j - hole) & st->mask)) {
            st->slots[hole] = st->slots[j];
            st->slots[j] = 0;
            hole = j;
        }
    }
    lru_unlink(st, i);

    uint32_t last = st->n - 1;
    if (i != last) {
        *slot_of_index(st, last) = i + 1;
        st->entries[i] = st->entries[last];
        struct rl_entry *e = &st->entries[i];
        if (e->prev != RL_NONE)
            st->entries[e->prev].next = i;
        else
            st->head = i;
        if (e->next != RL_NONE)
            st->entries[e->next].prev = i;
        else
            st->tail = i;
    }
    st->n--;
}

/* Called when the stripe is full: drops every expired entry (they hold nothing a fresh entry
 * would not) and, when none had expired, the least recently seen one. */
static void make_room(struct rl_stripe *st, uint64_t now)
{
    if (now >= st->min_tat) {
        uint64_t min = UINT64_MAX;
        /* Downwards: remove_entry moves the last entry, already looked at, into the hole. */
        for (uint32_t i = st->n; i-- > 0;) {
            if (st->entries[i].tat <= now)
                remove_entry(st, i);
            else if (st->entries[i].tat < min)
                min = st->entries[i].tat;
        }
        st->min_tat = min;
    }
    if (st->n == st->cap)
        remove_entry(st, st->tail);
}

static uint32_t insert(struct rl_stripe *st, uint64_t hash, const char *key, uint8_t klen,
                       uint64_t now)
{
    if (st->n == st->cap)
        make_room(st, now);
    uint32_t i = st->n++;
    struct rl_entry *e = &st->entries[i];
    e->hash = hash;
    e->tat = now;
    e->klen = klen;
    if (klen)
        memcpy(e->key, key, klen);
    uint32_t s = (uint32_t)hash & st->mask;
    while (st->slots[s])
        s = (s + 1) & st->mask;
    st->slots[s] = i + 1;
    lru_push_front(st, i);
    return i;
}

/* ---- the interface --------------------------------------------------------------------- */

static void seed_key(struct ratelimiter *rl)
{
    siphash_random_key(&rl->k0, &rl->k1);
}

struct ratelimiter *ratelimit_new(const struct cfg_ratelimit *cfg)
{
    struct ratelimiter *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;

    uint64_t rate = cfg->rate ? cfg->rate : 1;
    uint64_t period_ms = cfg->period_ms ? cfg->period_ms : RL_DEFAULT_PERIOD_MS;
    uint64_t period_us = period_ms * 1000u;
    /* Nearest microsecond; a rate above 1/us is held at 1/us. */
    rl->t_us = (period_us + rate / 2) / rate;
    if (rl->t_us == 0)
        rl->t_us = 1;
    rl->tau_us = cfg->burst && rl->t_us > UINT64_MAX / cfg->burst ? UINT64_MAX
                                                                   : rl->t_us * cfg->burst;
    rl->limit = sat32(rate + cfg->burst);
    rl->window_s = sat32((period_ms + 999) / 1000);
    seed_key(rl);

    uint32_t max_keys = cfg->max_keys ? cfg->max_keys : RL_DEFAULT_MAX_KEYS;
    /* Stripes of at least RL_STRIPE_MIN entries: recency is tracked per stripe, and a stripe of
     * one or two entries would make "least recently seen" close to "whoever hashed here". */
    rl->nstripes = RL_STRIPES_MAX;
    while (rl->nstripes > 1 && (uint64_t)rl->nstripes * RL_STRIPE_MIN > max_keys)
        rl->nstripes /= 2;
    rl->stripe_shift = 64;
    for (uint32_t n = rl->nstripes; n > 1; n /= 2)
        rl->stripe_shift--;

    rl->stripes = calloc(rl->nstripes, sizeof(*rl->stripes));
    if (!rl->stripes)
        goto fail;
    for (uint32_t i = 0; i < rl->nstripes; i++) {
        struct rl_stripe *st = &rl->stripes[i];
        st->cap = max_keys / rl->nstripes + (i < max_keys % rl->nstripes);
        uint64_t nslots = 4;
        while (nslots < 2 * (uint64_t)st->cap)
            nslots *= 2;
        st->mask = (uint32_t)(nslots - 1);
        st->head = st->tail = RL_NONE;
        st->min_tat = UINT64_MAX;
        st->entries = calloc(st->cap, sizeof(*st->entries));
        st->slots = calloc(nslots, sizeof(*st->slots));
        if (!st->entries || !st->slots || pthread_mutex_init(&st->lock, NULL) != 0) {
            free(st->entries);
            free(st->slots);
            st->entries = NULL;
            st->slots = NULL;
            rl->nstripes = i; /* ratelimit_free tears down the stripes built so far */
            goto fail;
        }
    }
    return rl;

fail:
    ratelimit_free(rl);
    return NULL;
}

void ratelimit_free(struct ratelimiter *rl)
{
    if (!rl)
        return;
    if (rl->stripes) {
        for (uint32_t i = 0; i < rl->nstripes; i++) {
            pthread_mutex_destroy(&rl->stripes[i].lock);
            free(rl->stripes[i].entries);
            free(rl->stripes[i].slots);
        }
        free(rl->stripes);
    }
    free(rl);
}

void ratelimit_check(struct ratelimiter *rl, struct str key, uint64_t now_us,
                     struct ratelimit_result *out)
{
    uint8_t klen = (uint8_t)(key.len < RL_KEY_MAX ? key.len : RL_KEY_MAX);
    const char *kp = klen ? key.ptr : "";
    uint64_t hash = rl_hash(rl, (const unsigned char *)kp, klen);
    struct rl_stripe *st = &rl->stripes[rl->stripe_shift < 64 ? hash >> rl->stripe_shift : 0];

    pthread_mutex_lock(&st->lock);
    uint32_t i = find(st, hash, kp, klen);
    if (i == RL_NONE) {
        i = insert(st, hash, kp, klen, now_us);
    } else {
        lru_unlink(st, i);
        lru_push_front(st, i);
    }
    struct rl_entry *e = &st->entries[i];
    uint64_t tat = e->tat > now_us ? e->tat : now_us; /* expired == fresh */
    bool allowed = sat_add(now_us, rl->tau_us) >= tat;
    if (allowed) {
        tat = sat_add(tat, rl->t_us);
        e->tat = tat;
        if (tat < st->min_tat) /* only a fresh insert can lower it */
            st->min_tat = tat;
    }
    pthread_mutex_unlock(&st->lock);

    ratelimit_result_of(rl, allowed, tat - now_us, out); /* >= 0: tat >= now_us on both paths */
}

void ratelimit_result_of(const struct ratelimiter *rl, bool allowed, uint64_t ahead,
                         struct ratelimit_result *out)
{
    out->allowed = allowed;
    out->limit = rl->limit;
    out->window_s = rl->window_s;
    out->reset_s = sat32(ceil_s(ahead));
    if (allowed) {
        uint64_t rem = ahead <= rl->tau_us ? (rl->tau_us - ahead) / rl->t_us + 1 : 0;
        out->remaining = rem < rl->limit ? (uint32_t)rem : rl->limit;
        out->retry_after_s = 0;
    } else {
        out->remaining = 0;
        uint64_t wait_s = ahead > rl->tau_us ? ceil_s(ahead - rl->tau_us) : 0;
        out->retry_after_s = wait_s ? sat32(wait_s) : 1;
    }
}

void ratelimit_params(const struct ratelimiter *rl, uint64_t *t_us, uint64_t *tau_us)
{
    *t_us = rl->t_us;
    *tau_us = rl->tau_us;
}

size_t ratelimit_size(struct ratelimiter *rl)
{
    size_t n = 0;
    for (uint32_t i = 0; i < rl->nstripes; i++) {
        pthread_mutex_lock(&rl->stripes[i].lock);
        n += rl->stripes[i].n;
        pthread_mutex_unlock(&rl->stripes[i].lock);
    }
    return n;
}

size_t ratelimit_format_headers(const struct ratelimit_result *r, char *out, size_t cap)
{
    char buf[128]; /* four uint32s of at most 10 digits each: under 100 bytes */
    int n = snprintf(buf, sizeof(buf),
                     "RateLimit-Policy: \"default\";q=%u;w=%u\r\n"
                     "RateLimit: \"default\";r=%u;t=%u\r\n",
                     (unsigned)r->limit, (unsigned)r->window_s, (unsigned)r->remaining,
                     (unsigned)r->reset_s);
    if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n > cap)
        return 0;
    memcpy(out, buf, (size_t)n);
    return (size_t)n;
}

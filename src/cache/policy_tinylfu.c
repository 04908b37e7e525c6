/* policy_tinylfu.c — W-TinyLFU (Einziger, Friedman, Manes, 2017; Caffeine's policy): a small
 * LRU window (1 % of the bytes) in front of a segmented LRU main area (20 % probation, 80 %
 * protected), and an admission filter: when the window overflows, its oldest object enters the
 * main area only if a frequency sketch says it is requested more often than the object main
 * would evict for it. The sketch is a count-min sketch of 4 rows of 8-bit counters, halved
 * every `sample` increments so that old popularity fades. Byte-weighted like the others. */
#include "cache/cache_policy.h"

#include <stdlib.h>

#define TL_WINDOW 0
#define TL_PROBATION 1
#define TL_PROTECTED 2
#define TL_ROWS 4
#define TL_AVG_OBJECT 4096u

struct tinylfu {
    struct cache_plist window, probation, protected_;
    uint64_t cap, window_cap, main_cap, protected_cap;
    uint8_t *sketch;               /* TL_ROWS rows of width counters */
    uint32_t width_mask;
    uint64_t additions, sample;
};

static int tl_init(void *st, uint64_t cap)
{
    struct tinylfu *s = st;
    cache_plist_init(&s->window);
    cache_plist_init(&s->probation);
    cache_plist_init(&s->protected_);
    s->cap = cap;
    s->window_cap = cap / 100 ? cap / 100 : 1;
    s->main_cap = cap - s->window_cap;
    s->protected_cap = s->main_cap / 10 * 8;
    uint64_t objects = cap / TL_AVG_OBJECT;
    uint32_t width = 1024;
    while (width < objects && width < (1u << 24))
        width <<= 1;
    s->sketch = calloc((size_t)TL_ROWS * width, 1);
    if (!s->sketch)
        return -1;
    s->width_mask = width - 1;
    s->sample = (uint64_t)width * 10;
    return 0;
}

static void tl_fini(void *st)
{
    struct tinylfu *s = st;
    free(s->sketch);
    s->sketch = NULL;
}

static uint32_t slot(const struct tinylfu *s, uint64_t h, int row)
{
    uint64_t x = h * (0x9e3779b97f4a7c15ull + 2 * (uint64_t)row) + (uint64_t)row;
    return (uint32_t)(x >> 32) & s->width_mask;
}

static uint8_t frequency(const struct tinylfu *s, uint64_t h)
{
    uint8_t m = 255;
    for (int r = 0; r < TL_ROWS; r++) {
        uint8_t c = s->sketch[(size_t)r * (s->width_mask + 1) + slot(s, h, r)];
        if (c < m)
            m = c;
    }
    return m;
}

static void record(struct tinylfu *s, uint64_t h)
{
    for (int r = 0; r < TL_ROWS; r++) {
        uint8_t *c = &s->sketch[(size_t)r * (s->width_mask + 1) + slot(s, h, r)];
        if (*c < 255)
            (*c)++;
    }
    if (++s->additions >= s->sample) { /* age: halve everything */
        size_t n = (size_t)TL_ROWS * (s->width_mask + 1);
        for (size_t i = 0; i < n; i++)
            s->sketch[i] >>= 1;
        s->additions /= 2;
    }
}

static struct cache_plist *list_of(struct tinylfu *s, const struct cache_pnode *n)
{
    return n->queue == TL_WINDOW ? &s->window : n->queue == TL_PROBATION ? &s->probation
                                                                       : &s->protected_;
}

static void tl_insert(void *st, struct cache_pnode *n)
{
    struct tinylfu *s = st;
    record(s, n->hash);
    n->queue = TL_WINDOW;
    cache_plist_push(&s->window, n);
}

static void tl_hit(void *st, struct cache_pnode *n)
{
    struct tinylfu *s = st;
    record(s, n->hash);
    cache_plist_unlink(list_of(s, n), n);
    if (n->queue == TL_PROBATION) {
        n->queue = TL_PROTECTED;
        cache_plist_push(&s->protected_, n);
        /* Protected over its share: its oldest goes back to probation. */
        struct cache_pnode *t;
        while (s->protected_.bytes > s->protected_cap && (t = cache_plist_tail(&s->protected_)) &&
               t != n) {
            cache_plist_unlink(&s->protected_, t);
            t->queue = TL_PROBATION;
            cache_plist_push(&s->probation, t);
        }
        return;
    }
    cache_plist_push(list_of(s, n), n);
}

static void tl_remove(void *st, struct cache_pnode *n)
{
    struct tinylfu *s = st;
    cache_plist_unlink(list_of(s, n), n);
}

static struct cache_pnode *main_victim(struct tinylfu *s)
{
    struct cache_pnode *v = cache_plist_tail(&s->probation);
    return v ? v : cache_plist_tail(&s->protected_);
}

static struct cache_pnode *tl_victim(void *st)
{
    struct tinylfu *s = st;
    for (;;) {
        struct cache_pnode *cand = cache_plist_tail(&s->window);
        if (!cand || s->window.bytes <= s->window_cap) {
            struct cache_pnode *v = main_victim(s);
            return v ? v : cand;
        }
        /* The window overflows: its oldest enters main if there is room, or if it is more
         * frequent than main's victim (which then goes); otherwise it goes itself. */
        uint64_t main_bytes = s->probation.bytes + s->protected_.bytes;
        struct cache_pnode *v = main_victim(s);
        if (main_bytes + cand->charge <= s->main_cap || !v) {
            cache_plist_unlink(&s->window, cand);
            cand->queue = TL_PROBATION;
            cache_plist_push(&s->probation, cand);
            continue;
        }
        if (frequency(s, cand->hash) > frequency(s, v->hash)) {
            cache_plist_unlink(&s->window, cand);
            cand->queue = TL_PROBATION;
            cache_plist_push(&s->probation, cand);
            return v;
        }
        return cand;
    }
}

const struct cache_policy_ops cache_policy_tinylfu = {
    .name = "tinylfu",
    .state_size = sizeof(struct tinylfu),
    .init = tl_init,
    .fini = tl_fini,
    .insert = tl_insert,
    .hit = tl_hit,
    .remove = tl_remove,
    .victim = tl_victim,
};

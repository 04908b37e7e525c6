/* cache_fresh.c — see cache_fresh.h. */
#include "cache/cache_fresh.h"

#include <string.h>

bool cache_fresh_heuristic_status(uint16_t status)
{
    switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
        return true;
    default:
        return false;
    }
}

int64_t cache_fresh_lifetime(const struct cache_control *cc, const struct cache_times *t,
                             uint16_t status, int64_t default_ttl, int64_t heuristic_max)
{
    if (cc->flags & CC_INVALID)
        return 0;
    if (cc->s_maxage != CACHE_ABSENT)
        return cc->s_maxage;
    if (cc->max_age != CACHE_ABSENT)
        return cc->max_age;
    if (t->has_expires)
        return t->expires > t->date ? t->expires - t->date : 0;
    if (!cache_fresh_heuristic_status(status) && !(cc->flags & CC_PUBLIC))
        return 0;
    if (t->last_modified != CACHE_ABSENT && t->last_modified < t->date) {
        int64_t h = (t->date - t->last_modified) / 10;
        return h > heuristic_max ? heuristic_max : h;
    }
    return default_ttl > 0 ? default_ttl : 0;
}

int64_t cache_fresh_age(const struct cache_times *t, int64_t now)
{
    int64_t apparent = t->response_time - t->date;
    if (apparent < 0)
        apparent = 0;
    int64_t delay = t->response_time - t->request_time;
    if (delay < 0)
        delay = 0;
    int64_t corrected = t->age_value + delay;
    int64_t initial = apparent > corrected ? apparent : corrected;
    int64_t resident = now - t->response_time;
    if (resident < 0)
        resident = 0;
    return initial + resident;
}

bool cache_fresh_parse_age(struct str v, int64_t *out)
{
    /* A list: its first member (RFC 9111 §5.1). */
    const char *comma = v.len ? memchr(v.ptr, ',', v.len) : NULL;
    if (comma)
        v.len = (size_t)(comma - v.ptr);
    v = str_trim_ows(v);
    if (!v.len)
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return false;
        n = n * 10 + (v.ptr[i] - '0');
        if (n > CACHE_DELTA_MAX)
            n = CACHE_DELTA_MAX;
    }
    *out = n;
    return true;
}

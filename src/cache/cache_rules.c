/* cache_rules.c — see cache_rules.h. */
#include "cache/cache_rules.h"

#include "cache/cache_fresh.h"

bool cache_rules_status_understood(uint16_t status)
{
    switch (status) {
    case 200: case 201: case 202: case 203: case 204: case 205: case 206:
    case 300: case 301: case 302: case 303: case 304: case 307: case 308:
    case 400: case 401: case 402: case 403: case 404: case 405: case 406: case 407: case 408:
    case 409: case 410: case 411: case 412: case 413: case 414: case 415: case 416: case 417:
    case 421: case 422: case 426:
    case 500: case 501: case 502: case 503: case 504: case 505:
        return true;
    default:
        return false;
    }
}

bool cache_rules_auth_ok(const struct cache_control *resp)
{
    return (resp->flags & (CC_PUBLIC | CC_MUST_REVALIDATE)) || resp->s_maxage != CACHE_ABSENT;
}

enum cache_store_verdict cache_rules_storable(const struct cache_store_facts *f)
{
    const struct cache_control *rq = f->req, *rs = f->resp;
    /* Partial content and 304 are not stored whole; weir does not combine ranges. */
    if (f->status < 200 || f->status == 206 || f->status == 304)
        return CACHE_STORE_STATUS;
    bool understood = cache_rules_status_understood(f->status);
    if (rs->flags & CC_MUST_UNDERSTAND) {
        if (!understood)
            return CACHE_STORE_STATUS;
    } else if (rs->flags & CC_NO_STORE) {
        return CACHE_STORE_NO_STORE;
    }
    if (f->status > 599)
        return CACHE_STORE_STATUS;
    if (rq->flags & CC_NO_STORE)
        return CACHE_STORE_NO_STORE;
    if (rs->flags & CC_PRIVATE)
        return CACHE_STORE_PRIVATE;
    if (f->authorization && !cache_rules_auth_ok(rs))
        return CACHE_STORE_AUTH;
    if (f->vary_star)
        return CACHE_STORE_VARY_STAR;
    bool explicit = (rs->flags & (CC_PUBLIC | CC_INVALID)) || rs->max_age != CACHE_ABSENT ||
                    rs->s_maxage != CACHE_ABSENT || f->has_expires;
    if (explicit)
        return CACHE_STORE_OK;
    if (cache_fresh_heuristic_status(f->status) && (f->has_validator || f->default_ttl > 0))
        return CACHE_STORE_OK;
    return CACHE_STORE_NO_FRESHNESS;
}

const char *cache_rules_store_reason(enum cache_store_verdict v)
{
    switch (v) {
    case CACHE_STORE_OK: return "ok";
    case CACHE_STORE_STATUS: return "status";
    case CACHE_STORE_NO_STORE: return "no-store";
    case CACHE_STORE_PRIVATE: return "private";
    case CACHE_STORE_AUTH: return "authorization";
    case CACHE_STORE_VARY_STAR: return "vary-star";
    case CACHE_STORE_NO_FRESHNESS: return "no-freshness";
    }
    return "?";
}

/* must-revalidate, proxy-revalidate and s-maxage forbid serving stale (§5.2.2.2, .8, .10). */
static bool stale_forbidden(const struct cache_control *resp)
{
    return (resp->flags & (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE)) ||
           resp->s_maxage != CACHE_ABSENT;
}

enum cache_use cache_rules_use(const struct cache_control *req, bool req_no_cache,
                               const struct cache_control *resp, int64_t age, int64_t lifetime)
{
    if (req_no_cache || (resp->flags & CC_NO_CACHE))
        return CACHE_USE_REVALIDATE;
    /* Ages are whole seconds: max-age=0 (the usual "revalidate") must not accept an age of
     * 0 that is really a fraction of a second. */
    if (req->max_age != CACHE_ABSENT && (age > req->max_age || req->max_age == 0))
        return CACHE_USE_REVALIDATE;
    if (req->min_fresh != CACHE_ABSENT && lifetime - age < req->min_fresh)
        return CACHE_USE_REVALIDATE;
    if (lifetime > age)
        return CACHE_USE_FRESH;
    if (stale_forbidden(resp))
        return CACHE_USE_REVALIDATE;
    int64_t staleness = age - lifetime;
    if ((req->flags & CC_MAX_STALE_ANY) ||
        (req->max_stale != CACHE_ABSENT && staleness <= req->max_stale))
        return CACHE_USE_STALE;
    if (resp->stale_while_revalidate != CACHE_ABSENT && staleness <= resp->stale_while_revalidate)
        return CACHE_USE_SWR;
    return CACHE_USE_REVALIDATE;
}

bool cache_rules_stale_on_error(const struct cache_control *req, const struct cache_control *resp,
                                int64_t age, int64_t lifetime)
{
    if (stale_forbidden(resp))
        return false;
    int64_t staleness = age > lifetime ? age - lifetime : 0;
    return (resp->stale_if_error != CACHE_ABSENT && staleness <= resp->stale_if_error) ||
           (req->stale_if_error != CACHE_ABSENT && staleness <= req->stale_if_error);
}

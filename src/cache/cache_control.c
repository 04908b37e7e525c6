/* cache_control.c — see cache_control.h. */
#include "cache/cache_control.h"

#include <string.h>

void cache_control_init(struct cache_control *cc)
{
    *cc = (struct cache_control){
        .max_age = CACHE_ABSENT,
        .s_maxage = CACHE_ABSENT,
        .max_stale = CACHE_ABSENT,
        .min_fresh = CACHE_ABSENT,
        .stale_while_revalidate = CACHE_ABSENT,
        .stale_if_error = CACHE_ABSENT,
    };
}

static bool is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* delta-seconds: digits only, saturating at 2^31. -1 when malformed. */
static int64_t parse_delta(struct str v)
{
    if (!v.len)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        n = n * 10 + (v.ptr[i] - '0');
        if (n > CACHE_DELTA_MAX)
            n = CACHE_DELTA_MAX;
    }
    return n;
}

#define NAME_IS(n, lit) str_eq_nocase(n, STR_LIT(lit))

/* One directive: `name` with its argument (`has_arg`: there was an "="). */
static void directive(struct cache_control *cc, struct str name, struct str arg, bool has_arg)
{
    struct {
        const char *name;
        int64_t *slot;
        bool freshness; /* malformed: the response is stale */
    } deltas[] = {
        {"max-age", &cc->max_age, true},
        {"s-maxage", &cc->s_maxage, true},
        {"min-fresh", &cc->min_fresh, false},
        {"stale-while-revalidate", &cc->stale_while_revalidate, false},
        {"stale-if-error", &cc->stale_if_error, false},
    };
    for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
        if (!str_eq_nocase(name, str_cstr(deltas[i].name)))
            continue;
        int64_t d = parse_delta(arg);
        if (d < 0) {
            if (deltas[i].freshness)
                cc->flags |= CC_INVALID;
        } else if (*deltas[i].slot == CACHE_ABSENT) {
            *deltas[i].slot = d;
        }
        return;
    }
    if (NAME_IS(name, "max-stale")) {
        int64_t d = has_arg ? parse_delta(arg) : -1;
        if (!has_arg)
            cc->flags |= CC_MAX_STALE_ANY;
        else if (d >= 0 && cc->max_stale == CACHE_ABSENT)
            cc->max_stale = d;
        return;
    }
    if (NAME_IS(name, "no-cache")) {
        if (has_arg && arg.len) {
            if (!cc->no_cache_fields.len)
                cc->no_cache_fields = arg;
        } else {
            cc->flags |= CC_NO_CACHE;
        }
        return;
    }
    if (NAME_IS(name, "private")) {
        if (has_arg && arg.len) {
            if (!cc->private_fields.len)
                cc->private_fields = arg;
        } else {
            cc->flags |= CC_PRIVATE;
        }
        return;
    }
    static const struct {
        const char *name;
        uint32_t flag;
    } flags[] = {
        {"no-store", CC_NO_STORE},
        {"public", CC_PUBLIC},
        {"must-revalidate", CC_MUST_REVALIDATE},
        {"proxy-revalidate", CC_PROXY_REVALIDATE},
        {"no-transform", CC_NO_TRANSFORM},
        {"only-if-cached", CC_ONLY_IF_CACHED},
        {"must-understand", CC_MUST_UNDERSTAND},
        {"immutable", CC_IMMUTABLE},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (str_eq_nocase(name, str_cstr(flags[i].name))) {
            cc->flags |= flags[i].flag;
            return;
        }
    /* unknown: ignored */
}

void cache_control_parse(struct cache_control *cc, struct str value)
{
    const char *p = value.ptr, *end = value.ptr + value.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *n0 = p;
        while (p < end && is_tchar(*p))
            p++;
        struct str name = str_from(n0, (size_t)(p - n0));
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        struct str arg = STR_NULL;
        bool has_arg = false, ok = name.len > 0;
        if (p < end && *p == '=') {
            has_arg = true;
            p++;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p == '"') {
                const char *a0 = ++p;
                while (p < end && *p != '"') {
                    if (*p == '\\' && p + 1 < end)
                        p++;
                    p++;
                }
                arg = str_from(a0, (size_t)(p - a0));
                if (p < end)
                    p++;
                else
                    ok = false; /* unterminated quote */
            } else {
                const char *a0 = p;
                while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                    p++;
                arg = str_from(a0, (size_t)(p - a0));
            }
        }
        /* Anything else up to the next comma makes this directive malformed. */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != ',') {
            ok = false;
            while (p < end && *p != ',')
                p++;
        }
        if (ok)
            directive(cc, name, arg, has_arg);
        else if (name.len && (NAME_IS(name, "max-age") || NAME_IS(name, "s-maxage")))
            cc->flags |= CC_INVALID;
    }
}

bool cache_control_list_has(struct str list, struct str name)
{
    if (!list.len)
        return false; /* an absent list is a NULL slice: no pointer arithmetic on it */
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        const char *a = p;
        while (p < end && *p != ',')
            p++;
        if (str_eq_nocase(str_trim_ows(str_from(a, (size_t)(p - a))), name))
            return true;
        if (p < end)
            p++;
    }
    return false;
}

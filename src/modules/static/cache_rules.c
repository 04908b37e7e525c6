/* cache_rules.c — Cache-Control by glob / extension / fingerprint (see cache_rules.h).
 *
 * The glob runs as an NFA: bit i of the state set means "token i is next". '*' and '**' loop on
 * themselves and may be left at any point (an epsilon edge to the next token). '**' + '/' has a
 * second epsilon edge over the '/', taken only when the '**' is entered, not after it consumed
 * bytes: otherwise "/a**" + "/b" would match "/axb". */
#include "modules/static/cache_rules.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(char *err, size_t errlen, const char *pattern, const char *why)
{
    snprintf(err, errlen, "glob \"%s\": %s", pattern, why);
    return -1;
}

int cache_glob_compile(const char *pattern, struct cache_glob *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof(*g));
    if (!pattern[0])
        return fail(err, errlen, pattern, "empty");
    g->basename_only = strchr(pattern, '/') == NULL;
    for (const char *p = pattern; *p;) {
        if (g->ntok == CACHE_GLOB_MAX_TOKENS)
            return fail(err, errlen, pattern, "too long (at most 63 tokens)");
        struct cache_glob_token *t = &g->tok[g->ntok];
        *t = (struct cache_glob_token){.kind = CACHE_GLOB_BYTE, .byte = (uint8_t)*p};
        if (*p == '*') {
            t->kind = CACHE_GLOB_STAR;
            p++;
            if (*p == '*') {
                t->kind = CACHE_GLOB_DSTAR;
                while (*p == '*')
                    p++;
                t->skip_slash = *p == '/';
            }
        } else if (*p == '?') {
            t->kind = CACHE_GLOB_ANY;
            p++;
        } else if (*p == '[') {
            if (g->nclasses == sizeof(g->classes) / sizeof(g->classes[0]))
                return fail(err, errlen, pattern, "more than 8 [classes]");
            uint8_t *set = g->classes[g->nclasses];
            const char *q = p + 1;
            bool neg = *q == '!' || *q == '^';
            if (neg)
                q++;
            bool first = true;
            for (; *q && (*q != ']' || first); first = false) {
                unsigned char lo = (unsigned char)*q++, hi = lo;
                if (*q == '-' && q[1] && q[1] != ']') {
                    hi = (unsigned char)q[1];
                    q += 2;
                }
                for (unsigned c = lo; c <= hi; c++)
                    set[c >> 3] |= (uint8_t)(1u << (c & 7));
            }
            if (*q != ']')
                return fail(err, errlen, pattern, "unclosed [");
            if (neg)
                for (int i = 0; i < 32; i++)
                    set[i] = (uint8_t)~set[i];
            set['/' >> 3] &= (uint8_t)~(1u << ('/' & 7));
            t->kind = CACHE_GLOB_CLASS;
            t->cls = g->nclasses++;
            p = q + 1;
        } else {
            if (*p == '\\' && p[1])
                p++;
            t->byte = (uint8_t)*p++;
        }
        g->ntok++;
    }
    return 0;
}

/* Follows the epsilon edges of the states in `entered`, in token order (they only go forward). */
static uint64_t closure(const struct cache_glob *g, uint64_t entered)
{
    for (unsigned j = 0; j < g->ntok; j++) {
        if (!(entered >> j & 1))
            continue;
        const struct cache_glob_token *t = &g->tok[j];
        if (t->kind == CACHE_GLOB_STAR || t->kind == CACHE_GLOB_DSTAR)
            entered |= UINT64_C(1) << (j + 1);
        if (t->skip_slash)
            entered |= UINT64_C(1) << (j + 2);
    }
    return entered;
}

bool cache_glob_match(const struct cache_glob *g, struct str path)
{
    if (g->basename_only) {
        const char *slash = path.len ? memrchr(path.ptr, '/', path.len) : NULL;
        if (slash)
            path = str_from(slash + 1, path.len - (size_t)(slash + 1 - path.ptr));
    }
    uint64_t state = closure(g, 1);
    for (size_t i = 0; i < path.len && state; i++) {
        unsigned char c = (unsigned char)path.ptr[i];
        uint64_t entered = 0, stayed = 0;
        for (uint64_t m = state; m; m &= m - 1) {
            unsigned j = (unsigned)__builtin_ctzll(m);
            if (j >= g->ntok)
                continue; /* the accepting state consumes nothing */
            const struct cache_glob_token *t = &g->tok[j];
            bool adv = false;
            switch (t->kind) {
            case CACHE_GLOB_BYTE:
                adv = c == t->byte;
                break;
            case CACHE_GLOB_ANY:
                adv = c != '/';
                break;
            case CACHE_GLOB_CLASS:
                adv = g->classes[t->cls][c >> 3] >> (c & 7) & 1;
                break;
            case CACHE_GLOB_STAR:
                if (c != '/')
                    stayed |= UINT64_C(1) << j;
                break;
            case CACHE_GLOB_DSTAR:
                stayed |= UINT64_C(1) << j;
                break;
            }
            if (adv)
                entered |= UINT64_C(1) << (j + 1);
        }
        /* a star that stayed may still end here, but must not take the '**' + '/' shortcut */
        state = closure(g, entered | stayed << 1) | stayed;
    }
    return state >> g->ntok & 1;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool cache_rules_fingerprinted(struct str path)
{
    const char *slash = path.len ? memrchr(path.ptr, '/', path.len) : NULL;
    const char *b = slash ? slash + 1 : path.ptr;
    size_t n = path.len - (size_t)(b - path.ptr);
    for (size_t i = 1; i < n; i++) {
        if (b[i - 1] != '.' && b[i - 1] != '-')
            continue;
        size_t j = i;
        while (j < n && is_hex(b[j]))
            j++;
        if (j - i >= 8 && j < n && b[j] == '.')
            return true;
    }
    return false;
}

static bool ext_in(const struct cache_rule *r, struct str path)
{
    const char *slash = path.len ? memrchr(path.ptr, '/', path.len) : NULL;
    const char *b = slash ? slash + 1 : path.ptr;
    size_t n = path.len - (size_t)(b - path.ptr);
    const char *dot = n > 1 ? memrchr(b + 1, '.', n - 1) : NULL;
    if (!dot)
        return false;
    struct str ext = str_from(dot + 1, n - (size_t)(dot + 1 - b));
    for (size_t i = 0; i < r->next; i++)
        if (str_eq_nocase(ext, str_cstr(r->ext[i])))
            return true;
    return false;
}

const char *cache_rules_match(const struct cache_rule *rules, size_t n, struct str path)
{
    for (size_t i = 0; i < n; i++) {
        const struct cache_rule *r = &rules[i];
        if (r->next && !ext_in(r, path))
            continue;
        if (r->fingerprinted && !cache_rules_fingerprinted(path))
            continue;
        if (r->glob && !cache_glob_match(r->glob, path))
            continue;
        return r->cache_control;
    }
    return NULL;
}

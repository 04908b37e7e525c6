/* cache_rules.h — which Cache-Control value a static file gets, by path glob and extension.
 *
 * Rules are tried in order and the first that matches wins; no match → no header from here.
 * A rule matches when every condition it has holds:
 *   glob         `*` any run without '/', `**` any run (followed by '/', it may also match
 *                nothing: "/a/" "**" "/x.js" covers /a/x.js too), `?` one byte but '/',
 *                `[a-z0-9]` / `[!...]` a class (never '/'). A glob without '/' is matched
 *                against the file name only ("*.html"); one with '/' against the whole path
 *                from its leading '/' ("/assets/" followed by "**").
 *   ext          the file name's last extension is one of these (case-insensitive, no dot)
 *   fingerprinted the file name carries a content hash: a run of 8 or more hex digits between
 *                '.' or '-' and '.' ("app.3f9a2b1c.js", "logo-9f86d081884c7d65.png")
 * Matching is an NFA simulation over at most CACHE_GLOB_MAX_TOKENS pattern tokens with a 64-bit
 * state set: linear in the path, whatever the pattern, so a request cannot make it slow.
 * Compiled rules are immutable and may be shared by threads. */
#ifndef WEIR_MODULES_CACHE_RULES_H
#define WEIR_MODULES_CACHE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define CACHE_GLOB_MAX_TOKENS 63

enum cache_glob_kind {
    CACHE_GLOB_BYTE,  /* one literal byte */
    CACHE_GLOB_ANY,   /* '?' */
    CACHE_GLOB_CLASS, /* [...] */
    CACHE_GLOB_STAR,  /* '*' */
    CACHE_GLOB_DSTAR, /* '**' */
};

struct cache_glob_token {
    uint8_t kind;   /* enum cache_glob_kind */
    uint8_t byte;
    bool skip_slash; /* '**' followed by '/': together they may match nothing */
    uint16_t cls;   /* index into classes */
};

struct cache_glob {
    struct cache_glob_token tok[CACHE_GLOB_MAX_TOKENS];
    uint8_t ntok;
    bool basename_only;
    uint8_t nclasses;
    uint8_t classes[8][32]; /* 256-bit sets */
};

/* Compiles a glob. Returns 0, or -1 with a message in err (too many tokens or classes, an
 * unclosed '[', an empty pattern). */
int cache_glob_compile(const char *pattern, struct cache_glob *g, char *err, size_t errlen);

/* True when the compiled glob matches the path (with its leading '/'). */
bool cache_glob_match(const struct cache_glob *g, struct str path);

/* The "fingerprinted" test above, on the path's file name. */
bool cache_rules_fingerprinted(struct str path);

struct cache_rule {
    const struct cache_glob *glob; /* NULL: any path */
    const char *const *ext;        /* NULL/0: any extension */
    size_t next;
    bool fingerprinted;
    const char *cache_control;     /* the header value: "public, max-age=31536000, immutable" */
};

/* The first rule's value that matches `path` (normalised, with a leading '/'), or NULL. */
const char *cache_rules_match(const struct cache_rule *rules, size_t n, struct str path);

#endif

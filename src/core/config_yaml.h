/* config_yaml.h — internal to the config loader: a small YAML tree and its typed accessors.
 *
 * The loader composes libyaml events into its own tree rather than using yaml_parser_load, for
 * two reasons: an alias can then be rejected at its own position (resolved, it would be a node
 * shared by two parents, and a recursive one a cycle that a walk would never leave), and every
 * node carries its 1-based line and column for error messages.
 *
 * Invariants: a tree is at most YTREE_MAX_DEPTH levels deep (so recursion over it is bounded);
 * scalars are NUL-terminated and contain no NUL byte; a mapping's items alternate key, value.
 * Errors: every function returning int returns 0 on success and -1 after writing the first
 * error into the context ("name:line:column: what"); later errors never overwrite the first.
 * Main thread only, like the loader. */
#ifndef WEIR_CORE_CONFIG_YAML_H
#define WEIR_CORE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define YTREE_MAX_DEPTH 32

enum ynode_kind { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
    enum ynode_kind kind;
    uint32_t line, col;    /* 1-based */
    bool plain;            /* an unquoted scalar; an empty plain scalar is YAML's null */
    char *str;             /* scalar text (owned) */
    size_t len;
    struct ynode **items;  /* sequence: its items; mapping: key, value, key, value, ... */
    uint32_t nitems;       /* entries in items, so a mapping has nitems / 2 pairs */
    uint32_t cap;
};

struct ycx {
    const char *name;      /* file name used as the message prefix */
    struct cfg_error *err;
    bool failed;
};

/* Parses one YAML document into a tree. Returns the root (owned by the caller, free with
 * ynode_free), or NULL with the error written: syntax errors at libyaml's problem mark,
 * aliases, more than one document, an empty document, nesting deeper than YTREE_MAX_DEPTH. */
struct ynode *ytree_parse(struct ycx *cx, const char *text, size_t len);
void ynode_free(struct ynode *n);

/* Writes "name:line:col: <message>" (or "name: <message>" when n is NULL). Returns -1. */
int yerr(struct ycx *cx, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a mapping", "a list", "a scalar" or "an empty value" (the YAML null), for messages. */
const char *ynode_describe(const struct ynode *n);

/* Checks that n has the given kind; `what` names it in the message
 * ("expected a mapping for 'limits', found a list"). */
int yexpect(struct ycx *cx, const struct ynode *n, enum ynode_kind kind, const char *what);

/* Checks that n is a mapping whose keys are scalars, unique and, when `allowed` (a
 * NULL-terminated list) is not NULL, all in `allowed`. `where` names the mapping in messages;
 * "" is the top level. O(pairs^2) in the duplicate check, which is fine at config sizes. */
int ymap_check(struct ycx *cx, const struct ynode *n, const char *where,
               const char *const *allowed);
/* The value under `key`, or NULL. Call after ymap_check. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
/* As ymap_get, but a missing key is an error reported at the mapping's own position. */
const struct ynode *ymap_need(struct ycx *cx, const struct ynode *map, const char *where,
                              const char *key);

/* Typed getters for optional keys. When `key` is absent they return 0 and leave *out as is,
 * which is how defaults work: the caller stores the default first. The key name is what the
 * error messages call the value; the position points at it. */
/* A non-empty scalar; *out points into the tree. */
int yopt_str(struct ycx *cx, const struct ynode *map, const char *key, const struct ynode **out);
/* A plain decimal integer in min..max. */
int yopt_u32(struct ycx *cx, const struct ynode *map, const char *key, uint32_t min,
             uint32_t max, uint32_t *out);
/* A size (config_parse_size) in min..max. */
int yopt_size(struct ycx *cx, const struct ynode *map, const char *key, uint64_t min,
              uint64_t max, uint64_t *out);
/* A duration (config_parse_duration_ms), more than 0 and less than 24h. */
int yopt_ms(struct ycx *cx, const struct ynode *map, const char *key, uint32_t *out);
/* true or false. */
int yopt_bool(struct ycx *cx, const struct ynode *map, const char *key, bool *out);

/* How a section is written: a mapping, or one of the words `on` / `off` (`on` only where
 * allow_on). `where` names the section in the message. */
enum ysection_form { YSECTION_OFF = 0, YSECTION_ON, YSECTION_MAP };
int ysection_form(struct ycx *cx, const struct ynode *v, const char *where, bool allow_on,
                  enum ysection_form *out);

/* Decimal digits (at least one) into *out; *end is set past them. -1 on none or overflow. */
int yparse_u64(const char *s, const char **end, uint64_t *out);

/* Scalar checks for values met outside a mapping lookup (list items). */
int yscalar(struct ycx *cx, const struct ynode *n, const char *what);
/* strdup that reports failure as "out of memory" at n. */
int ystrdup(struct ycx *cx, const struct ynode *n, const char *s, char **out);
/* Reads the whole file `path` named by n (a page, keys, a password file) into a malloc'd,
 * NUL-terminated buffer: 0, or -1 with the error at n (unreadable, larger than 1 MiB). */
int yread_file(struct ycx *cx, const struct ynode *n, const char *path, char **out,
               size_t *len);

/* Shared between the loader's files (config.c, config_upstream.c). */
bool config_is_token(const char *s); /* an HTTP token (RFC 9110 tchar), non-empty */
bool config_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b);
/* Fill cfg->upstreams from the `upstreams` mapping, then cfg->routes from `routes`, resolving
 * each route's group. On error the partly filled arrays are left for config_free. */
int config_load_upstreams(struct ycx *cx, const struct ynode *v, struct config *cfg);
/* root: the top level, whose keys of `global` route extensions are every route's default. */
int config_load_routes(struct ycx *cx, const struct ynode *v, struct config *cfg,
                       const struct ynode *root);
/* The top-level keys route extensions add (NULL-terminated; valid until the next call). */
const char *const *config_root_ext_keys(void);
void config_route_exts_free(struct cfg_route *r);

#endif

/* config_yaml.c — libyaml events to a small tree, and the typed accessors the loader uses.
 *
 * See config_yaml.h for why the loader keeps its own tree. Everything here runs on the main
 * thread during a load; nothing is kept between loads. */
#include "core/config_yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DAY_MS (24u * 60u * 60u * 1000u)

int yerr(struct ycx *cx, const struct ynode *n, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    if (cx->failed)
        return -1; /* the first error is the one worth reading */
    cx->failed = true;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (n)
        snprintf(cx->err->msg, sizeof(cx->err->msg), "%s:%" PRIu32 ":%" PRIu32 ": %s", cx->name,
                 n->line, n->col, what);
    else
        snprintf(cx->err->msg, sizeof(cx->err->msg), "%s: %s", cx->name, what);
    /* Values are echoed into the message; keep escape sequences out of the terminal. */
    for (char *p = cx->err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return -1;
}

/* A position that is not a node's: libyaml marks are 0-based. */
static struct ynode at_mark(size_t line, size_t col)
{
    return (struct ynode){.line = (uint32_t)(line + 1), .col = (uint32_t)(col + 1)};
}

const char *ynode_describe(const struct ynode *n)
{
    switch (n->kind) {
    case YNODE_MAP:
        return "a mapping";
    case YNODE_SEQ:
        return "a list";
    case YNODE_SCALAR:
        break;
    }
    if (n->plain && (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
                     strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0))
        return "an empty value";
    return "a scalar";
}

void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->nitems; i++)
        ynode_free(n->items[i]); /* depth is bounded by YTREE_MAX_DEPTH */
    free(n->items);
    free(n->str);
    free(n);
}

static int ynode_append(struct ynode *parent, struct ynode *child)
{
    if (parent->nitems == parent->cap) {
        uint32_t cap = parent->cap ? parent->cap * 2 : 8;
        struct ynode **items;

        if (cap <= parent->cap) /* 2^31 items cannot come from a config file, but still */
            return -1;
        items = realloc(parent->items, (size_t)cap * sizeof(*items));
        if (!items)
            return -1;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->nitems++] = child;
    return 0;
}

/* Whether the given 0-based line is indented with a tab somewhere. */
static bool line_indented_with_tab(const char *text, size_t len, size_t line)
{
    size_t i = 0;

    for (; i < len && line > 0; i++)
        if (text[i] == '\n')
            line--;
    for (; i < len && (text[i] == ' ' || text[i] == '\t'); i++)
        if (text[i] == '\t')
            return true;
    return false;
}

/* libyaml's error, with the position it points at. Reader errors (bad encoding, control
 * characters) carry a byte offset instead of a mark, so the line is counted here. */
static void parser_error(struct ycx *cx, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "syntax error";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        yerr(cx, NULL, "out of memory");
        return;
    case YAML_READER_ERROR: {
        size_t line = 0, col = 0;
        struct ynode at;

        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            col++;
            if (text[i] == '\n') {
                line++;
                col = 0;
            }
        }
        at = at_mark(line, col);
        if (p->problem_value != -1)
            yerr(cx, &at, "%s (0x%02x)", problem, (unsigned)p->problem_value);
        else
            yerr(cx, &at, "%s", problem);
        return;
    }
    default: {
        struct ynode at = at_mark(p->problem_mark.line, p->problem_mark.column);
        const char *hint = "";

        /* The two mistakes libyaml words most obscurely: "*:80" unquoted, and tabs. */
        if (p->context && strcmp(p->context, "while scanning an alias") == 0)
            hint = "; quote a value that starts with '*', as in \"*:80\"";
        else if (line_indented_with_tab(text, len, p->problem_mark.line))
            hint = "; YAML does not allow tabs for indentation";
        if (p->context)
            yerr(cx, &at, "%s (%s at line %zu)%s", problem, p->context, p->context_mark.line + 1,
                 hint);
        else
            yerr(cx, &at, "%s%s", problem, hint);
        return;
    }
    }
}

struct composer {
    struct ycx *cx;
    struct ynode *root;
    struct ynode *stack[YTREE_MAX_DEPTH];
    size_t depth;
    unsigned ndocs;
};

static int compose_node(struct composer *c, const yaml_event_t *ev, enum ynode_kind kind)
{
    struct ynode *n = calloc(1, sizeof(*n));

    if (!n)
        return yerr(c->cx, NULL, "out of memory");
    n->kind = kind;
    n->line = (uint32_t)ev->start_mark.line + 1;
    n->col = (uint32_t)ev->start_mark.column + 1;
    if (kind == YNODE_SCALAR) {
        size_t len = ev->data.scalar.length;

        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = len;
        n->str = malloc(len + 1);
        if (!n->str) {
            ynode_free(n);
            return yerr(c->cx, NULL, "out of memory");
        }
        memcpy(n->str, ev->data.scalar.value, len);
        n->str[len] = '\0';
        if (memchr(n->str, '\0', len)) {
            struct ynode at = at_mark(ev->start_mark.line, ev->start_mark.column);

            ynode_free(n);
            return yerr(c->cx, &at, "a NUL byte in a scalar is not allowed");
        }
    }
    if (c->depth == 0) {
        c->root = n;
    } else if (ynode_append(c->stack[c->depth - 1], n) != 0) {
        ynode_free(n);
        return yerr(c->cx, NULL, "out of memory");
    }
    if (kind != YNODE_SCALAR) {
        if (c->depth == YTREE_MAX_DEPTH)
            return yerr(c->cx, n, "nesting deeper than %d levels", YTREE_MAX_DEPTH);
        c->stack[c->depth++] = n;
    }
    return 0;
}

static int compose_event(struct composer *c, const yaml_event_t *ev)
{
    struct ynode at = at_mark(ev->start_mark.line, ev->start_mark.column);

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (c->ndocs++ > 0)
            return yerr(c->cx, &at, "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return yerr(c->cx, &at, "YAML aliases are not supported ('*%.64s')",
                    (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return compose_node(c, ev, YNODE_SCALAR);
    case YAML_SEQUENCE_START_EVENT:
        return compose_node(c, ev, YNODE_SEQ);
    case YAML_MAPPING_START_EVENT:
        return compose_node(c, ev, YNODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        c->depth--; /* libyaml pairs every end with its start */
        return 0;
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_STREAM_END_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return 0;
    }
    return 0;
}

struct ynode *ytree_parse(struct ycx *cx, const char *text, size_t len)
{
    struct composer c = {.cx = cx};
    yaml_parser_t parser;
    yaml_event_t ev;
    yaml_mark_t end = {0};
    int rc = -1;

    if (!yaml_parser_initialize(&parser)) {
        yerr(cx, NULL, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        bool last;
        int r;

        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(cx, &parser, text, len);
            goto out;
        }
        last = ev.type == YAML_STREAM_END_EVENT;
        end = ev.start_mark;
        r = compose_event(&c, &ev);
        yaml_event_delete(&ev);
        if (r != 0)
            goto out;
        if (last)
            break;
    }
    if (!c.root) {
        struct ynode at = at_mark(end.line, end.column);

        yerr(cx, &at, "empty document");
        goto out;
    }
    rc = 0;
out:
    yaml_parser_delete(&parser);
    if (rc != 0) {
        ynode_free(c.root);
        return NULL;
    }
    return c.root;
}

int yexpect(struct ycx *cx, const struct ynode *n, enum ynode_kind kind, const char *what)
{
    static const char *const names[] = {
        [YNODE_SCALAR] = "a scalar", [YNODE_SEQ] = "a list", [YNODE_MAP] = "a mapping"};

    if (n->kind == kind)
        return 0;
    return yerr(cx, n, "expected %s for '%s', found %s", names[kind], what, ynode_describe(n));
}

/* "in 'limits'" or, for the root mapping, "at the top level". */
static const char *where_phrase(char *buf, size_t cap, const char *where)
{
    if (!*where)
        return "at the top level";
    snprintf(buf, cap, "in '%s'", where);
    return buf;
}

int ymap_check(struct ycx *cx, const struct ynode *n, const char *where,
               const char *const *allowed)
{
    char buf[160];
    const char *in = where_phrase(buf, sizeof(buf), where);

    if (n->kind != YNODE_MAP && !*where)
        return yerr(cx, n, "expected a mapping at the top level, found %s", ynode_describe(n));
    if (yexpect(cx, n, YNODE_MAP, where) != 0)
        return -1;
    for (uint32_t i = 0; i < n->nitems; i += 2) {
        const struct ynode *key = n->items[i];
        bool known = allowed == NULL;

        if (key->kind != YNODE_SCALAR)
            return yerr(cx, key, "expected a scalar as a key %s, found %s", in,
                        ynode_describe(key));
        for (const char *const *a = allowed; a && *a && !known; a++)
            known = strcmp(*a, key->str) == 0;
        if (!known)
            return yerr(cx, key, "unknown key '%.64s' %s", key->str, in);
        for (uint32_t j = 0; j < i; j += 2)
            if (strcmp(n->items[j]->str, key->str) == 0)
                return yerr(cx, key, "duplicate key '%.64s' %s (first at line %" PRIu32 ")",
                            key->str, in, n->items[j]->line);
    }
    return 0;
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
    for (uint32_t i = 0; i + 1 < map->nitems; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return map->items[i + 1];
    return NULL;
}

const struct ynode *ymap_need(struct ycx *cx, const struct ynode *map, const char *where,
                              const char *key)
{
    const struct ynode *v = ymap_get(map, key);
    char buf[160];

    if (!v)
        yerr(cx, map, "missing required key '%s' %s", key, where_phrase(buf, sizeof(buf), where));
    return v;
}

int yscalar(struct ycx *cx, const struct ynode *n, const char *what)
{
    if (yexpect(cx, n, YNODE_SCALAR, what) != 0)
        return -1;
    if (n->len == 0)
        return yerr(cx, n, "'%s' must not be empty", what);
    return 0;
}

int ystrdup(struct ycx *cx, const struct ynode *n, const char *s, char **out)
{
    char *copy = strdup(s);

    if (!copy)
        return yerr(cx, n, "out of memory");
    free(*out); /* replaces a default */
    *out = copy;
    return 0;
}

int yopt_str(struct ycx *cx, const struct ynode *map, const char *key, const struct ynode **out)
{
    const struct ynode *v = ymap_get(map, key);

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    *out = v;
    return 0;
}

int yparse_u64(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (p == s)
        return -1;
    *end = p;
    *out = v;
    return 0;
}

int yopt_u32(struct ycx *cx, const struct ynode *map, const char *key, uint32_t min,
             uint32_t max, uint32_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    const char *end;
    uint64_t x;

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (yparse_u64(v->str, &end, &x) != 0 || *end != '\0' || x < min || x > max)
        return yerr(cx, v, "'%s' must be an integer in %" PRIu32 "..%" PRIu32 ", got '%.64s'",
                    key, min, max, v->str);
    *out = (uint32_t)x;
    return 0;
}

/* 16384 -> "16k": ranges in messages read the way they are written in the file. */
static const char *fmt_size(char *buf, size_t cap, uint64_t v)
{
    static const char units[] = {'g', 'm', 'k'};

    for (int i = 0; i < 3; i++) {
        uint64_t unit = (uint64_t)1 << (10 * (3 - i));

        if (v >= unit && v % unit == 0) {
            snprintf(buf, cap, "%" PRIu64 "%c", v / unit, units[i]);
            return buf;
        }
    }
    snprintf(buf, cap, "%" PRIu64, v);
    return buf;
}

int yopt_size(struct ycx *cx, const struct ynode *map, const char *key, uint64_t min,
              uint64_t max, uint64_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    char lo[32], hi[32];
    uint64_t x;

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (config_parse_size(v->str, &x) != 0)
        return yerr(cx, v, "invalid size '%.64s' for '%s' (use e.g. 512, 16k, 1m)", v->str, key);
    if (x < min || x > max)
        return yerr(cx, v, "'%s' must be %s..%s, got '%.64s'", key,
                    fmt_size(lo, sizeof(lo), min), fmt_size(hi, sizeof(hi), max), v->str);
    *out = x;
    return 0;
}

int yopt_ms(struct ycx *cx, const struct ynode *map, const char *key, uint32_t *out)
{
    const struct ynode *v = ymap_get(map, key);
    uint64_t ms;

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (config_parse_duration_ms(v->str, &ms) != 0)
        return yerr(cx, v, "invalid duration '%.64s' for '%s' (use e.g. 250ms, 10s, 2m, 1h)",
                    v->str, key);
    if (ms == 0 || ms >= DAY_MS)
        return yerr(cx, v, "'%s' must be more than 0 and less than 24h, got '%.64s'", key,
                    v->str);
    *out = (uint32_t)ms;
    return 0;
}

int yopt_bool(struct ycx *cx, const struct ynode *map, const char *key, bool *out)
{
    const struct ynode *v = ymap_get(map, key);

    if (!v)
        return 0;
    if (yscalar(cx, v, key) != 0)
        return -1;
    if (strcmp(v->str, "true") == 0)
        *out = true;
    else if (strcmp(v->str, "false") == 0)
        *out = false;
    else
        return yerr(cx, v, "'%s' must be true or false, got '%.64s'", key, v->str);
    return 0;
}

int ysection_form(struct ycx *cx, const struct ynode *v, const char *where, bool allow_on,
                  enum ysection_form *out)
{
    const char *words = allow_on ? ", 'on' or 'off'" : " or 'off'";

    if (v->kind == YNODE_MAP) {
        *out = YSECTION_MAP;
        return 0;
    }
    if (v->kind == YNODE_SCALAR && strcmp(v->str, "off") == 0) {
        *out = YSECTION_OFF;
        return 0;
    }
    if (v->kind == YNODE_SCALAR && allow_on && strcmp(v->str, "on") == 0) {
        *out = YSECTION_ON;
        return 0;
    }
    if (v->kind == YNODE_SCALAR && strcmp(ynode_describe(v), "a scalar") == 0)
        return yerr(cx, v, "expected a mapping%s for '%s', got '%.64s'", words, where, v->str);
    return yerr(cx, v, "expected a mapping%s for '%s', found %s", words, where,
                ynode_describe(v));
}

int yread_file(struct ycx *cx, const struct ynode *n, const char *path, char **out,
               size_t *len)
{
    enum { FILE_MAX = 1u << 20 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return yerr(cx, n, "cannot read '%s': %s", path, strerror(errno));
    char *buf = malloc(FILE_MAX + 1);
    size_t got = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return yerr(cx, n, "out of memory");
    if (got > FILE_MAX) {
        free(buf);
        return yerr(cx, n, "'%s' is larger than 1 MiB", path);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

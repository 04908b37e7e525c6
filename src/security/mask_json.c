/* mask_json.c — see mask_json.h. One state machine over bytes; a stack of frames (object or
 * array, the patterns still alive below it, its current member name or index). Bytes go out
 * as they come, except the characters of a value being masked, held (at most
 * MASK_JSON_VALUE_MAX) until the value ends and then written masked. */
#include "security/mask_json.h"

#include <string.h>

enum st {
    ST_VALUE, ST_OBJ_FIRST, ST_ARR_FIRST, ST_KEY_START, ST_KEY, ST_KEY_ESC, ST_COLON, ST_AFTER,
    ST_STR, ST_STR_ESC, ST_NUM, ST_LIT, ST_DONE, ST_ERR,
};

struct frame {
    uint32_t alive;              /* patterns whose segments so far match this container's path */
    uint32_t index;              /* array: the current element */
    uint16_t key_len;
    bool is_arr, mask_all, key_long;
    char key[MASK_JSON_NAME];
};

struct mask_json {
    const struct mask_json_conf *c;
    uint8_t st;
    bool masking;                /* the current string or number is held and masked */
    bool in_key;
    const char *lit;             /* ST_LIT: the rest of true/false/null */
    uint32_t depth;
    uint64_t total;
    size_t vlen, pend_off, pend_len;
    char val[MASK_JSON_VALUE_MAX + 2];
    struct frame frames[];
};

/* ---- paths ------------------------------------------------------------------------------------ */

int mask_json_add_path(struct mask_json_conf *c, const char *p, const char **why)
{
    if (c->npaths == MASK_JSON_PATHS) {
        *why = "too many paths (16 at most)";
        return -1;
    }
    if (p[0] != '$') {
        *why = "a path starts with '$'";
        return -1;
    }
    struct mask_seg *segs = c->segs[c->npaths];
    uint32_t n = 0;
    for (p++; *p;) {
        if (n == MASK_JSON_SEGS) {
            *why = "a path has at most 16 segments";
            return -1;
        }
        struct mask_seg *s = &segs[n++];
        memset(s, 0, sizeof(*s));
        if (p[0] == '.' && p[1] == '*') {
            s->kind = SEG_ANY_KEY;
            p += 2;
        } else if (p[0] == '.') {
            const char *e = ++p;
            while (*e && *e != '.' && *e != '[')
                e++;
            if (e == p || (size_t)(e - p) >= MASK_JSON_NAME) {
                *why = "an empty or too long member name";
                return -1;
            }
            s->kind = SEG_KEY;
            s->len = (uint32_t)(e - p);
            memcpy(s->name, p, s->len);
            p = e;
        } else if (p[0] == '[' && p[1] == '*' && p[2] == ']') {
            s->kind = SEG_ANY_INDEX;
            p += 3;
        } else if (p[0] == '[' && p[1] == '\'') {
            const char *e = strchr(p + 2, '\'');
            if (!e || e[1] != ']' || e == p + 2 || (size_t)(e - p - 2) >= MASK_JSON_NAME) {
                *why = "a ['name'] segment is not closed or is empty";
                return -1;
            }
            s->kind = SEG_KEY;
            s->len = (uint32_t)(e - p - 2);
            memcpy(s->name, p + 2, s->len);
            p = e + 2;
        } else if (p[0] == '[' && p[1] >= '0' && p[1] <= '9') {
            uint64_t v = 0;
            for (p++; *p >= '0' && *p <= '9' && v < UINT32_MAX; p++)
                v = v * 10 + (uint64_t)(*p - '0');
            if (*p != ']' || v >= UINT32_MAX) {
                *why = "a [N] segment is not a number";
                return -1;
            }
            s->kind = SEG_INDEX;
            s->index = (uint32_t)v;
            p++;
        } else {
            *why = "expected .name, ['name'], .*, [*] or [N]";
            return -1;
        }
    }
    c->nsegs[c->npaths++] = n;
    return 0;
}

/* ---- masking a string ------------------------------------------------------------------------ */

static bool is_alnum(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The length of the unit at v[i] (an escape, a UTF-8 sequence or one byte) and whether it is a
 * character to mask (not punctuation). */
static size_t unit(const char *v, size_t n, size_t i, bool *maskable)
{
    unsigned char ch = (unsigned char)v[i];
    size_t len = 1;
    if (ch == '\\') {
        len = i + 1 < n && v[i + 1] == 'u' ? 6 : 2;
        *maskable = true;
    } else if (ch >= 0x80) {
        while (i + len < n && ((unsigned char)v[i + len] & 0xc0) == 0x80)
            len++;
        *maskable = true;
    } else {
        *maskable = is_alnum(ch);
    }
    return i + len <= n ? len : n - i;
}

void mask_json_string(char *v, size_t n, uint32_t keep_head, uint32_t keep_tail)
{
    size_t total = 0;
    bool mk;
    for (size_t i = 0; i < n;) {
        size_t l = unit(v, n, i, &mk);
        total += mk;
        i += l;
    }
    bool all = total <= (size_t)keep_head + keep_tail;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = unit(v, n, i, &mk);
        if (mk) {
            if (all || (k >= keep_head && k + keep_tail < total))
                memset(v + i, '*', l);
            k++;
        }
        i += l;
    }
}

/* ---- the machine ------------------------------------------------------------------------------ */

size_t mask_json_size(const struct mask_json_conf *c)
{
    uint32_t d = c->max_depth ? c->max_depth : 64;
    if (d > MASK_JSON_DEPTH_MAX)
        d = MASK_JSON_DEPTH_MAX;
    return sizeof(struct mask_json) + (size_t)d * sizeof(struct frame);
}

struct mask_json *mask_json_init(void *mem, const struct mask_json_conf *c)
{
    struct mask_json *m = mem;
    memset(m, 0, sizeof(*m));
    m->c = c;
    m->st = ST_VALUE;
    return m;
}

static uint32_t max_depth(const struct mask_json *m)
{
    uint32_t d = m->c->max_depth ? m->c->max_depth : 64;
    return d > MASK_JSON_DEPTH_MAX ? MASK_JSON_DEPTH_MAX : d;
}

static bool seg_match(const struct mask_seg *s, const struct frame *f)
{
    switch (s->kind) {
    case SEG_KEY:
        return !f->is_arr && !f->key_long && f->key_len == s->len &&
               memcmp(f->key, s->name, s->len) == 0;
    case SEG_ANY_KEY:
        return !f->is_arr;
    case SEG_ANY_INDEX:
        return f->is_arr;
    case SEG_INDEX:
    default:
        return f->is_arr && f->index == s->index;
    }
}

/* For a value starting now: is it masked, and which patterns live on below it. */
static bool value_match(const struct mask_json *m, uint32_t *alive)
{
    const struct mask_json_conf *c = m->c;
    bool mask = false;
    *alive = 0;
    if (!m->depth) {
        for (uint32_t p = 0; p < c->npaths; p++) {
            if (c->nsegs[p] == 0)
                mask = true;
            else
                *alive |= 1u << p;
        }
        return mask;
    }
    const struct frame *f = &m->frames[m->depth - 1];
    uint32_t k = m->depth - 1;
    for (uint32_t p = 0; p < c->npaths; p++) {
        if (!(f->alive >> p & 1) || !seg_match(&c->segs[p][k], f))
            continue;
        if (c->nsegs[p] == k + 1)
            mask = true;
        else
            *alive |= 1u << p;
    }
    return mask || f->mask_all;
}

static int fail(struct mask_json *m)
{
    m->st = ST_ERR;
    return -1;
}

enum { EMIT, HOLD, AGAIN, ERR };

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int push(struct mask_json *m, bool arr, uint32_t alive, bool mask)
{
    if (m->depth == max_depth(m))
        return ERR;
    struct frame *f = &m->frames[m->depth++];
    f->alive = alive;
    f->index = 0;
    f->key_len = 0;
    f->is_arr = arr;
    f->mask_all = mask;
    f->key_long = false;
    m->st = arr ? ST_ARR_FIRST : ST_OBJ_FIRST;
    return EMIT;
}

/* Ends a held value: what is held (masked) goes out next. */
static void release(struct mask_json *m, bool number)
{
    if (number) {
        m->val[0] = '0';
        memset(m->val + 1, ' ', m->vlen > 0 ? m->vlen - 1 : 0);
    } else {
        mask_json_string(m->val, m->vlen, m->c->keep_head, m->c->keep_tail);
        m->val[m->vlen++] = '"';
    }
    m->pend_off = 0;
    m->pend_len = m->vlen;
    m->vlen = 0;
    m->masking = false;
}

static int begin_value(struct mask_json *m, char ch)
{
    uint32_t alive;
    bool mask = value_match(m, &alive);
    switch (ch) {
    case '{':
        return push(m, false, alive, mask);
    case '[':
        return push(m, true, alive, mask);
    case '"':
        m->st = ST_STR;
        m->in_key = false;
        m->masking = mask;
        m->vlen = 0;
        return EMIT;
    case 't':
        m->lit = "rue";
        m->st = ST_LIT;
        return EMIT;
    case 'f':
        m->lit = "alse";
        m->st = ST_LIT;
        return EMIT;
    case 'n':
        m->lit = "ull";
        m->st = ST_LIT;
        return EMIT;
    default:
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
            m->st = ST_NUM;
            m->masking = mask;
            m->vlen = 0;
            if (!mask)
                return EMIT;
            m->val[m->vlen++] = ch;
            return HOLD;
        }
        return ERR;
    }
}

static int after_value(struct mask_json *m)
{
    m->st = m->depth ? ST_AFTER : ST_DONE;
    return AGAIN;
}

static int step(struct mask_json *m, char ch)
{
    struct frame *f = m->depth ? &m->frames[m->depth - 1] : NULL;
    switch (m->st) {
    case ST_VALUE:
        return is_ws(ch) ? EMIT : begin_value(m, ch);
    case ST_ARR_FIRST:
        if (is_ws(ch))
            return EMIT;
        if (ch == ']') {
            m->depth--;
            after_value(m);
            return EMIT;
        }
        m->st = ST_VALUE;
        return AGAIN;
    case ST_OBJ_FIRST:
    case ST_KEY_START:
        if (is_ws(ch))
            return EMIT;
        if (ch == '}' && m->st == ST_OBJ_FIRST) {
            m->depth--;
            after_value(m);
            return EMIT;
        }
        if (ch != '"')
            return ERR;
        f->key_len = 0;
        f->key_long = false;
        m->st = ST_KEY;
        return EMIT;
    case ST_KEY:
    case ST_KEY_ESC:
        if ((unsigned char)ch < 0x20)
            return ERR;
        if (m->st == ST_KEY && ch == '"') {
            m->st = ST_COLON;
            return EMIT;
        }
        m->st = m->st == ST_KEY && ch == '\\' ? ST_KEY_ESC : ST_KEY;
        if (f->key_len < MASK_JSON_NAME)
            f->key[f->key_len++] = ch;
        else
            f->key_long = true;
        return EMIT;
    case ST_COLON:
        if (is_ws(ch))
            return EMIT;
        if (ch != ':')
            return ERR;
        m->st = ST_VALUE;
        return EMIT;
    case ST_AFTER:
        if (is_ws(ch))
            return EMIT;
        if (ch == ',') {
            if (f->is_arr) {
                f->index++;
                m->st = ST_VALUE;
            } else {
                m->st = ST_KEY_START;
            }
            return EMIT;
        }
        if (ch == (f->is_arr ? ']' : '}')) {
            m->depth--;
            after_value(m);
            return EMIT;
        }
        return ERR;
    case ST_STR:
    case ST_STR_ESC:
        if ((unsigned char)ch < 0x20)
            return ERR;
        if (m->st == ST_STR && ch == '"') {
            if (m->masking) {
                release(m, false); /* the closing quote goes out with the value */
                after_value(m);
                return HOLD;
            }
            after_value(m);
            return EMIT;
        }
        m->st = m->st == ST_STR && ch == '\\' ? ST_STR_ESC : ST_STR;
        if (!m->masking)
            return EMIT;
        if (m->vlen == MASK_JSON_VALUE_MAX)
            return ERR;
        m->val[m->vlen++] = ch;
        return HOLD;
    case ST_NUM:
        if ((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' ||
            ch == '-') {
            if (!m->masking)
                return EMIT;
            if (m->vlen == MASK_JSON_VALUE_MAX)
                return ERR;
            m->val[m->vlen++] = ch;
            return HOLD;
        }
        if (m->masking)
            release(m, true);
        return after_value(m);
    case ST_LIT:
        if (ch != *m->lit)
            return ERR;
        if (!*++m->lit)
            after_value(m);
        return EMIT;
    case ST_DONE:
        return is_ws(ch) ? EMIT : ERR;
    case ST_ERR:
    default:
        return ERR;
    }
}

static bool flush(struct mask_json *m, char *out, size_t cap, size_t *out_len)
{
    while (m->pend_len) {
        if (*out_len == cap)
            return false;
        size_t n = cap - *out_len < m->pend_len ? cap - *out_len : m->pend_len;
        memcpy(out + *out_len, m->val + m->pend_off, n);
        *out_len += n;
        m->pend_off += n;
        m->pend_len -= n;
    }
    return true;
}

/* How many bytes from p are plain string content (no quote, backslash or control byte), at
 * most max. */
static size_t plain_run(const char *p, size_t n, size_t max)
{
    size_t i = 0, lim = n < max ? n : max;
    while (i < lim) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            break;
        i++;
    }
    return i;
}

int mask_json_feed(struct mask_json *m, const char **in, size_t *in_len, char *out, size_t cap,
                   size_t *out_len, bool fin)
{
    /* Locals, written back on the way out: `out` is a char pointer, so stores through it
     * would otherwise make the compiler reload every field through the pointers. */
    const char *p = *in;
    size_t left = *in_len, o = 0;
    uint64_t total = m->total, max = m->c->max_bytes;
    int r = 0;
    *out_len = 0;
    if (m->st == ST_ERR)
        return -1;
    for (;;) {
        if (m->pend_len && !flush(m, out, cap, &o)) {
            r = 1;
            goto out;
        }
        if (!left)
            break;
        if (o == cap) {
            r = 1;
            goto out;
        }
        if (m->st == ST_STR && !m->masking) { /* the bulk of a body: copy a plain run at once */
            size_t run = plain_run(p, left, cap - o);
            if (max && total + run > max)
                run = (size_t)(max - total);
            if (run) {
                memcpy(out + o, p, run);
                o += run;
                p += run;
                left -= run;
                total += run;
                continue;
            }
        }
        char ch = *p;
        int k = step(m, ch);
        if (k == ERR || (k != AGAIN && max && ++total > max)) {
            r = fail(m);
            goto out;
        }
        if (k == AGAIN)
            continue;
        if (k == EMIT)
            out[o++] = ch;
        p++;
        left--;
    }
    if (fin) {
        if (m->st == ST_NUM) {
            if (m->masking)
                release(m, true);
            after_value(m);
            if (!flush(m, out, cap, &o)) {
                r = 1;
                goto out;
            }
        }
        if (!(m->st == ST_DONE || (total == 0 && m->st == ST_VALUE)))
            r = fail(m);
    }
out:
    *in = p;
    *in_len = left;
    *out_len = o;
    m->total = total;
    return r;
}

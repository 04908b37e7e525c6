/* accept_encoding.c — Accept-Encoding parsing and negotiation (see accept_encoding.h). Pure. */
#include "modules/compress/accept_encoding.h"

/* RFC 9110 §5.6.2 tchar. */
static bool ae_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

static size_t ae_skip_ows(const char *p, size_t i, size_t end)
{
    while (i < end && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

static size_t ae_token_end(const char *p, size_t i, size_t end)
{
    while (i < end && ae_tchar((unsigned char)p[i]))
        i++;
    return i;
}

/* qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], in thousandths; -1 if malformed. */
static int ae_qvalue(struct str v)
{
    if (v.len == 0 || v.len > 5 || (v.ptr[0] != '0' && v.ptr[0] != '1'))
        return -1;
    int q = (v.ptr[0] - '0') * ACCEPT_ENCODING_Q_MAX;
    if (v.len == 1)
        return q;
    if (v.ptr[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        char c = v.ptr[i];
        if (c < '0' || c > '9' || (q == ACCEPT_ENCODING_Q_MAX && c != '0'))
            return -1;
        q += (c - '0') * scale;
    }
    return q;
}

/* One list element p[0..len) (between commas). 1: *out set; 0: empty element; -1: malformed. */
static int ae_element(const char *p, size_t len, struct accept_encoding_item *out)
{
    size_t i = ae_skip_ows(p, 0, len);
    if (i == len)
        return 0;
    size_t tok = i;
    i = ae_token_end(p, i, len);
    if (i == tok)
        return -1;
    *out = (struct accept_encoding_item){.coding = str_from(p + tok, i - tok),
                                         .q = ACCEPT_ENCODING_Q_MAX};
    bool weighted = false;
    for (;;) {
        i = ae_skip_ows(p, i, len);
        if (i == len)
            return 1;
        if (p[i] != ';' || weighted)
            return -1;
        i = ae_skip_ows(p, i + 1, len);
        if (i + 2 > len || (p[i] != 'q' && p[i] != 'Q') || p[i + 1] != '=')
            return -1;
        size_t v = i + 2;
        i = ae_token_end(p, v, len);
        out->q = ae_qvalue(str_from(p + v, i - v));
        if (out->q < 0)
            return -1;
        weighted = true;
    }
}

void accept_encoding_iter_init(struct accept_encoding_iter *it, const struct str *values,
                               size_t n)
{
    *it = (struct accept_encoding_iter){.values = values, .n = n};
}

bool accept_encoding_next(struct accept_encoding_iter *it, struct accept_encoding_item *out)
{
    while (it->value < it->n) {
        struct str v = it->values[it->value];
        if (it->pos >= v.len) {
            it->value++;
            it->pos = 0;
            continue;
        }
        const char *start = v.ptr + it->pos;
        const char *comma = memchr(start, ',', v.len - it->pos);
        size_t elen = comma ? (size_t)(comma - start) : v.len - it->pos;
        it->pos += elen + 1; /* past the comma, or past the end */
        if (ae_element(start, elen, out) == 1)
            return true;
    }
    return false;
}

/* "x-gzip" is "gzip" (RFC 9110 §8.4.1.3). */
static bool ae_same_coding(struct str listed, struct str coding)
{
    if (str_eq_nocase(listed, coding))
        return true;
    return str_eq_nocase(coding, STR_LIT("gzip")) && str_eq_nocase(listed, STR_LIT("x-gzip"));
}

static void ae_lower(int *slot, int q)
{
    if (*slot < 0 || q < *slot)
        *slot = q;
}

int accept_encoding_q(const struct str *values, size_t n, struct str coding)
{
    struct accept_encoding_iter it;
    struct accept_encoding_item item;
    int own = -1, star = -1;
    accept_encoding_iter_init(&it, values, n);
    while (accept_encoding_next(&it, &item)) {
        if (ae_same_coding(item.coding, coding))
            ae_lower(&own, item.q);
        else if (str_eq(item.coding, STR_LIT("*")))
            ae_lower(&star, item.q);
    }
    return own >= 0 ? own : star;
}

int accept_encoding_negotiate(const struct str *values, size_t n, const struct str *prefs,
                              size_t nprefs)
{
    if (n == 0)
        return ACCEPT_ENCODING_IDENTITY;
    if (nprefs > ACCEPT_ENCODING_MAX_PREFS)
        nprefs = ACCEPT_ENCODING_MAX_PREFS;

    /* One pass: each preference's own weight, identity's, and the wildcard's. */
    int own[ACCEPT_ENCODING_MAX_PREFS], identity = -1, star = -1;
    for (size_t i = 0; i < nprefs; i++)
        own[i] = -1;
    struct accept_encoding_iter it;
    struct accept_encoding_item item;
    accept_encoding_iter_init(&it, values, n);
    while (accept_encoding_next(&it, &item)) {
        if (str_eq(item.coding, STR_LIT("*"))) {
            ae_lower(&star, item.q);
            continue;
        }
        if (str_eq_nocase(item.coding, STR_LIT("identity")))
            ae_lower(&identity, item.q);
        for (size_t i = 0; i < nprefs; i++)
            if (ae_same_coding(item.coding, prefs[i]))
                ae_lower(&own[i], item.q);
    }

    int best = -1, best_q = 0;
    for (size_t i = 0; i < nprefs; i++) {
        int q = own[i] >= 0 ? own[i] : star; /* not mentioned and no "*": q = -1 */
        if (q > best_q) {
            best = (int)i;
            best_q = q;
        }
    }
    if (identity < 0)
        identity = star; /* still -1 when neither is listed: acceptable, ranked last */
    if (best >= 0 && best_q >= identity)
        return best;
    return identity != 0 ? ACCEPT_ENCODING_IDENTITY : ACCEPT_ENCODING_NONE;
}

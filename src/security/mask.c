/* mask.c — see mask.h. One left-to-right pass; each candidate (a digit run, an e-mail) is
 * recognised at its first character and rewritten in place. */
#include "security/mask.h"

#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '.' || c == '_';
}

bool mask_luhn(const char *s, size_t n)
{
    unsigned sum = 0, k = 0;
    for (size_t i = n; i-- > 0;) {
        if (!is_digit(s[i]))
            continue;
        unsigned d = (unsigned)(s[i] - '0');
        if (k++ & 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return k && sum % 10 == 0;
}

void mask_tail(char *v, size_t n, size_t keep)
{
    size_t kept = 0;
    for (size_t i = n; i-- > 0;) {
        if (kept < keep) {
            kept++;
            continue;
        }
        if (is_alnum(v[i]))
            v[i] = '*';
    }
}

/* A digit run starting at s[i] (card or phone); returns its end, or i when none. */
static size_t digit_run(const char *s, size_t n, size_t i, size_t *ndig, bool *dash_space_only)
{
    size_t j = i, last = i;
    *ndig = 0;
    *dash_space_only = true;
    if (s[j] == '+')
        j++;
    while (j < n) {
        if (is_digit(s[j])) {
            (*ndig)++;
            last = ++j;
        } else if ((s[j] == '-' || s[j] == ' ' || s[j] == '(' || s[j] == ')') && j + 1 < n &&
                   (is_digit(s[j + 1]) || s[j + 1] == '(' || s[j + 1] == ' ')) {
            if (s[j] == '(' || s[j] == ')')
                *dash_space_only = false;
            j++;
        } else {
            break;
        }
    }
    return last;
}

static void mask_digits(char *s, size_t from, size_t to, size_t skip_first, size_t keep_last,
                        size_t ndig)
{
    size_t k = 0;
    for (size_t i = from; i < to; i++) {
        if (!is_digit(s[i]))
            continue;
        if (k >= skip_first && k + keep_last < ndig)
            s[i] = '*';
        k++;
    }
}

/* An e-mail whose '@' is at s[at]: masks the local part but its first character. */
static void mask_email(char *s, size_t n, size_t at)
{
    size_t b = at;
    while (b > 0 && (is_word(s[b - 1]) || s[b - 1] == '-' || s[b - 1] == '+'))
        b--;
    size_t e = at + 1;
    bool dot = false;
    while (e < n && (is_alnum(s[e]) || s[e] == '-' || s[e] == '.')) {
        dot |= s[e] == '.';
        e++;
    }
    if (b == at || !dot || e == at + 1)
        return;
    for (size_t i = b + 1; i < at; i++)
        s[i] = '*';
}

/* Does the text around [i, end) continue a word (a letter, digit or '_' next to it, or a '.'
 * with one beyond: an address, a version, a decimal)? A sentence's full stop does not. */
static bool joined_after(const char *s, size_t n, size_t end)
{
    if (end >= n)
        return false;
    if (s[end] == '.')
        return end + 1 < n && is_alnum(s[end + 1]);
    return is_alnum(s[end]) || s[end] == '_';
}

static bool joined_before(const char *s, size_t i)
{
    if (i == 0)
        return false;
    if (s[i - 1] == '.')
        return i >= 2 && is_alnum(s[i - 2]);
    return is_alnum(s[i - 1]) || s[i - 1] == '_';
}

void mask_inplace(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '@') {
            mask_email(s, n, i);
            continue;
        }
        if (!(is_digit(s[i]) || (s[i] == '+' && i + 1 < n && is_digit(s[i + 1]))))
            continue;
        if (joined_before(s, i)) { /* inside a word: skip past it */
            while (i + 1 < n && is_word(s[i + 1]))
                i++;
            continue;
        }
        size_t ndig;
        bool plain;
        size_t end = digit_run(s, n, i, &ndig, &plain);
        if (joined_after(s, n, end)) {
            while (end < n && is_word(s[end]))
                end++;
            i = end - 1;
            continue;
        }
        if (ndig >= 13 && ndig <= 19 && plain && mask_luhn(s + i, end - i))
            mask_digits(s, i, end, 0, 4, ndig);
        else if (ndig >= 9 && ndig <= 15 && (s[i] == '+' || s[i] == '0' || end - i > ndig))
            mask_digits(s, i, end, 3, 4, ndig); /* a phone: '+', a trunk 0 or separators */
        i = end ? end - 1 : i;
    }
}

size_t mask_text(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = n < cap ? n : cap;
    memcpy(out, s, k);
    mask_inplace(out, k);
    return k;
}

#define P(s) {s, sizeof(s) - 1}
static const struct {
    const char *name;
    size_t len;
} builtin_params[] = {
    P("password"), P("passwd"), P("pwd"), P("pass"), P("token"), P("access_token"),
    P("refresh_token"), P("id_token"), P("api_key"), P("apikey"), P("key"), P("secret"),
    P("client_secret"), P("signature"), P("sig"), P("session"), P("sessionid"), P("auth"),
    P("authorization"), P("cookie")};
#undef P

/* Lengths first: most parameters of a request are not secrets and are rejected by one compare. */
static bool param_named(const char *p, size_t n, char *const *names, uint32_t nnames)
{
    if (!names) {
        for (size_t i = 0; i < sizeof(builtin_params) / sizeof(builtin_params[0]); i++)
            if (builtin_params[i].len == n && strncasecmp(builtin_params[i].name, p, n) == 0)
                return true;
        return false;
    }
    for (uint32_t i = 0; i < nnames; i++)
        if (strncasecmp(names[i], p, n) == 0 && names[i][n] == '\0')
            return true;
    return false;
}

size_t mask_query_params(char *s, size_t n, char *const *names, uint32_t nnames)
{
    char *q = memchr(s, '?', n);
    if (!q)
        return n;
    size_t w = (size_t)(q - s) + 1, r = w;
    while (r < n) {
        size_t e = r;
        while (e < n && s[e] != '&')
            e++;
        char *eq = memchr(s + r, '=', e - r);
        size_t klen = eq ? (size_t)(eq - (s + r)) : e - r;
        bool hide = eq && e - r > klen + 1 && param_named(s + r, klen, names, nnames);
        size_t keep = hide ? klen + 1 : e - r;
        memmove(s + w, s + r, keep);
        w += keep;
        if (hide) {
            size_t stars = e - r - klen - 1 < 3 ? e - r - klen - 1 : 3;
            memset(s + w, '*', stars);
            w += stars;
        }
        if (e < n)
            s[w++] = '&';
        r = e + 1;
    }
    return w;
}

size_t mask_target(char *s, size_t n, char *const *names, uint32_t nnames)
{
    n = mask_query_params(s, n, names, nnames);
    mask_inplace(s, n);
    return n;
}

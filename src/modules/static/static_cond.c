/* static_cond.c — ETag, HTTP dates, preconditions and ranges (see static_cond.h).
 *
 * Dates are converted with the days-from-civil arithmetic (proleptic Gregorian calendar, UTC),
 * so nothing here depends on the locale, the TZ variable, or libc's time functions. */
#include "modules/static/static_cond.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int static_cond_etag(const struct stat *st, struct str coding, char out[STATIC_ETAG_MAX])
{
    if (coding.len > 8)
        return -1;
    uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    int n = snprintf(out, STATIC_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64, ns, (uint64_t)st->st_size);
    if (coding.len) {
        out[n++] = '-';
        memcpy(out + n, coding.ptr, coding.len);
        n += (int)coding.len;
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Days since 1970-01-01 of y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void static_cond_date_format(int64_t t, char out[STATIC_DATE_LEN + 1])
{
    int64_t days = floor_div(t, 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    if (y < 0 || y > 9999) { /* IMF-fixdate has a 4-digit year: clamp the absurd */
        y = y < 0 ? 0 : 9999;
    }
    snprintf(out, STATIC_DATE_LEN + 1, "%s, %02u %s %04u %02u:%02u:%02u GMT", wday_names[wd], d,
             month_names[m - 1], (unsigned)y, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
             (unsigned)(secs % 60));
}

/* Reads exactly n digits at *p; false when one is not a digit. */
static bool digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    if (end - *p < n)
        return false;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool month(const char **p, const char *end, unsigned *m)
{
    for (unsigned i = 0; i < 12; i++)
        if (lit(p, end, month_names[i])) {
            *m = i + 1;
            return true;
        }
    return false;
}

/* "HH:MM:SS" */
static bool hms(const char **p, const char *end, unsigned *secs)
{
    unsigned h, mi, s;
    if (!digits(p, end, 2, &h) || !lit(p, end, ":") || !digits(p, end, 2, &mi) ||
        !lit(p, end, ":") || !digits(p, end, 2, &s))
        return false;
    if (h > 23 || mi > 59 || s > 60)
        return false;
    if (s == 60) /* a leap second: keep it inside its minute, so 9999-12-31 stays in range */
        s = 59;
    *secs = h * 3600 + mi * 60 + s;
    return true;
}

static bool day_ok(int64_t y, unsigned m, unsigned d)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d >= 1 && d <= mdays[m - 1] + (m == 2 && leap);
}

bool static_cond_date_parse(struct str s, int64_t now, int64_t *out)
{
    s = str_trim_ows(s);
    if (!s.ptr)
        return false;
    const char *p = s.ptr, *end = s.ptr + s.len;
    unsigned d = 0, m = 0, yy = 0, secs = 0;
    int64_t y;
    int wd = -1;
    for (int i = 0; i < 7 && wd < 0; i++) {
        const char *q = p;
        if (lit(&q, end, wday_long[i]) && lit(&q, end, ", ")) {
            /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
            p = q;
            wd = i;
            if (!digits(&p, end, 2, &d) || !lit(&p, end, "-") || !month(&p, end, &m) ||
                !lit(&p, end, "-") || !digits(&p, end, 2, &yy) || !lit(&p, end, " ") ||
                !hms(&p, end, &secs) || !lit(&p, end, " GMT") || p != end)
                return false;
            int64_t ny;
            unsigned nm, nd;
            civil_from_days(floor_div(now, 86400), &ny, &nm, &nd);
            y = ny - ny % 100 + yy;
            if (y > ny + 50)
                y -= 100;
            else if (y < ny - 50)
                y += 100;
            goto done;
        }
    }
    for (int i = 0; i < 7 && wd < 0; i++)
        if (lit(&p, end, wday_names[i]))
            wd = i;
    if (wd < 0)
        return false;
    if (lit(&p, end, ", ")) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        unsigned y4;
        if (!digits(&p, end, 2, &d) || !lit(&p, end, " ") || !month(&p, end, &m) ||
            !lit(&p, end, " ") || !digits(&p, end, 4, &y4) || !lit(&p, end, " ") ||
            !hms(&p, end, &secs) || !lit(&p, end, " GMT") || p != end)
            return false;
        y = y4;
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        unsigned y4;
        if (!lit(&p, end, " ") || !month(&p, end, &m) || !lit(&p, end, " "))
            return false;
        if (!(lit(&p, end, " ") ? digits(&p, end, 1, &d) : digits(&p, end, 2, &d)) ||
            !lit(&p, end, " ") || !hms(&p, end, &secs) || !lit(&p, end, " ") ||
            !digits(&p, end, 4, &y4) || p != end)
            return false;
        y = y4;
    }
done:
    if (!day_ok(y, m, d))
        return false;
    *out = days_from_civil(y, m, d) * 86400 + secs;
    return true;
}

static bool etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

bool static_cond_etag_match(struct str list, struct str etag, bool weak)
{
    struct str t = str_trim_ows(list);
    if (t.len == 1 && t.ptr[0] == '*')
        return true;
    bool etag_weak = etag.len >= 2 && etag.ptr[0] == 'W' && etag.ptr[1] == '/';
    struct str opaque = etag_weak ? str_from(etag.ptr + 2, etag.len - 2) : etag;
    if ((etag_weak && !weak) || !t.ptr)
        return false;
    const char *p = t.ptr, *end = t.ptr + t.len;
    bool found = false;
    while (p < end) {
        if (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        bool w = false;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            w = true;
            p += 2;
        }
        if (p == end || *p != '"')
            return false;
        const char *start = p++;
        while (p < end && etagc((unsigned char)*p))
            p++;
        if (p == end || *p != '"')
            return false;
        p++;
        struct str tag = str_from(start, (size_t)(p - start));
        if (str_eq(tag, opaque) && (weak || !w))
            found = true; /* keep going: a later syntax error still voids the list */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != ',')
            return false;
    }
    return found;
}

/* Reads 1+ digits, saturating at UINT64_MAX; false when there is none. */
static bool number(const char **p, const char *end, uint64_t *out)
{
    const char *start = *p;
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        unsigned dgt = (unsigned)(**p - '0');
        v = v > (UINT64_MAX - dgt) / 10 ? UINT64_MAX : v * 10 + dgt;
        (*p)++;
    }
    *out = v;
    return *p != start;
}

enum static_range_result static_cond_range(struct str value, uint64_t size, uint64_t *offset,
                                           uint64_t *length)
{
    struct str v = str_trim_ows(value);
    if (size == 0 || v.len < 6 || strncasecmp(v.ptr, "bytes=", 6) != 0)
        return STATIC_RANGE_IGNORE;
    const char *p = v.ptr + 6, *end = v.ptr + v.len;
    uint64_t first[STATIC_RANGE_MAX_SPECS], last[STATIC_RANGE_MAX_SPECS];
    int nspec = 0, nsat = 0;
    while (p < end) {
        if (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        if (++nspec > STATIC_RANGE_MAX_SPECS)
            return STATIC_RANGE_IGNORE;
        uint64_t a, b;
        if (*p == '-') {
            p++;
            if (!number(&p, end, &b))
                return STATIC_RANGE_IGNORE;
            if (b > 0) {
                first[nsat] = b >= size ? 0 : size - b;
                last[nsat++] = size - 1;
            }
        } else {
            if (!number(&p, end, &a) || p == end || *p++ != '-')
                return STATIC_RANGE_IGNORE;
            bool open = !number(&p, end, &b);
            if (!open && b < a)
                return STATIC_RANGE_IGNORE;
            if (a < size) {
                first[nsat] = a;
                last[nsat++] = open || b >= size ? size - 1 : b;
            }
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != ',')
            return STATIC_RANGE_IGNORE;
    }
    if (nspec == 0)
        return STATIC_RANGE_IGNORE;
    if (nsat == 0)
        return STATIC_RANGE_UNSATISFIABLE;
    /* Sort by start (at most 16), then merge; more than one span left → whole file. */
    for (int i = 1; i < nsat; i++)
        for (int j = i; j > 0 && first[j] < first[j - 1]; j--) {
            uint64_t tf = first[j], tl = last[j];
            first[j] = first[j - 1];
            last[j] = last[j - 1];
            first[j - 1] = tf;
            last[j - 1] = tl;
        }
    uint64_t lo = first[0], hi = last[0];
    for (int i = 1; i < nsat; i++) {
        if (first[i] > hi + 1)
            return STATIC_RANGE_IGNORE;
        if (last[i] > hi)
            hi = last[i];
    }
    *offset = lo;
    *length = hi - lo + 1;
    return STATIC_RANGE_OK;
}

/* If-Range: an entity-tag (strong comparison) or a date equal to Last-Modified. */
static bool if_range_holds(const struct static_cond_req *req, const struct static_cond_rep *rep)
{
    struct str v = str_trim_ows(req->if_range);
    if (v.len && (v.ptr[0] == '"' || v.ptr[0] == 'W')) {
        if (v.ptr[0] == 'W')
            return false; /* a weak tag never satisfies If-Range */
        return str_eq(v, rep->etag);
    }
    int64_t t;
    return static_cond_date_parse(v, req->now, &t) && t == rep->last_modified;
}

void static_cond_evaluate(const struct static_cond_req *req, const struct static_cond_rep *rep,
                          struct static_cond_decision *out)
{
    *out = (struct static_cond_decision){.status = 200, .offset = 0, .length = rep->size};
    bool get_head = req->method == STATIC_GET || req->method == STATIC_HEAD;
    int64_t t;

    /* §13.2.2 steps 1-2: the state-changing preconditions */
    if (req->if_match.ptr) {
        if (!static_cond_etag_match(req->if_match, rep->etag, false)) {
            out->status = 412;
            return;
        }
    } else if (req->if_unmodified_since.ptr &&
               static_cond_date_parse(req->if_unmodified_since, req->now, &t) &&
               rep->last_modified > t) {
        out->status = 412;
        return;
    }
    /* steps 3-4: cache validation */
    if (req->if_none_match.ptr) {
        if (static_cond_etag_match(req->if_none_match, rep->etag, true)) {
            out->status = get_head ? 304 : 412;
            return;
        }
    } else if (get_head && req->if_modified_since.ptr &&
               static_cond_date_parse(req->if_modified_since, req->now, &t) &&
               rep->last_modified <= t) {
        out->status = 304;
        return;
    }
    /* step 5: ranges, GET only */
    if (req->method != STATIC_GET || !req->range.ptr)
        return;
    if (req->if_range.ptr && !if_range_holds(req, rep))
        return;
    uint64_t off, len;
    switch (static_cond_range(req->range, rep->size, &off, &len)) {
    case STATIC_RANGE_OK:
        *out = (struct static_cond_decision){.status = 206, .offset = off, .length = len};
        break;
    case STATIC_RANGE_UNSATISFIABLE:
        *out = (struct static_cond_decision){.status = 416, .offset = 0, .length = 0};
        break;
    case STATIC_RANGE_IGNORE:
        break;
    }
}

int static_cond_content_range(const struct static_cond_decision *d, uint64_t size, char *out,
                              size_t cap)
{
    if (d->status == 416)
        return snprintf(out, cap, "bytes */%" PRIu64, size);
    return snprintf(out, cap, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, d->offset,
                    d->offset + d->length - 1, size);
}

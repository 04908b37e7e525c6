/* compress_policy.c — the compress/decode decision and its header edits (compress_policy.h).
 * Pure: no allocation, no I/O, no global state. */
#include "modules/compress/compress_policy.h"

#include "modules/compress/accept_encoding.h"

#define VARY_AE "Accept-Encoding"

static bool hdr_is(const struct compress_header *h, const char *name)
{
    return str_eq_nocase(h->name, str_cstr(name));
}

/* Calls fn on each trimmed, non-empty element of a comma-separated value; stops early when fn
 * returns true and returns true then. A comma inside a quoted string splits it too: for the
 * lists read here (Cache-Control, Vary, Content-Encoding) that can only make the policy skip
 * a transform it could have done, never do one it should not. */
static bool list_any(struct str v, bool (*fn)(struct str elem, void *arg), void *arg)
{
    size_t i = 0;
    while (i <= v.len) {
        const char *comma = i < v.len ? memchr(v.ptr + i, ',', v.len - i) : NULL;
        size_t end = comma ? (size_t)(comma - v.ptr) : v.len;
        struct str e = str_trim_ows(str_from(v.ptr + i, end - i));
        if (e.len && fn(e, arg))
            return true;
        i = end + 1;
    }
    return false;
}

static bool is_no_transform(struct str e, void *arg)
{
    (void)arg;
    return str_eq_nocase(e, STR_LIT("no-transform"));
}

static bool is_vary_cover(struct str e, void *arg)
{
    (void)arg;
    return str_eq(e, STR_LIT("*")) || str_eq_nocase(e, STR_LIT(VARY_AE));
}

/* Counts the non-identity codings of a Content-Encoding value, keeping the first. */
static bool note_coding(struct str e, void *arg)
{
    struct compress_facts *f = arg;
    if (str_eq_nocase(e, STR_LIT("identity")))
        return false;
    if (f->content_encoding.len)
        f->multi_encoded = true;
    else
        f->content_encoding = e;
    return false;
}

static int64_t parse_length(struct str v)
{
    if (v.len == 0 || v.len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return -1;
        n = n * 10 + (v.ptr[i] - '0');
    }
    return n;
}

void compress_policy_facts(struct compress_facts *f, struct str method, int status,
                           const struct compress_header *h, size_t n)
{
    *f = (struct compress_facts){
        .head = str_eq(method, STR_LIT("HEAD")), .status = status, .content_length = -1};
    bool have_type = false;
    for (size_t i = 0; i < n; i++) {
        if (hdr_is(&h[i], "content-type") && !have_type) {
            f->content_type = str_trim_ows(h[i].value);
            have_type = true;
        } else if (hdr_is(&h[i], "content-encoding")) {
            list_any(h[i].value, note_coding, f);
        } else if (hdr_is(&h[i], "cache-control")) {
            f->no_transform |= list_any(h[i].value, is_no_transform, NULL);
        } else if (hdr_is(&h[i], "content-length")) {
            f->content_length = parse_length(str_trim_ows(h[i].value));
        }
    }
}

static bool status_has_transformable_body(int status)
{
    return status >= 200 && status != 204 && status != 205 && status != 206 && status != 304;
}

enum compress_verdict compress_policy_decide(const struct compress_config *c,
                                             const struct compress_facts *f)
{
    if (f->head)
        return COMPRESS_SKIP_HEAD;
    if (!status_has_transformable_body(f->status))
        return COMPRESS_SKIP_STATUS;
    if (f->content_encoding.len || f->multi_encoded)
        return COMPRESS_SKIP_ENCODED;
    if (f->no_transform)
        return COMPRESS_SKIP_NO_TRANSFORM;
    if (!compress_policy_type_allowed(c, f->content_type))
        return COMPRESS_SKIP_TYPE;
    if (f->content_length == 0 ||
        (f->content_length > 0 && (uint64_t)f->content_length < c->min_length))
        return COMPRESS_SKIP_SMALL;
    return COMPRESS_ELIGIBLE;
}

const char *compress_policy_verdict_name(enum compress_verdict v)
{
    switch (v) {
    case COMPRESS_ELIGIBLE: return "eligible";
    case COMPRESS_SKIP_HEAD: return "head";
    case COMPRESS_SKIP_STATUS: return "status";
    case COMPRESS_SKIP_ENCODED: return "encoded";
    case COMPRESS_SKIP_NO_TRANSFORM: return "no-transform";
    case COMPRESS_SKIP_TYPE: return "type";
    case COMPRESS_SKIP_SMALL: return "small";
    }
    return "?";
}

static bool type_matches(struct str pattern, struct str type, struct str subtype,
                         struct str full)
{
    if (str_eq(pattern, STR_LIT("*")) || str_eq(pattern, STR_LIT("*/*")))
        return true;
    if (pattern.len > 1 && pattern.ptr[0] == '+')
        return subtype.len > pattern.len && str_has_suffix_nocase(subtype, pattern);
    if (pattern.len > 2 && pattern.ptr[pattern.len - 2] == '/' && pattern.ptr[pattern.len - 1] == '*')
        return str_eq_nocase(str_from(pattern.ptr, pattern.len - 2), type);
    return str_eq_nocase(pattern, full);
}

bool compress_policy_type_allowed(const struct compress_config *c, struct str content_type)
{
    const char *semi = content_type.len ? memchr(content_type.ptr, ';', content_type.len) : NULL;
    struct str full = str_trim_ows(
        semi ? str_from(content_type.ptr, (size_t)(semi - content_type.ptr)) : content_type);
    const char *slash = full.len ? memchr(full.ptr, '/', full.len) : NULL;
    if (!slash || slash == full.ptr || slash == full.ptr + full.len - 1)
        return false; /* absent or not type/subtype */
    struct str type = str_from(full.ptr, (size_t)(slash - full.ptr));
    struct str subtype = str_from(slash + 1, full.len - type.len - 1);
    for (size_t i = 0; i < c->ntypes; i++)
        if (type_matches(c->types[i], type, subtype, full))
            return true;
    return false;
}

const struct compress_coding *compress_policy_choose(const struct compress_config *c,
                                                     const struct str *values, size_t n)
{
    struct str names[COMPRESS_MAX_CODINGS];
    size_t k = c->ncodings < COMPRESS_MAX_CODINGS ? c->ncodings : COMPRESS_MAX_CODINGS;
    for (size_t i = 0; i < k; i++)
        names[i] = str_cstr(c->codings[i].ops->name);
    int pick = accept_encoding_negotiate(values, n, names, k);
    return pick >= 0 ? &c->codings[pick] : NULL;
}

const struct compress_codec_ops *compress_policy_decoder(const struct compress_config *c,
                                                         const struct compress_facts *f,
                                                         const struct str *values, size_t n)
{
    if (!c->decompress || f->head || !status_has_transformable_body(f->status) ||
        f->no_transform || f->multi_encoded || f->content_encoding.len == 0)
        return NULL;
    struct str coding = f->content_encoding;
    if (str_eq_nocase(coding, STR_LIT("x-gzip")))
        coding = STR_LIT("gzip");
    const struct compress_codec_ops *ops = compress_codec_find(coding);
    if (!ops || accept_encoding_q(values, n, coding) > 0)
        return NULL;
    return ops;
}

bool compress_policy_vary_covers(struct str vary)
{
    return list_any(vary, is_vary_cover, NULL);
}

struct str compress_policy_weak_etag(struct str etag, char *buf, size_t cap)
{
    etag = str_trim_ows(etag);
    if (etag.len < 2 || etag.ptr[0] != '"' || etag.ptr[etag.len - 1] != '"')
        return etag; /* weak (W/"...") already, or not an entity-tag: leave it alone */
    if (cap < etag.len + 2)
        return STR_NULL;
    memcpy(buf, "W/", 2);
    memcpy(buf + 2, etag.ptr, etag.len);
    return str_from(buf, etag.len + 2);
}

/* --- edits on a header list --- */

static void hdr_remove(struct compress_headers *h, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!hdr_is(&h->v[i], name))
            h->v[j++] = h->v[i];
    h->n = j;
}

static size_t hdr_count(const struct compress_headers *h, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        k += hdr_is(&h->v[i], name);
    return k;
}

/* The Vary line to extend (-1: none, add one), or -2 when Vary already covers us. */
static long vary_target(const struct compress_headers *h)
{
    long last = -1;
    for (size_t i = 0; i < h->n; i++) {
        if (!hdr_is(&h->v[i], "vary"))
            continue;
        if (compress_policy_vary_covers(h->v[i].value))
            return -2;
        last = (long)i;
    }
    return last;
}

static bool etag_strong(struct str v)
{
    v = str_trim_ows(v);
    return v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"';
}

/* Whether every edit fits, checked before any is made, so a failure leaves h unchanged:
 * `removed` headers go, `added` come (Vary may add one more), ETags and Vary need scratch. */
static bool edits_fit(const struct compress_headers *h, size_t removed, size_t added)
{
    size_t scratch = 0, slots = h->n - removed + added;
    for (size_t i = 0; i < h->n; i++)
        if (hdr_is(&h->v[i], "etag") && etag_strong(h->v[i].value))
            scratch += str_trim_ows(h->v[i].value).len + 2;
    long vary = vary_target(h);
    if (vary == -1)
        slots++;
    else if (vary >= 0)
        scratch += h->v[vary].value.len + sizeof(", " VARY_AE);
    return slots <= h->cap && scratch <= h->scratch_cap - h->scratch_used;
}

int compress_policy_vary(struct compress_headers *h)
{
    long vary = vary_target(h);
    if (vary == -2)
        return 0;
    if (!edits_fit(h, 0, 0))
        return -1;
    if (vary == -1) {
        h->v[h->n++] = (struct compress_header){STR_LIT("Vary"), STR_LIT(VARY_AE)};
        return 0;
    }
    struct str old = str_trim_ows(h->v[vary].value);
    char *p = h->scratch + h->scratch_used;
    size_t len = 0;
    if (old.len) {
        memcpy(p, old.ptr, old.len);
        memcpy(p + old.len, ", ", 2);
        len = old.len + 2;
    }
    memcpy(p + len, VARY_AE, sizeof(VARY_AE) - 1);
    len += sizeof(VARY_AE) - 1;
    h->scratch_used += len;
    h->v[vary].value = str_from(p, len);
    return 0;
}

/* The edits common to encoding and decoding, once edits_fit said yes. */
static void representation_changed(struct compress_headers *h)
{
    hdr_remove(h, "content-length");
    hdr_remove(h, "accept-ranges"); /* ranges stay served from the identity form (206: skip) */
    for (size_t i = 0; i < h->n; i++) {
        if (!hdr_is(&h->v[i], "etag"))
            continue;
        struct str w = compress_policy_weak_etag(h->v[i].value, h->scratch + h->scratch_used,
                                                 h->scratch_cap - h->scratch_used);
        if (w.ptr == h->scratch + h->scratch_used)
            h->scratch_used += w.len;
        h->v[i].value = w;
    }
    compress_policy_vary(h); /* fits: counted by edits_fit */
}

int compress_policy_encode_headers(struct compress_headers *h, struct str coding)
{
    size_t removed = hdr_count(h, "content-length") + hdr_count(h, "accept-ranges") +
                     hdr_count(h, "content-encoding");
    if (!edits_fit(h, removed, 1))
        return -1;
    hdr_remove(h, "content-encoding"); /* "identity" at most: decide() saw no other coding */
    representation_changed(h);
    h->v[h->n++] = (struct compress_header){STR_LIT("Content-Encoding"), coding};
    return 0;
}

int compress_policy_decode_headers(struct compress_headers *h)
{
    size_t removed = hdr_count(h, "content-length") + hdr_count(h, "accept-ranges") +
                     hdr_count(h, "content-encoding");
    if (!edits_fit(h, removed, 0))
        return -1;
    hdr_remove(h, "content-encoding");
    representation_changed(h);
    return 0;
}

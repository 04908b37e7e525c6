/* test_compress_policy.c — the compress decision (method, status, encoded, no-transform,
 * content types with wildcards and suffixes, min length), the choice of coding from the
 * configuration, the decode decision, and the header edits: Content-Length and Accept-Ranges
 * dropped, Content-Encoding set, ETag weakened, Vary merged once (never on "*"), all or nothing
 * when room runs out; and the config defaults and checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "modules/compress/compress_policy.h"

#define H(n, v) ((struct compress_header){STR_LIT(n), STR_LIT(v)})

static struct compress_config cfg;

static int setup(void **state)
{
    (void)state;
    compress_config_defaults(&cfg);
    return 0;
}

static enum compress_verdict verdict(const char *method, int status,
                                     const struct compress_header *h, size_t n)
{
    struct compress_facts f;
    compress_policy_facts(&f, str_cstr(method), status, h, n);
    return compress_policy_decide(&cfg, &f);
}

static void test_eligible_basics(void **state)
{
    (void)state;
    struct compress_header h[] = {H("Content-Type", "application/json"),
                                  H("Content-Length", "5000")};
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_ELIGIBLE);
    assert_int_equal(verdict("POST", 201, h, 2), COMPRESS_ELIGIBLE);
    assert_int_equal(verdict("GET", 404, h, 2), COMPRESS_ELIGIBLE);
    assert_int_equal(verdict("GET", 500, h, 2), COMPRESS_ELIGIBLE);
    assert_int_equal(verdict("GET", 200, h, 1), COMPRESS_ELIGIBLE); /* length unknown */
}

static void test_method_and_status(void **state)
{
    (void)state;
    struct compress_header h[] = {H("Content-Type", "text/html")};
    assert_int_equal(verdict("HEAD", 200, h, 1), COMPRESS_SKIP_HEAD);
    assert_int_equal(verdict("head", 200, h, 1), COMPRESS_ELIGIBLE); /* methods are case-sensitive */
    static const int skip[] = {100, 101, 103, 199, 204, 205, 206, 304};
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        assert_int_equal(verdict("GET", skip[i], h, 1), COMPRESS_SKIP_STATUS);
    static const int ok[] = {200, 203, 301, 302, 400, 403, 410, 503};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(verdict("GET", ok[i], h, 1), COMPRESS_ELIGIBLE);
}

static void test_already_encoded_and_no_transform(void **state)
{
    (void)state;
    struct compress_header enc[] = {H("Content-Type", "text/html"), H("Content-Encoding", "gzip")};
    assert_int_equal(verdict("GET", 200, enc, 2), COMPRESS_SKIP_ENCODED);
    struct compress_header ident[] = {H("Content-Type", "text/html"),
                                      H("content-encoding", " identity ")};
    assert_int_equal(verdict("GET", 200, ident, 2), COMPRESS_ELIGIBLE);
    struct compress_header stacked[] = {H("Content-Type", "text/html"),
                                        H("Content-Encoding", "gzip"), H("Content-Encoding", "br")};
    assert_int_equal(verdict("GET", 200, stacked, 3), COMPRESS_SKIP_ENCODED);

    struct compress_header nt[] = {H("Content-Type", "text/html"),
                                   H("Cache-Control", "public, max-age=60"),
                                   H("cache-control", "  No-Transform ")};
    assert_int_equal(verdict("GET", 200, nt, 3), COMPRESS_SKIP_NO_TRANSFORM);
    struct compress_header cc[] = {H("Content-Type", "text/html"),
                                   H("Cache-Control", "no-transformer, no-store")};
    assert_int_equal(verdict("GET", 200, cc, 2), COMPRESS_ELIGIBLE);
}

static bool type_ok(const char *ct)
{
    return compress_policy_type_allowed(&cfg, str_cstr(ct));
}

static void test_content_types(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "text/html", "text/html; charset=utf-8", "TEXT/CSS", " text/plain ;format=flowed",
        "text/javascript", "application/json", "Application/JSON; charset=UTF-8",
        "application/javascript", "application/problem+json", "application/ld+json",
        "image/svg+xml", "application/rss+xml", "application/xhtml+xml", "application/xml",
        "application/wasm", "font/ttf", "image/x-icon",
    };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!type_ok(yes[i]))
            fail_msg("%s should compress", yes[i]);
    static const char *const no[] = {
        "", "image/png", "image/jpeg", "video/mp4", "application/octet-stream", "font/woff2",
        "application/zip", "application/gzip", "text", "text/", "/html", "application/json+",
        "application/+json", "textual/html", "application/jsonx",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (type_ok(no[i]))
            fail_msg("%s should not compress", no[i]);

    struct compress_header none[] = {H("Content-Length", "5000")};
    assert_int_equal(verdict("GET", 200, none, 1), COMPRESS_SKIP_TYPE);

    /* custom lists: "*" and "type/" with a star */
    struct compress_config c = cfg;
    const struct str all[] = {STR_LIT("*")};
    c.types = all;
    c.ntypes = 1;
    assert_true(compress_policy_type_allowed(&c, STR_LIT("image/png")));
    assert_false(compress_policy_type_allowed(&c, STR_LIT("garbage")));
    const struct str img[] = {STR_LIT("image/*"), STR_LIT("+yaml")};
    c.types = img;
    c.ntypes = 2;
    assert_true(compress_policy_type_allowed(&c, STR_LIT("IMAGE/Png")));
    assert_true(compress_policy_type_allowed(&c, STR_LIT("application/openapi+yaml")));
    assert_false(compress_policy_type_allowed(&c, STR_LIT("text/html")));
}

static void test_min_length(void **state)
{
    (void)state;
    struct compress_header h[] = {H("Content-Type", "text/html"), H("Content-Length", "1023")};
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_SKIP_SMALL);
    h[1] = H("Content-Length", "1024");
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_ELIGIBLE);
    h[1] = H("Content-Length", "0");
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_SKIP_SMALL);
    h[1] = H("Content-Length", "123456789012345678901234"); /* unparsable: unknown */
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_ELIGIBLE);
    h[1] = H("Content-Length", "12x");
    assert_int_equal(verdict("GET", 200, h, 2), COMPRESS_ELIGIBLE);
    struct compress_config c = cfg;
    c.min_length = 0;
    struct compress_facts f;
    h[1] = H("Content-Length", "1");
    compress_policy_facts(&f, STR_LIT("GET"), 200, h, 2);
    assert_int_equal(compress_policy_decide(&c, &f), COMPRESS_ELIGIBLE);
}

static void test_verdict_names(void **state)
{
    (void)state;
    assert_string_equal(compress_policy_verdict_name(COMPRESS_ELIGIBLE), "eligible");
    assert_string_equal(compress_policy_verdict_name(COMPRESS_SKIP_NO_TRANSFORM), "no-transform");
    assert_string_equal(compress_policy_verdict_name(COMPRESS_SKIP_SMALL), "small");
    assert_string_equal(compress_policy_verdict_name((enum compress_verdict)99), "?");
}

static const char *chosen(const char *ae)
{
    struct str v = str_cstr(ae);
    const struct compress_coding *k = compress_policy_choose(&cfg, &v, ae ? 1 : 0);
    return k ? k->ops->name : "identity";
}

static void test_choose(void **state)
{
    (void)state;
    assert_string_equal(chosen("gzip, deflate, br, zstd"), "zstd");
    assert_string_equal(chosen("gzip, deflate, br"), "br");
    assert_string_equal(chosen("gzip"), "gzip");
    assert_string_equal(chosen("gzip;q=1, br;q=0.5"), "gzip");
    assert_string_equal(chosen("deflate"), "identity");
    assert_string_equal(chosen("identity;q=0"), "identity");
    assert_string_equal(chosen(NULL), "identity");
    assert_null(compress_policy_choose(&cfg, NULL, 0));
    struct compress_config c = cfg;
    c.ncodings = 1; /* zstd only */
    struct str v = STR_LIT("gzip, br");
    assert_null(compress_policy_choose(&c, &v, 1));
}

static const char *decoder_for(const char *ce, const char *ae, bool decompress, const char *method)
{
    struct compress_header h[] = {H("Content-Type", "text/html"),
                                  {STR_LIT("Content-Encoding"), str_cstr(ce)}};
    struct compress_facts f;
    compress_policy_facts(&f, str_cstr(method), 200, h, 2);
    struct compress_config c = cfg;
    c.decompress = decompress;
    struct str v = str_cstr(ae);
    const struct compress_codec_ops *ops = compress_policy_decoder(&c, &f, &v, ae ? 1 : 0);
    return ops ? ops->name : "-";
}

static void test_decoder_choice(void **state)
{
    (void)state;
    assert_string_equal(decoder_for("gzip", "br", true, "GET"), "gzip");
    assert_string_equal(decoder_for("gzip", "gzip, br", true, "GET"), "-");
    assert_string_equal(decoder_for("gzip", NULL, true, "GET"), "gzip");
    assert_string_equal(decoder_for("gzip", "*", true, "GET"), "-");
    assert_string_equal(decoder_for("gzip", "*, gzip;q=0", true, "GET"), "gzip");
    assert_string_equal(decoder_for("x-gzip", "br", true, "GET"), "gzip");
    assert_string_equal(decoder_for("x-gzip", "gzip", true, "GET"), "-");
    assert_string_equal(decoder_for("br", "gzip", true, "GET"), "br");
    assert_string_equal(decoder_for("ZSTD", "gzip", true, "GET"), "zstd");
    assert_string_equal(decoder_for("gzip", "br", false, "GET"), "-");
    assert_string_equal(decoder_for("gzip", "br", true, "HEAD"), "-");
    assert_string_equal(decoder_for("compress", "br", true, "GET"), "-");
    assert_string_equal(decoder_for("gzip, br", "identity", true, "GET"), "-");
    assert_string_equal(decoder_for("identity", "br", true, "GET"), "-");

    struct compress_header nt[] = {H("Content-Encoding", "gzip"),
                                   H("Cache-Control", "no-transform")};
    struct compress_facts f;
    compress_policy_facts(&f, STR_LIT("GET"), 200, nt, 2);
    assert_null(compress_policy_decoder(&cfg, &f, NULL, 0));
    compress_policy_facts(&f, STR_LIT("GET"), 206, nt, 1);
    assert_null(compress_policy_decoder(&cfg, &f, NULL, 0));
}

static void test_weak_etag(void **state)
{
    (void)state;
    char buf[64];
    struct str w = compress_policy_weak_etag(STR_LIT("\"abc\""), buf, sizeof(buf));
    assert_true(str_eq(w, STR_LIT("W/\"abc\"")));
    w = compress_policy_weak_etag(STR_LIT(" \"\" "), buf, sizeof(buf));
    assert_true(str_eq(w, STR_LIT("W/\"\"")));
    w = compress_policy_weak_etag(STR_LIT("W/\"abc\""), buf, sizeof(buf));
    assert_true(str_eq(w, STR_LIT("W/\"abc\"")));
    w = compress_policy_weak_etag(STR_LIT("abc"), buf, sizeof(buf));
    assert_true(str_eq(w, STR_LIT("abc")));
    w = compress_policy_weak_etag(STR_LIT("\""), buf, sizeof(buf));
    assert_true(str_eq(w, STR_LIT("\"")));
    w = compress_policy_weak_etag(STR_LIT("\"abc\""), buf, 6);
    assert_null(w.ptr);
    w = compress_policy_weak_etag(STR_LIT("\"abc\""), buf, 7);
    assert_true(str_eq(w, STR_LIT("W/\"abc\"")));
}

/* A head with room for `cap` headers and `scratch` bytes, filled from h[0..n). */
struct head {
    struct compress_header v[16];
    char scratch[256];
    struct compress_headers h;
};

static void head_init(struct head *hd, const struct compress_header *h, size_t n, size_t cap,
                      size_t scratch)
{
    memcpy(hd->v, h, n * sizeof(*h));
    hd->h = (struct compress_headers){
        .v = hd->v, .n = n, .cap = cap, .scratch = hd->scratch, .scratch_cap = scratch};
}

static const char *value_of(const struct head *hd, const char *name)
{
    static char out[4][128];
    static int slot;
    for (size_t i = 0; i < hd->h.n; i++)
        if (str_eq_nocase(hd->h.v[i].name, str_cstr(name))) {
            char *o = out[slot++ % 4];
            snprintf(o, 128, "%.*s", (int)hd->h.v[i].value.len, hd->h.v[i].value.ptr);
            return o;
        }
    return NULL;
}

static size_t count_of(const struct head *hd, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < hd->h.n; i++)
        k += str_eq_nocase(hd->h.v[i].name, str_cstr(name));
    return k;
}

static void test_vary(void **state)
{
    (void)state;
    struct head hd;
    head_init(&hd, (struct compress_header[]){H("Date", "x")}, 1, 16, 256);
    assert_int_equal(compress_policy_vary(&hd.h), 0);
    assert_string_equal(value_of(&hd, "vary"), "Accept-Encoding");
    assert_int_equal(compress_policy_vary(&hd.h), 0); /* again: no duplicate */
    assert_int_equal(count_of(&hd, "vary"), 1);

    head_init(&hd, (struct compress_header[]){H("Vary", "Cookie"), H("Vary", " Origin ")}, 2, 16,
              256);
    assert_int_equal(compress_policy_vary(&hd.h), 0);
    assert_int_equal(count_of(&hd, "vary"), 2);
    assert_string_equal(hd.v[0].value.ptr, "Cookie"); /* untouched */
    char got[64];
    snprintf(got, sizeof(got), "%.*s", (int)hd.v[1].value.len, hd.v[1].value.ptr);
    assert_string_equal(got, "Origin, Accept-Encoding");

    head_init(&hd, (struct compress_header[]){H("Vary", "origin, ACCEPT-ENCODING")}, 1, 16, 256);
    assert_int_equal(compress_policy_vary(&hd.h), 0);
    assert_string_equal(value_of(&hd, "vary"), "origin, ACCEPT-ENCODING");
    head_init(&hd, (struct compress_header[]){H("Vary", "*")}, 1, 16, 256);
    assert_int_equal(compress_policy_vary(&hd.h), 0);
    assert_string_equal(value_of(&hd, "vary"), "*");
    head_init(&hd, (struct compress_header[]){H("Vary", "")}, 1, 16, 256);
    assert_int_equal(compress_policy_vary(&hd.h), 0);
    assert_string_equal(value_of(&hd, "vary"), "Accept-Encoding");
    assert_true(compress_policy_vary_covers(STR_LIT("a, *")));
    assert_false(compress_policy_vary_covers(STR_LIT("accept-encodings, x")));

    /* no room */
    head_init(&hd, (struct compress_header[]){H("Date", "x")}, 1, 1, 256);
    assert_int_equal(compress_policy_vary(&hd.h), -1);
    assert_int_equal(hd.h.n, 1);
    head_init(&hd, (struct compress_header[]){H("Vary", "Cookie")}, 1, 16, 10);
    assert_int_equal(compress_policy_vary(&hd.h), -1);
    assert_string_equal(value_of(&hd, "vary"), "Cookie");
}

static void test_encode_headers(void **state)
{
    (void)state;
    struct compress_header in[] = {
        H("Date", "Mon"),       H("Content-Type", "text/html"), H("Content-Length", "5000"),
        H("ETag", "\"v1\""),    H("Accept-Ranges", "bytes"),    H("Vary", "Cookie"),
        H("X-Other", "kept"),   H("content-encoding", "identity"),
    };
    struct head hd;
    head_init(&hd, in, 8, 16, 256);
    assert_int_equal(compress_policy_encode_headers(&hd.h, STR_LIT("br")), 0);
    assert_null(value_of(&hd, "content-length"));
    assert_null(value_of(&hd, "accept-ranges"));
    assert_int_equal(count_of(&hd, "content-encoding"), 1);
    assert_string_equal(value_of(&hd, "content-encoding"), "br");
    assert_string_equal(value_of(&hd, "etag"), "W/\"v1\"");
    assert_string_equal(value_of(&hd, "vary"), "Cookie, Accept-Encoding");
    assert_string_equal(value_of(&hd, "x-other"), "kept");
    assert_string_equal(value_of(&hd, "date"), "Mon");
    assert_int_equal(hd.h.n, 6);
    /* order of the kept headers is preserved */
    assert_true(str_eq(hd.v[0].name, STR_LIT("Date")));
    assert_true(str_eq(hd.v[1].name, STR_LIT("Content-Type")));

    /* weak ETag stays; no Vary yet: one is added */
    struct compress_header in2[] = {H("ETag", "W/\"x\""), H("Content-Length", "9")};
    head_init(&hd, in2, 2, 3, 0);
    assert_int_equal(compress_policy_encode_headers(&hd.h, STR_LIT("gzip")), 0);
    assert_string_equal(value_of(&hd, "etag"), "W/\"x\"");
    assert_string_equal(value_of(&hd, "vary"), "Accept-Encoding");
    assert_string_equal(value_of(&hd, "content-encoding"), "gzip");
    assert_int_equal(hd.h.n, 3);
}

/* Not enough room for every edit: nothing is changed. */
static void test_edits_all_or_nothing(void **state)
{
    (void)state;
    struct compress_header in[] = {H("ETag", "\"0123456789\""), H("Vary", "Cookie"),
                                   H("Content-Type", "text/html")};
    struct head hd;
    head_init(&hd, in, 3, 16, 20); /* ETag needs 14, Vary 24 */
    assert_int_equal(compress_policy_encode_headers(&hd.h, STR_LIT("zstd")), -1);
    assert_int_equal(hd.h.n, 3);
    assert_int_equal(hd.h.scratch_used, 0);
    assert_string_equal(value_of(&hd, "etag"), "\"0123456789\"");
    assert_string_equal(value_of(&hd, "vary"), "Cookie");

    head_init(&hd, (struct compress_header[]){H("Content-Type", "text/html")}, 1, 2, 256);
    assert_int_equal(compress_policy_encode_headers(&hd.h, STR_LIT("zstd")), -1); /* CE + Vary */
    assert_int_equal(hd.h.n, 1);
    head_init(&hd, (struct compress_header[]){H("Content-Type", "text/html")}, 1, 3, 256);
    assert_int_equal(compress_policy_encode_headers(&hd.h, STR_LIT("zstd")), 0);
    assert_int_equal(hd.h.n, 3);
}

static void test_decode_headers(void **state)
{
    (void)state;
    struct compress_header in[] = {H("Content-Encoding", "gzip"), H("Content-Length", "123"),
                                   H("ETag", "\"z\""), H("Content-Type", "text/html"),
                                   H("Vary", "accept-encoding")};
    struct head hd;
    head_init(&hd, in, 5, 5, 64);
    assert_int_equal(compress_policy_decode_headers(&hd.h), 0);
    assert_null(value_of(&hd, "content-encoding"));
    assert_null(value_of(&hd, "content-length"));
    assert_string_equal(value_of(&hd, "etag"), "W/\"z\"");
    assert_string_equal(value_of(&hd, "vary"), "accept-encoding");
    assert_int_equal(hd.h.n, 3);
}

static void test_config(void **state)
{
    (void)state;
    assert_null(compress_config_check(&cfg));
    assert_int_equal(cfg.ncodings, 3);
    assert_ptr_equal(cfg.codings[0].ops, &compress_codec_zstd);
    assert_true(cfg.ntypes > 5);
    for (size_t i = 0; i < cfg.ncodings; i++)
        assert_true(cfg.codings[i].ops->enc_mem_bound(cfg.codings[i].level) <= cfg.mem_limit);

    struct compress_config c = cfg;
    c.codings[1].level = 12;
    assert_non_null(compress_config_check(&c));
    c = cfg;
    c.codings[2].level = 0;
    assert_non_null(compress_config_check(&c));
    c = cfg;
    c.codings[1].ops = &compress_codec_zstd;
    assert_non_null(compress_config_check(&c));
    c = cfg;
    c.ncodings = 0;
    assert_non_null(compress_config_check(&c));
    c = cfg;
    c.mem_limit = 1024 * 1024;
    assert_non_null(compress_config_check(&c));
    c.ncodings = 1;
    c.codings[0] = (struct compress_coding){.ops = &compress_codec_gzip, .level = 6};
    assert_null(compress_config_check(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eligible_basics),
        cmocka_unit_test(test_method_and_status),
        cmocka_unit_test(test_already_encoded_and_no_transform),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_min_length),
        cmocka_unit_test(test_verdict_names),
        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_decoder_choice),
        cmocka_unit_test(test_weak_etag),
        cmocka_unit_test(test_vary),
        cmocka_unit_test(test_encode_headers),
        cmocka_unit_test(test_edits_all_or_nothing),
        cmocka_unit_test(test_decode_headers),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* test_mask_json.c — the streaming JSON masker: paths, the keep-head/tail style, numbers and
 * containers, every split of the input across reads giving the same bytes, a one-byte output
 * buffer, and failing closed (not JSON, too deep, too long, over max_bytes, truncated). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "security/mask_json.h"

static struct mask_json_conf conf;

static void setup(const char *const *paths, uint32_t head, uint32_t tail)
{
    memset(&conf, 0, sizeof(conf));
    conf.keep_head = head;
    conf.keep_tail = tail;
    conf.max_bytes = 1 << 20;
    for (; *paths; paths++) {
        const char *why;
        if (mask_json_add_path(&conf, *paths, &why) != 0)
            fail_msg("%s: %s", *paths, why);
    }
}

/* Masks `in` fed in pieces of `split` bytes (0: whole) through an output of `ocap` bytes;
 * returns the output (static) or NULL on failure. */
static const char *run(const char *in, size_t split, size_t ocap)
{
    static char outbuf[1 << 16];
    void *mem = malloc(mask_json_size(&conf));
    struct mask_json *m = mask_json_init(mem, &conf);
    size_t n = strlen(in), off = 0, o = 0;
    int r = 0;
    while (r >= 0) {
        size_t take = split && n - off > split ? split : n - off;
        const char *p = in + off;
        size_t left = take;
        bool fin = off + take == n;
        char out[64];
        do {
            size_t got = 0;
            r = mask_json_feed(m, &p, &left, out, ocap < sizeof(out) ? ocap : sizeof(out), &got, fin);
            memcpy(outbuf + o, out, got);
            o += got;
        } while (r == 1 || (r == 0 && left));
        off += take;
        if (fin || r < 0)
            break;
    }
    free(mem);
    if (r < 0)
        return NULL;
    outbuf[o] = '\0';
    return outbuf;
}

static void paths_and_style(void **state)
{
    (void)state;
    const char *paths[] = {"$.users[*].phone", "$.card", "$['e-mail']", "$.deep.*[1]", NULL};
    setup(paths, 3, 4);
    const char *in = "{\"users\":[{\"name\":\"kim\",\"phone\":\"010-1234-5678\"},"
                     "{\"phone\":\"+82 10 9876 5432\",\"x\":{\"phone\":\"keep\"}}],"
                     "\"card\":{\"n\":4111111111111111,\"cvc\":\"123\",\"ok\":true},"
                     "\"e-mail\":\"john.doe@example.com\",\"phone\":\"010-0000-0000\","
                     "\"deep\":{\"a\":[1,22,3],\"b\":[\"x\",\"caf\\u00e9 au lait \xc3\xa9t\xc3\xa9\"]}}";
    const char *want = "{\"users\":[{\"name\":\"kim\",\"phone\":\"010-****-5678\"},"
                       "{\"phone\":\"+82 1* **** 5432\",\"x\":{\"phone\":\"keep\"}}],"
                       "\"card\":{\"n\":0               ,\"cvc\":\"***\",\"ok\":true},"
                       "\"e-mail\":\"joh*.***@******e.com\",\"phone\":\"010-0000-0000\","
                       "\"deep\":{\"a\":[1,0 ,3],\"b\":[\"x\",\"caf****** ** ***t \xc3\xa9t\xc3\xa9\"]}}";
    const char *got = run(in, 0, 64);
    assert_non_null(got);
    assert_string_equal(got, want);
    for (size_t split = 1; split < 40; split++)
        for (size_t ocap = 1; ocap < 8; ocap += 3) {
            got = run(in, split, ocap);
            if (!got || strcmp(got, want) != 0)
                fail_msg("split %zu, out %zu: %s", split, ocap, got ? got : "(failed)");
        }
}

static void root_and_scalars(void **state)
{
    (void)state;
    const char *all[] = {"$", NULL};
    setup(all, 0, 2);
    assert_string_equal(run(" \"secret\" ", 0, 64), " \"****et\" ");
    assert_string_equal(run("12345", 1, 64), "0    ");
    assert_string_equal(run("[\"ab\",{\"k\":\"v\"},null,false]", 0, 64),
                        "[\"**\",{\"k\":\"*\"},null,false]");
    const char *none[] = {"$.x", NULL};
    setup(none, 0, 4);
    assert_string_equal(run("", 0, 64), "");
    assert_string_equal(run("{\"x\\\"\":\"a\",\"y\":{\"x\":\"b\"}}", 0, 64),
                        "{\"x\\\"\":\"a\",\"y\":{\"x\":\"b\"}}");
}

static void fails_closed(void **state)
{
    (void)state;
    const char *paths[] = {"$.a", NULL};
    setup(paths, 0, 4);
    const char *bad[] = {"{\"a\":\"x\"", "{\"a\":x}", "{\"a\":\"1\"}}", "{\"a\" \"1\"}", "[1,]2",
                         "{\"a\":\"\x01\"}", "{'a':1}", "[1 2]", "{\"a\":tru}", "]", "{\"a\":1,}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (run(bad[i], 0, 64))
            fail_msg("accepted: %s", bad[i]);
    conf.max_depth = 4;
    assert_non_null(run("[[[[1]]]]", 0, 64));
    assert_null(run("[[[[[1]]]]]", 0, 64));
    char *big = malloc(MASK_JSON_VALUE_MAX + 32);
    strcpy(big, "{\"a\":\"");
    memset(big + 6, 'x', MASK_JSON_VALUE_MAX + 1);
    strcpy(big + 7 + MASK_JSON_VALUE_MAX, "\"}");
    assert_null(run(big, 100, 64));   /* a masked value over the hold limit */
    big[2] = 'b';                     /* not masked: any length streams */
    assert_non_null(run(big, 100, 64));
    conf.max_bytes = 100;
    assert_null(run(big, 100, 64));
    free(big);
    const char *why;
    assert_int_equal(mask_json_add_path(&conf, "users", &why), -1);
    assert_int_equal(mask_json_add_path(&conf, "$.a[x]", &why), -1);
    assert_int_equal(mask_json_add_path(&conf, "$.", &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths_and_style),
        cmocka_unit_test(root_and_scalars),
        cmocka_unit_test(fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_mask_json.c — libFuzzer driver for the streaming JSON masker (src/security/mask_json.c),
 * a parser of hostile input: upstream response bodies.
 *
 * Input: byte 0 picks the read size (1..16 or whole), byte 1 the output room (1..64), byte 2
 * the depth cap and the kept head/tail; the rest is the body. It is masked once in pieces and
 * once whole. Checked: both runs agree (verdict and bytes), a masker that succeeds wrote
 * exactly as many bytes as it read, every byte it changed became '*', ' ' or '0' (masking never
 * writes anything else), and after a failure it keeps failing and writes nothing more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "security/mask_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {"$.a", "$.users[*].phone", "$.b.*", "$[1]", "$.c[0][*]",
                                    "$['k k']"};

static int run(const struct mask_json_conf *c, const char *in, size_t n, size_t split,
               size_t room, char *out, size_t *olen)
{
    void *mem = malloc(mask_json_size(c));
    CHECK(mem != NULL);
    struct mask_json *m = mask_json_init(mem, c);
    size_t off = 0;
    int r = 0;
    *olen = 0;
    for (;;) {
        size_t take = split && n - off > split ? split : n - off;
        const char *p = in + off;
        size_t left = take;
        bool fin = off + take == n;
        do {
            size_t got = 0;
            r = mask_json_feed(m, &p, &left, out + *olen, room, &got, fin);
            CHECK(got <= room);
            *olen += got;
            CHECK(*olen <= n);
        } while (r == 1 || (r == 0 && left));
        off += take - left;
        if (r < 0 || fin)
            break;
    }
    if (r < 0) { /* a failed masker stays failed */
        const char *p = "1";
        size_t left = 1, got = 0;
        CHECK(mask_json_feed(m, &p, &left, out + *olen, room, &got, true) == -1 && got == 0);
    }
    free(mem);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static struct mask_json_conf c;
    static bool ready;
    if (!ready) {
        const char *why;
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
            CHECK(mask_json_add_path(&c, paths[i], &why) == 0);
        ready = true;
    }
    size_t split = data[0] % 17, room = 1 + data[1] % 64;
    c.max_depth = 1 + data[2] % 40;
    c.keep_head = data[2] >> 6;
    c.keep_tail = (data[2] >> 4) & 3;
    c.max_bytes = 1 << 20;
    const char *in = (const char *)data + 3;
    size_t n = size - 3;
    char *in_copy = fuzz_dup(in, n);
    char *a = malloc(n + 1), *b = malloc(n + 1);
    CHECK(a && b);
    size_t alen, blen;
    int ra = run(&c, in_copy, n, split, room, a, &alen);
    int rb = run(&c, in_copy, n, 0, 4096, b, &blen);
    CHECK((ra < 0) == (rb < 0));
    if (ra >= 0) {
        CHECK(alen == n && blen == n);
        CHECK(memcmp(a, b, n) == 0);
        for (size_t i = 0; i < n; i++)
            CHECK(a[i] == in_copy[i] || a[i] == '*' || a[i] == ' ' || a[i] == '0');
    }
    free(a);
    free(b);
    free(in_copy);
    return 0;
}

/* fuzz_wr_cookie.c — libFuzzer driver for the waiting room's cookie (src/waitroom/wr_cookie.c):
 * the value every visitor sends back, so hostile by design.
 *
 * Input, three ways: (1) as a cookie value to verify under a fixed key — it must decode only if
 * it is exactly what the encoder writes for the decoded fields (a forgery that verified would
 * show as a mismatch on re-encoding); (2) as a Cookie field value searched for the room's
 * cookie: the value found is a slice of the input; (3) its bytes as the fields of a cookie that
 * is encoded, decoded and compared, and rejected under another room's name or with any one byte
 * changed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http/h1.h"
#include "waitroom/wr_cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wr_mac *mac;

static bool same(const struct wr_cookie *a, const struct wr_cookie *b)
{
    return a->admitted == b->admitted && a->id == b->id && a->slot == b->slot &&
           a->nonce == b->nonce && a->issued_ms == b->issued_ms && a->seen_ms == b->seen_ms &&
           a->ahead == b->ahead;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mac) {
        static const uint8_t key[] = "fuzz-key-0123456789abcdef0123456789abcdef";
        mac = wr_mac_new(key, sizeof(key) - 1);
        CHECK(mac != NULL);
    }
    char *buf = fuzz_dup(data, size);
    char out[WR_COOKIE_MAX];

    /* (1) verify hostile bytes */
    struct wr_cookie ck;
    if (wr_cookie_decode(str_from(buf, size), "room", mac, NULL, &ck)) {
        size_t n = wr_cookie_encode(&ck, "room", mac, NULL, out);
        CHECK(n == size && memcmp(out, buf, n) == 0);
    }

    /* (2) the room's cookie in a Cookie field */
    struct h1_header h = {.name = STR_LIT("Cookie"), .value = str_from(buf, size)};
    bool found = false;
    struct str v = wr_cookie_find(&h, 1, STR_LIT("weir_wr_room"), &found);
    CHECK(fuzz_slice_in(v, buf, size));
    CHECK(found || v.len == 0);

    /* (3) fields from the input, round trip */
    struct wr_cookie in = {0};
    uint8_t f[41] = {0};
    memcpy(f, data, size < sizeof(f) ? size : sizeof(f));
    in.admitted = f[0] & 1;
    memcpy(&in.id, f + 1, 8);
    memcpy(&in.slot, f + 9, 4);
    memcpy(&in.nonce, f + 13, 4);
    memcpy(&in.issued_ms, f + 17, 8);
    memcpy(&in.seen_ms, f + 25, 8);
    memcpy(&in.ahead, f + 33, 8);
    size_t n = wr_cookie_encode(&in, "room", mac, NULL, out);
    if (n) {
        CHECK(n <= WR_COOKIE_MAX);
        struct wr_cookie back;
        if (wr_cookie_decode(str_from(out, n), "room", mac, NULL, &back))
            CHECK(same(&in, &back));
        CHECK(!wr_cookie_decode(str_from(out, n), "other", mac, NULL, &back));
        out[f[40] % n] ^= (char)(1 + (f[39] & 0x7f));
        CHECK(!wr_cookie_decode(str_from(out, n), "room", mac, NULL, &back)); /* tampered */
    }
    free(buf);
    return 0;
}

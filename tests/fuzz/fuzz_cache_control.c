/* fuzz_cache_control.c — libFuzzer driver for the response cache's Cache-Control parser
 * (src/cache/cache_control.c), a parser of hostile input: request and origin header values.
 *
 * Input: split at '\n' into field lines, each fed to cache_control_parse as one more line of the
 * same list, then once more as a single value. Checked: every number is absent or within
 * 0..2^31 (delta-seconds are capped), the qualified lists are slices inside the input, the list
 * lookup answers for names cut from the input, and a duplicate line changes nothing (the first
 * value of a directive wins). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_control.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_numbers(const struct cache_control *cc)
{
    const int64_t v[] = {cc->max_age, cc->s_maxage, cc->max_stale, cc->min_fresh,
                         cc->stale_while_revalidate, cc->stale_if_error};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        CHECK(v[i] == CACHE_ABSENT || (v[i] >= 0 && v[i] <= CACHE_DELTA_MAX));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    struct cache_control cc, again;
    cache_control_init(&cc);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && buf[i] != '\n')
            continue;
        cache_control_parse(&cc, str_from(buf + start, i - start));
        start = i + 1;
    }
    check_numbers(&cc);
    CHECK(fuzz_slice_in(cc.no_cache_fields, buf, size));
    CHECK(fuzz_slice_in(cc.private_fields, buf, size));

    /* The whole input as one value, twice: the second pass keeps every first value. */
    cache_control_init(&again);
    cache_control_parse(&again, str_from(buf, size));
    struct cache_control once = again;
    cache_control_parse(&again, str_from(buf, size));
    check_numbers(&again);
    CHECK(again.max_age == once.max_age && again.s_maxage == once.s_maxage &&
          again.max_stale == once.max_stale && again.min_fresh == once.min_fresh);

    /* Names cut from the input looked up in the qualified lists. */
    if (size > 2) {
        size_t cut = data[0] % size;
        struct str name = str_from(buf + cut, size - cut > 16 ? 16 : size - cut);
        (void)cache_control_list_has(cc.no_cache_fields, name);
        (void)cache_control_list_has(cc.private_fields, name);
        (void)cache_control_list_has(str_from(buf, size), name);
    }
    free(buf);
    return 0;
}

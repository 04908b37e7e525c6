/* mask_json.h — a streaming masker of JSON fields chosen by path, for response bodies: a
 * tokenizer of its own (hostile input: tests/fuzz/fuzz_mask_json.c) that follows the document
 * byte by byte, whatever the read boundaries, and rewrites the values at the configured paths
 * in place. The output has exactly the input's length, so nothing about framing changes.
 *
 * Paths: "$" then segments ".name", "['name']", ".*" (any member), "[*]" (any element) and
 * "[N]"; e.g. "$.users[*].phone". A path that ends at an object or array masks every string
 * and number inside it. Member names are compared as written (escaped names never match).
 *
 * Masking a string keeps its first keep_head and last keep_tail "characters" (letters, digits,
 * escapes, non-ASCII characters) and its punctuation, and writes '*' over every byte of the
 * others: "010-1234-5678" with head 3, tail 4 -> "010-****-5678". A value with no more
 * characters than head + tail is masked whole. A masked number becomes 0 padded with blanks.
 *
 * Fails closed: bytes that are not JSON, nesting deeper than max_depth, a masked string longer
 * than MASK_JSON_VALUE_MAX or a body over max_bytes make feed return -1 and output nothing
 * more (the caller cuts the response). Pure; one masker per body; any thread. */
#ifndef WEIR_SECURITY_MASK_JSON_H
#define WEIR_SECURITY_MASK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MASK_JSON_PATHS 16
#define MASK_JSON_SEGS 16
#define MASK_JSON_NAME 128
#define MASK_JSON_VALUE_MAX 4096
#define MASK_JSON_DEPTH_MAX 256

enum mask_seg_kind { SEG_KEY, SEG_ANY_KEY, SEG_ANY_INDEX, SEG_INDEX };

struct mask_seg {
    enum mask_seg_kind kind;
    uint32_t index;
    uint32_t len;
    char name[MASK_JSON_NAME];
};

struct mask_json_conf {
    struct mask_seg segs[MASK_JSON_PATHS][MASK_JSON_SEGS];
    uint32_t nsegs[MASK_JSON_PATHS];
    uint32_t npaths;
    uint32_t keep_head, keep_tail;
    uint32_t max_depth;          /* default 64 */
    uint64_t max_bytes;          /* default 8 MiB */
};

/* Adds a path to c. 0, or -1 with *why set. */
int mask_json_add_path(struct mask_json_conf *c, const char *path, const char **why);

struct mask_json;

/* Bytes a masker takes for c (its nesting stack is sized by max_depth). */
size_t mask_json_size(const struct mask_json_conf *c);
/* Sets up a masker in mem (mask_json_size bytes, any alignment of 8). */
struct mask_json *mask_json_init(void *mem, const struct mask_json_conf *c);
/* Consumes from *in, writes at most cap bytes at out (*out_len). 1: it has output pending (call
 * again with room), 0: it wants input (with fin: done), -1: fail closed (see above). With fin,
 * a document that is not complete is an error. */
int mask_json_feed(struct mask_json *m, const char **in, size_t *in_len, char *out, size_t cap,
                   size_t *out_len, bool fin);
/* Masks a string value's raw bytes (between the quotes) in place, as the masker does. */
void mask_json_string(char *v, size_t n, uint32_t keep_head, uint32_t keep_tail);

#endif

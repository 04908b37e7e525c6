/* mime.h — file extension → Content-Type, from /etc/mime.types plus config overrides.
 *
 * A table is built once per config generation (mime_table_new, on the main thread) and is then
 * immutable: every worker reads it without locks, and the struct str values it returns stay valid
 * until mime_table_free. Values are ready to send, charset included ("text/html; charset=utf-8").
 * Lookups are case-insensitive and try the longest multi-dot extension first, so
 * "report.sarif.json" finds "sarif.json" before "json" (Debian's file has such entries). */
#ifndef WEIR_MODULES_MIME_H
#define WEIR_MODULES_MIME_H

#include <stddef.h>

#include "core/str.h"

#define MIME_DEFAULT_TYPES_PATH "/etc/mime.types"
#define MIME_EXT_MAX 32 /* longer extensions are never looked up (→ the default type) */

struct mime_override {
    const char *ext;  /* without the dot, any case: "mjs", "webmanifest" */
    const char *type; /* "application/manifest+json" */
};

struct mime_config {
    /* NULL: /etc/mime.types, and a small built-in table when that file is missing (a system
     * without media-types still serves HTML, CSS, JS, images and fonts right). "": no file.
     * Any other path must be readable: otherwise mime_table_new fails. */
    const char *types_path;
    const struct mime_override *overrides; /* win over the file; later ones win over earlier */
    size_t noverrides;
    /* Types that get "; charset=utf-8". An entry like "text/" + "*" covers a top-level type.
     * NULL: mime_default_charset_types. */
    const char *const *charset_types;
    size_t ncharset;
    const char *default_type; /* NULL: "application/octet-stream" */
};

extern const char *const mime_default_charset_types[];
extern const size_t mime_default_ncharset;

struct mime_table;

/* Builds a table. Returns NULL on error with a message in err ("path:line: ..." for a bad file
 * line, which only an unreadable file or an out-of-memory produces: unknown syntax is skipped
 * like other readers of mime.types do). In a file, the first mapping of an extension wins. */
struct mime_table *mime_table_new(const struct mime_config *cfg, char *err, size_t errlen);

void mime_table_free(struct mime_table *t);

/* The Content-Type for a file name or path (only the part after the last '/' is looked at).
 * Never fails: unknown or missing extension → the default type. Thread-safe, no allocation. */
struct str mime_table_lookup(const struct mime_table *t, struct str name);

/* How many extensions the table knows (tests, logs). */
size_t mime_table_count(const struct mime_table *t);

#endif

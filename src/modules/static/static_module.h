/* static_module.h — `static:` on a route: files from a root directory as a terminal pipeline
 * module (content phase). docs/internals/static.md has the design and the measurements,
 * docs/config.md the keys.
 *
 * Per request: the target is normalised (400/404/414 with no syscall), looked up in this
 * worker's open-file cache (the chain link's local state: no locks), the precompressed sibling
 * chosen by Accept-Encoding, the conditionals and Range evaluated, and the reply built as a
 * FILE body that the host sends with sendfile. The exchange holds its cache entry (so its fd
 * stays open) until on_end. A GET whose first bytes are not in the page cache waits while the
 * I/O pool (process-wide, two threads) reads them; the pool's completion comes back through
 * the worker's mailbox (pipeline_worker.post). */
#ifndef WEIR_MODULES_STATIC_MODULE_H
#define WEIR_MODULES_STATIC_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline/module.h"

extern const struct pipeline_module static_module;

/* The page-cache probe the module uses (static_io_probe); tests replace it to force the cold
 * path on a file system that is always warm (tmpfs). */
extern int (*static_module_probe)(int fd, uint64_t offset, size_t len);

#endif

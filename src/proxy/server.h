/* server.h — the main thread: starts the workers and listeners, then waits for signals.
 * SIGHUP reloads the config file (a bad one is refused and the old one keeps serving),
 * SIGTERM/SIGQUIT stop gracefully within timeouts.shutdown, SIGINT stops at once. */
#ifndef WEIR_PROXY_SERVER_H
#define WEIR_PROXY_SERVER_H

#include "core/config_types.h"

/* Runs weir with cfg (the caller's reference is taken over). config_path is re-read on SIGHUP;
 * NULL (one-line proxy mode) makes SIGHUP a no-op. Returns the process exit code. */
int server_run(struct config *cfg, const char *config_path);

/* Checks what only the running side knows (balancing strategies present) and builds the TLS
 * contexts of cfg (certificates and keys read and checked). Returns 0, or -1 with a message
 * in err. */
int server_check_config(struct config *cfg, char *err, size_t errlen);

#endif

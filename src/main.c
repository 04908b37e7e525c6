/* main.c — command line: run from a config file, check one, proxy in one line, or load-test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "load/load.h"
#include "security/audit.h"
#include "modules/registry.h"
#include "proxy/server.h"

static void usage(FILE *out)
{
    fputs("usage: weir -c FILE            run with a YAML configuration\n"
          "       weir -t -c FILE         check a configuration and exit (0 ok, 1 bad)\n"
          "       weir proxy --listen ADDR --to ADDR [--to ADDR ...] [--workers N]\n"
          "                  [--access-log off|stderr|stdout|PATH] [--metrics on|off]\n"
          "       weir audit verify FILE [--key KEYFILE]   check an audit log's MAC chain\n"
          "       weir load URL [-c N] [-d D] [--rate R] [--find-saturation] ...  (weir load --help)\n"
          "       weir --version\n",
          out);
}

/* Addresses and counts go into generated YAML: allow only what they can contain. */
static bool plain_arg(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:[]*-_/", *p))
            return false;
    return true;
}

static int run_proxy(int argc, char **argv)
{
    const char *listen = NULL, *workers = "auto", *access = "off", *metrics = "true";
    char to[4096] = "";
    size_t tolen = 0;
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val || !plain_arg(val)) {
            fprintf(stderr, "weir proxy: %s needs a value (address, number or path)\n", opt);
            return 1;
        }
        i++;
        if (strcmp(opt, "--listen") == 0) {
            listen = val;
        } else if (strcmp(opt, "--to") == 0) {
            int n = snprintf(to + tolen, sizeof(to) - tolen, "      - \"%s\"\n", val);
            if (n < 0 || (size_t)n >= sizeof(to) - tolen) {
                fputs("weir proxy: too many --to\n", stderr);
                return 1;
            }
            tolen += (size_t)n;
        } else if (strcmp(opt, "--workers") == 0) {
            workers = val;
        } else if (strcmp(opt, "--access-log") == 0) {
            access = val;
        } else if (strcmp(opt, "--metrics") == 0) {
            metrics = strcmp(val, "off") == 0 || strcmp(val, "false") == 0 ? "false" : "true";
        } else {
            fprintf(stderr, "weir proxy: unknown option %s\n", opt);
            usage(stderr);
            return 1;
        }
    }
    if (!listen || !tolen) {
        fputs("weir proxy: --listen and at least one --to are required\n", stderr);
        return 1;
    }
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "workers: %s\n"
             "metrics: %s\n"
             "listen: [\"%s\"]\n"
             "log: {access: \"%s\"}\n"
             "upstreams:\n"
             "  default:\n"
             "    servers:\n%s"
             "routes:\n"
             "  - {path: /, upstream: default}\n",
             workers, metrics, listen, access, to);
    struct cfg_error err;
    struct config *cfg = config_load_buffer(yaml, strlen(yaml), "<command line>", &err);
    if (!cfg) {
        fprintf(stderr, "weir proxy: %s\n", err.msg);
        return 1;
    }
    return server_run(cfg, NULL);
}

int main(int argc, char **argv)
{
    /* OpenSSL stays up until the process is gone: a thread that outlives main (the ticket-key
     * timer) must never meet a library torn down by an atexit handler */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    modules_register(); /* before any config is loaded: modules own route keys */
    if (argc >= 2 && strcmp(argv[1], "proxy") == 0)
        return run_proxy(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "load") == 0)
        return load_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "audit") == 0)
        return audit_main(argc - 1, argv + 1);
    const char *path = NULL;
    bool test = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-t") == 0) {
            test = true;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("weir %s\n", WEIR_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "weir: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 1;
        }
    }
    if (!path) {
        usage(stderr);
        return 1;
    }
    struct cfg_error err;
    struct config *cfg = config_load_file(path, &err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char msg[512];
    if (server_check_config(cfg, msg, sizeof(msg)) == -1) {
        fprintf(stderr, "%s\n", msg);
        config_unref(cfg);
        return 1;
    }
    if (test) {
        fprintf(stderr, "%s: ok\n", path);
        config_unref(cfg);
        return 0;
    }
    return server_run(cfg, path);
}

/* config_types.h — the immutable, refcounted configuration weir runs on.
 *
 * Built once by the loader on the main thread, then only read. Workers hold a reference; a
 * reload builds a new struct config and swaps the pointer, so a request keeps the config it
 * started with. Every string and array is owned by the struct config and freed with it. */
#ifndef WEIR_CORE_CONFIG_TYPES_H
#define WEIR_CORE_CONFIG_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cfg_addr {
    char *text;                   /* as written, e.g. "127.0.0.1:8080" */
    struct sockaddr_storage sa;   /* resolved numerically at load time */
    socklen_t salen;
};

struct cfg_listener {
    struct cfg_addr addr;
    int backlog;                  /* default 4096 */
};

struct cfg_server {
    struct cfg_addr addr;
    uint32_t weight;              /* default 1 */
    bool backup;                  /* default false */
    uint32_t max_conns;           /* connections to it across all workers; 0 = unlimited */
};

/* Where a `hash` strategy (and nothing else) takes its key from. */
enum cfg_hash_source {
    CFG_HASH_CLIENT_IP = 0, /* default */
    CFG_HASH_HEADER,        /* hash.header: the value of that request header */
    CFG_HASH_COOKIE,        /* hash.cookie: the value of that cookie */
};

struct cfg_pool {
    uint32_t max_idle;            /* idle connections kept per server per worker; default 64 */
    uint32_t min_idle;            /* connections kept open and warm per server per worker; 0 */
    uint32_t max_requests;        /* requests per connection, then closed; 0 = unlimited */
    uint32_t idle_timeout_ms;     /* an idle pooled connection is closed after it; 60000 */
    uint32_t max_lifetime_ms;     /* a connection is not reused after it; 0 = unlimited */
    uint32_t acquire_timeout_ms;  /* wait for a free connection when at max_conns; 1000 */
};

struct cfg_health_active {
    bool enabled;                 /* true when the `active` mapping is present */
    uint32_t interval_ms;         /* default 2000 */
    uint32_t timeout_ms;          /* default 1000 */
    char *method;                 /* default "GET" */
    char *path;                   /* default "/" */
    char *host;                   /* Host header; NULL = the server's address */
    uint16_t status_min;          /* expected status range, default 200..399 */
    uint16_t status_max;
    uint32_t rise;                /* consecutive passes to mark up; default 2 */
    uint32_t fall;                /* consecutive failures to mark down; default 3 */
};

struct cfg_health_passive {
    bool enabled;                 /* default true */
    uint32_t failures;            /* consecutive failures within window; default 5 */
    uint32_t window_ms;           /* default 10000 */
    uint32_t cooldown_ms;         /* down for at least this long; default 10000 */
    bool on_5xx;                  /* count 5xx responses as failures; default false */
};

struct cfg_upstream {
    char *name;
    char *balance;                /* strategy name, default "round_robin" */
    enum cfg_hash_source hash_source;
    char *hash_name;              /* header or cookie name for CFG_HASH_HEADER/COOKIE */
    char *sticky_cookie;          /* cookie pinning a client to a server; NULL = off */
    uint32_t sticky_ttl_s;        /* its Max-Age; 0 = session cookie (default) */
    uint32_t slow_start_ms;       /* weight ramp after a server comes back; 0 = off */
    struct cfg_server *servers;
    uint32_t nservers;
    struct cfg_pool pool;
    struct cfg_health_active active;
    struct cfg_health_passive passive;
    uint32_t connect_timeout_ms;  /* default 3000 */
    uint32_t response_timeout_ms; /* response head after request sent; default 30000 */
    uint32_t idle_timeout_ms;     /* between body bytes either way; default 60000 */
    uint32_t total_timeout_ms;    /* whole exchange until the response head; default 60000 */
};

struct cfg_route {
    char *host;                   /* NULL = any; "*.example.com" = any subdomain */
    char *path;                   /* prefix, default "/" */
    char **methods;               /* NULL = any method */
    uint32_t nmethods;
    char *upstream_name;
    struct cfg_upstream *upstream;/* resolved by the loader */
    uint32_t response_timeout_ms; /* 0 = the upstream's */
    uint32_t total_timeout_ms;    /* 0 = the upstream's */
};

struct cfg_limits {
    uint32_t max_request_line;    /* default 8192 -> 414 */
    uint32_t max_header_bytes;    /* default 16384 -> 431 */
    uint32_t max_headers;         /* default 100 -> 431 */
    uint64_t max_body;            /* default 0 = unlimited -> 413 */
};

struct cfg_timeouts {
    uint32_t client_header_ms;    /* whole request head; default 10000 */
    uint32_t client_body_ms;      /* idle between request body bytes; default 60000 */
    uint32_t client_send_ms;      /* idle while the client does not read; default 60000 */
    uint32_t keepalive_ms;        /* idle client connection between requests; default 75000 */
    uint32_t shutdown_ms;         /* graceful stop deadline; default 30000 */
};

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

struct cfg_log {
    enum log_level level;         /* default info */
    char *access;                 /* path, "stderr", "stdout" or NULL = off; default NULL */
    char *error;                  /* path or "stderr" (default) */
};

struct config {
    atomic_uint refcnt;
    char *source;                 /* file path, or "<command line>" */
    uint64_t generation;          /* set by the owner when installed */
    uint32_t workers;             /* 0 in the file = "auto" = CPU count, resolved by the loader */
    char *server_name;            /* token used in Via, default "weir" */
    struct cfg_listener *listeners;
    uint32_t nlisteners;
    struct cfg_limits limits;
    struct cfg_timeouts timeouts;
    struct cfg_log log;
    struct cfg_upstream *upstreams;
    uint32_t nupstreams;
    struct cfg_route *routes;
    uint32_t nroutes;
};

#endif

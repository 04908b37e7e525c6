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

/* TLS (issue 12): see docs/config.md, "TLS". Paths are absolute once loaded (relative ones
 * are taken from the config file's directory). */
struct cfg_tls_cert {
    char *cert;                   /* PEM: the certificate, then its chain */
    char *key;                    /* PEM private key (RSA or EC); default: the cert file */
    char *ocsp;                   /* DER OCSP response stapled for it; NULL = none */
};

enum cfg_tls_verify { CFG_TLS_VERIFY_OFF = 0, CFG_TLS_VERIFY_OPTIONAL, CFG_TLS_VERIFY_REQUIRED };

#define CFG_TLS_V12 1u
#define CFG_TLS_V13 2u

/* A listener's `tls`. */
struct cfg_tls_server {
    struct cfg_tls_cert *certs;   /* the first one is the default (no or unknown SNI) */
    uint32_t ncerts;
    uint32_t protocols;           /* CFG_TLS_V12 | CFG_TLS_V13 (default both) */
    char *ciphers;                /* TLS 1.2 cipher list; Mozilla intermediate */
    char *ciphersuites;           /* TLS 1.3 suites; Mozilla intermediate */
    char *groups;                 /* key exchange groups; "X25519:prime256v1:secp384r1" */
    uint32_t handshake_timeout_ms;/* default 10000 */
    bool tickets;                 /* session tickets; default true */
    uint32_t ticket_rotate_ms;    /* a ticket key encrypts this long, then decrypts as long
                                     again; default 3600000 (1h) */
    uint32_t session_cache;       /* server-side session cache entries; 0 = off; 20480 */
    uint32_t session_timeout_ms;  /* default 3600000 */
    enum cfg_tls_verify verify;   /* client certificates; default off */
    char *client_ca;              /* PEM CA bundle for client certificates */
    char *subject_header;         /* the verified subject upstream; "X-Client-Subject" */
    char *hsts;                   /* Strict-Transport-Security value; NULL = off */
    bool ktls;                    /* let the kernel encrypt (and sendfile) when it can; false */
};

/* An upstream group's `tls`, and the state store's (`state.tls`). */
struct cfg_tls_upstream {
    bool verify;                  /* default true */
    char *ca;                     /* PEM CA bundle; NULL = the system's */
    char *sni;                    /* server name sent and verified; default: the host of
                                     each server's address when it is a name (none for IPs:
                                     the IP is verified) */
    char *client_cert, *client_key;
    char *ciphers;                /* TLS 1.2 cipher list; NULL = OpenSSL's default */
    bool session_reuse;           /* default true */
};

struct cfg_listener {
    struct cfg_addr addr;
    int backlog;                  /* default 4096 */
    struct cfg_tls_server *tls;   /* NULL = plain TCP */
    uint16_t redirect_https;      /* plain listener: every request gets 308 to https on this
                                     port; 0 = off */
    void *ip_rules;               /* `ip_rules` (src/security/ip_rules.h) checked on the peer at
                                     accept; NULL = none */
    bool http2;                   /* TLS: offer ALPN h2; plain: accept prior-knowledge h2c;
                                     default false (docs/http2.md) */
};

/* Top-level `http2`: the limits of HTTP/2 client connections (docs/http2.md). */
struct cfg_http2 {
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS; default 100 */
    uint32_t stream_window;       /* SETTINGS_INITIAL_WINDOW_SIZE: request body bytes weir
                                     buffers per stream at most; default 65535 */
    uint32_t max_resets;          /* RST_STREAMs weir sends per connection per 10 s before
                                     GOAWAY (MadeYouReset); default 200 */
    uint32_t max_control;         /* control frames per connection per 10 s beyond the payload
                                     allowance before GOAWAY (floods); default 1000 */
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

/* Retries (issue 4): only when safe, see docs/config.md. */
struct cfg_retry {
    uint32_t attempts;            /* total tries including the first; default 2; 1 = off */
    uint32_t backoff_base_ms;     /* full-jitter exponential backoff base; default 25 */
    uint32_t backoff_max_ms;      /* cap of one backoff; default 1000 */
    uint32_t statuses_mask[4];    /* bit (status - 500) set: retried status; default 502,503,504 */
    bool on_connect_error;        /* refused / connect timeout; default true */
    bool on_timeout;              /* response timeout, idempotent requests only; default true */
    uint64_t max_body;            /* request bodies are buffered for replay up to this; 64 KiB */
    uint32_t budget_ratio_pct;    /* retries may add this % of the group's requests; default 20 */
    uint32_t budget_window_ms;    /* sliding window of the budget; default 10000 */
    uint32_t budget_min_per_s;    /* retries always allowed per second; default 3 */
};

enum cfg_breaker_window { CFG_BREAKER_COUNT = 0, CFG_BREAKER_TIME };

/* Circuit breaker with Resilience4j's semantics (issue 4). */
struct cfg_breaker {
    bool enabled;                 /* true when the mapping is present */
    enum cfg_breaker_window window; /* default count */
    uint32_t window_size;         /* calls (count) or seconds (time); default 100 / 60 */
    uint32_t min_calls;           /* calls before rates are evaluated; default 20 */
    uint32_t failure_rate_pct;    /* open at or above; default 50 */
    uint32_t slow_rate_pct;       /* open at or above; default 100 (off in practice) */
    uint32_t slow_call_ms;        /* a call slower than this is slow; default 5000 */
    uint32_t open_ms;             /* wait in open before half-open; default 30000 */
    uint32_t half_open_calls;     /* trial calls in half-open; default 5 */
    bool on_connect_error;        /* default true */
    bool on_timeout;              /* default true */
    uint8_t status_classes;       /* bit k: kxx counts as failure; default 1<<5 (5xx) */
    bool per_server;              /* a breaker per server as well as the group's; default true */
};

/* Concurrency limit / bulkhead per group (issue 4). */
struct cfg_concurrency {
    uint32_t max;                 /* in-flight requests to the group, all workers; 0 = off */
    uint32_t queue;               /* requests waiting beyond max; default 0 */
    uint32_t queue_timeout_ms;    /* max wait in the queue; default 1000 */
    bool adaptive;                /* find the limit from latency (gradient); default false */
    uint32_t min_limit;           /* adaptive floor; default 1 */
    uint32_t max_limit;           /* adaptive ceiling; default 1000 */
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
    struct cfg_retry retry;
    struct cfg_breaker breaker;
    struct cfg_concurrency concurrency;
    struct cfg_tls_upstream *tls; /* NULL = plain TCP */
};

enum cfg_ratelimit_key { CFG_RL_CLIENT_IP = 0, CFG_RL_HEADER, CFG_RL_ROUTE, CFG_RL_CLIENT };

/* Rate limit on a route (issue 4): GCRA, `rate` requests per `period`, `burst` extra. */
struct cfg_ratelimit {
    bool enabled;
    enum cfg_ratelimit_key key;   /* default client_ip */
    char *header;                 /* for CFG_RL_HEADER */
    uint32_t rate;                /* requests per period, >= 1 */
    uint32_t period_ms;           /* default 1000 */
    uint32_t burst;               /* extra requests allowed at once; default 0 */
    uint32_t max_keys;            /* keys tracked (one table per route, all workers); 100000 */
};

/* Idempotency keys on a route (issue 4). */
struct cfg_idempotency {
    bool enabled;
    char *header;                 /* default "Idempotency-Key" */
    uint32_t ttl_ms;              /* stored responses live this long; default 86400000 (24h) */
    uint64_t max_body;            /* responses larger than this are not stored; default 1 MiB */
    uint32_t wait_ms;             /* a duplicate of an in-flight request waits this long, then 409; 5000 */
    uint32_t max_entries;         /* stored responses before the oldest are evicted; 10000 */
};

/* Buffering on a route (issue 8): the request body read whole before an upstream connection
 * is taken, the response read ahead of a slow client so the connection is released early. */
struct cfg_route_buffering {
    bool request;                 /* default true; false = stream the body (today's path) */
    uint64_t request_memory;      /* bodies up to this stay in memory, larger ones go to a
                                     temp file; default 1 MiB */
    bool response;                /* default true */
    uint64_t response_max;        /* read ahead at most this per exchange; default 1 MiB */
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
    struct cfg_ratelimit ratelimit;
    struct cfg_idempotency idempotency;
    struct cfg_route_buffering buffering;
    void **ext;                   /* [config_route_exts count]: each extension's parsed config of
                                     this route (NULL where the key is absent) */
};

struct cfg_limits {
    uint32_t max_request_line;    /* default 8192 -> 414 */
    uint32_t max_header_bytes;    /* default 16384 -> 431 */
    uint32_t max_headers;         /* default 100 -> 431 */
    uint64_t max_body;            /* default 0 = unlimited -> 413 */
    uint32_t shed_loop_lag_ms;    /* a worker whose loop lags more sheds new requests; 0 = off;
                                     default 500 */
    uint32_t shed_inflight;       /* per worker: in-flight requests above this are shed; 0 = off */
};

struct cfg_timeouts {
    uint32_t client_header_ms;    /* whole request head; default 10000 */
    uint32_t client_body_ms;      /* idle between request body bytes; default 60000 */
    uint32_t client_send_ms;      /* idle while the client does not read; default 60000 */
    uint32_t keepalive_ms;        /* idle client connection between requests; default 75000 */
    uint32_t shutdown_ms;         /* graceful stop deadline; default 30000 */
};

/* Per-worker bounds of buffering (top-level `buffering`), so no attack exhausts memory. */
struct cfg_buffering {
    char *temp_dir;               /* request bodies over a route's memory bound; "/tmp" */
    uint64_t memory;              /* per worker: bytes of bodies and read-ahead in memory;
                                     default 64 MiB */
    uint64_t files;               /* per worker: bytes of request bodies in temp files;
                                     default 1 GiB */
};

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

struct cfg_log {
    enum log_level level;         /* default info */
    char *access;                 /* path, "stderr", "stdout" or NULL = off; default NULL */
    char *error;                  /* path or "stderr" (default) */
    bool mask;                    /* mask secrets in the access and error logs; default true */
    char **mask_query;            /* query parameters masked; NULL = the built-in list */
    uint32_t nmask_query;
};

/* The admin listener (issue 5): metrics, status, dashboard; never shed. */
struct cfg_admin {
    bool enabled;                 /* default true */
    bool explicit_listen;         /* `admin` was written in the file (a bind failure is fatal) */
    struct cfg_addr listen;       /* default 127.0.0.1:9901 */
    char *token;                  /* bearer token required on every endpoint; NULL = none */
};

/* The audit log (src/security/audit.h). */
struct cfg_audit {
    char *path;                   /* a file or "stderr"; NULL = off (default) */
    char *key_file;               /* hex key; NULL = "<path>.key", made when absent */
    bool successes;               /* also each accepted authentication (one line a request) */
};

/* The state store (issue 15): where state that must be global across weir instances lives.
 * See docs/config.md, "state". */
enum cfg_state_backend { CFG_STATE_MEMORY = 0, CFG_STATE_REDIS };
#define CFG_STATE_POOL_MAX 64 /* state.pool_size's cap: command connections per worker */
/* What a feature does when the store does not answer in time: let the request through, refuse
 * it, or decide with this instance's own state. */
enum cfg_store_error { CFG_STORE_LOCAL = 0, CFG_STORE_OPEN, CFG_STORE_CLOSED };

#define CFG_STATE_ADDRS_MAX 16 /* state.addresses' cap */
/* One Redis server of state.address / state.addresses. */
struct cfg_state_addr {
    char *text;                       /* as written: "host:port" or a unix socket path ("/...") */
    char *host;                       /* numeric IP (NULL for a unix path) */
    uint16_t port;
    char *unix_path;                  /* NULL unless text starts with '/' */
};

struct cfg_state {
    enum cfg_state_backend backend;   /* default memory */
    struct cfg_state_addr *addrs;     /* redis: the servers, tried in order for the primary */
    uint32_t naddrs;                  /* `address: x` is addresses: [x] */
    uint32_t db;                      /* SELECT; default 0 */
    char *user;                       /* ACL user (AUTH user password); NULL = default user */
    char *password;                   /* NULL = no AUTH */
    char *prefix;                     /* key prefix, default "weir" */
    uint32_t connect_timeout_ms;      /* default 1000 */
    uint32_t command_timeout_ms;      /* default 50 */
    uint32_t pool_size;               /* command connections per worker, 1..64, default 1 */
    uint32_t reconnect_min_ms;        /* backoff start, default 100 */
    uint32_t reconnect_max_ms;        /* backoff cap, default 5000 */
    struct cfg_tls_upstream *tls;     /* NULL = plain TCP (or a unix socket) */
    enum cfg_store_error rate_limit_on_error;   /* default local */
    enum cfg_store_error idempotency_on_error;  /* default closed */
    enum cfg_store_error waiting_room_on_error; /* default local */
    bool purge_broadcast;             /* default true with redis */
    bool breaker_broadcast;           /* default true with redis */
};

struct config {
    atomic_uint refcnt;
    char *source;                 /* file path, or "<command line>" */
    uint64_t generation;          /* set by the owner when installed */
    uint32_t workers;             /* 0 in the file = "auto" = CPU count, resolved by the loader */
    char *server_name;            /* token used in Via, default "weir" */
    bool metrics;                 /* record per-request metrics; default true (off: for
                                     measuring their cost) */
    struct cfg_listener *listeners;
    uint32_t nlisteners;
    struct cfg_limits limits;
    struct cfg_timeouts timeouts;
    struct cfg_http2 http2;
    struct cfg_buffering buffering;
    struct cfg_log log;
    struct cfg_admin admin;
    struct cfg_audit audit;
    struct cfg_state state;
    struct cfg_upstream *upstreams;
    uint32_t nupstreams;
    struct cfg_route *routes;
    uint32_t nroutes;
    /* Built from the tls sections above by the TLS layer before the config is installed
     * (contexts, certificate stores), freed with the config. */
    void *tls_rt;
    void (*tls_rt_free)(void *);
};

#endif

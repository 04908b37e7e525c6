/* cache_object.h — stored objects: their layout, references, and making them from responses:
 * which header fields are kept, the times freshness needs, the tags purges use, and the update
 * a 304 makes (RFC 9111 §3.2, §4.3.4). Pure except for allocation; any thread. */
#ifndef WEIR_CACHE_OBJECT_H
#define WEIR_CACHE_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include <stdatomic.h>

#include "cache/cache_control.h"
#include "cache/cache_fresh.h"
#include "cache/cache_policy.h"
#include "pipeline/response.h"

/* A stored response. Immutable once in a store (cache_store.h), but for the two atomics;
 * reference-counted: whoever holds a reference may read it, on any thread. */
struct cache_obj {
    struct cache_pnode pn;         /* policy links, hash, charge: first (container_of) */
    struct cache_obj *hnext;       /* the shard's hash chain */
    atomic_uint refs;
    atomic_bool stale;             /* soft-purged: revalidate before use */
    atomic_bool refreshing;        /* a background refresh is under way */
    bool linked;                   /* in the table (under the shard lock) */
    bool pass;                     /* hit-for-pass marker: no body, misses go straight up */

    struct str key;                /* primary key (cache_key.h) */
    struct str vary_names, vary_key;
    struct str tags;               /* from the configured tag header, "a,b" */
    uint16_t status;
    struct str reason;
    struct response_header *headers;
    uint32_t nheaders;
    struct cache_control cc;       /* the stored response's directives */
    struct cache_times times;
    int64_t lifetime;              /* seconds */
    int64_t pass_until;            /* pass markers: seconds */
    struct str etag, last_modified;
    bool auth_ok;                  /* may answer requests with Authorization */
    char *body;                    /* malloc'd, body_len bytes */
    uint64_t body_len;
    char data[];                   /* key, vary, header names and values */
};

/* An object of `data_len` extra bytes, refcount 1, not in any store. NULL on out of memory. */
struct cache_obj *cache_object_alloc(size_t data_len);
void cache_object_ref(struct cache_obj *o);
/* Drops a reference; the last one frees the object and its body. NULL is a no-op. */
void cache_object_unref(struct cache_obj *o);

/* What is known of a response before it is stored. */
struct cache_object_facts {
    struct str key;
    uint64_t hash;
    struct str vary_names, vary_key;
    struct str tag_header;          /* the field that carries tags */
    struct cache_times times;
    int64_t default_ttl, heuristic_max;
    bool auth_ok;
    struct str own_cookie;          /* a cookie weir sets itself (sticky sessions): its
                                       Set-Cookie is the client's, never stored */
};

/* The response directives a shared cache follows: those of CDN-Cache-Control when the
 * response has that field (RFC 9213: it then replaces Cache-Control and Expires), else those of
 * Cache-Control. Returns whether CDN-Cache-Control was used. */
bool cache_object_directives(const struct response_header *h, uint32_t n,
                             struct cache_control *cc);

/* The freshness times of a response head received at response_time for a request sent at
 * request_time (seconds). `now` resolves two-digit years. */
void cache_object_times(const struct response *r, int64_t request_time, int64_t response_time,
                        struct cache_times *t);

/* A new object (refcount 1, no body yet) with r's status and the fields a cache keeps (not
 * Age, X-Cache, nor those named by no-cache="..." / private="..."); NULL when out of memory. */
struct cache_obj *cache_object_new(const struct response *r, const struct cache_object_facts *f);

/* A copy of `old` whose fields are updated by those of a 304 (each field the 304 carries
 * replaces the stored ones of its name, Content-Length and framing aside) with the 304's times;
 * the body is copied. NULL when out of memory. */
struct cache_obj *cache_object_update(const struct cache_obj *old, const struct response *r304,
                                      const struct cache_times *t, int64_t default_ttl,
                                      int64_t heuristic_max);

/* A hit-for-pass marker of key until `until` (seconds). */
struct cache_obj *cache_object_pass(struct str key, uint64_t hash, int64_t until);

/* Sets the body (takes the malloc'd buffer) and the object's charge. */
void cache_object_set_body(struct cache_obj *o, char *body, uint64_t len);

#endif

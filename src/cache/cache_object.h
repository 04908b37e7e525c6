/* cache_object.h — making stored objects (cache_store.h) from responses: which header fields
 * are kept, the times freshness needs, the tags purges use, and the update a 304 makes
 * (RFC 9111 §3.2, §4.3.4). Pure except for allocation; any thread. */
#ifndef WEIR_CACHE_OBJECT_H
#define WEIR_CACHE_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache_fresh.h"
#include "cache/cache_store.h"
#include "pipeline/response.h"

/* What is known of a response before it is stored. */
struct cache_object_facts {
    struct str key;
    uint64_t hash;
    struct str vary_names, vary_key;
    struct str tag_header;          /* the field that carries tags */
    struct cache_times times;
    int64_t default_ttl, heuristic_max;
    bool auth_ok;
};

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

/* reqs.h — what the load tester sends: the target and the request templates.
 *
 * Every request is rendered once, at start-up, into the exact bytes that go on the wire (head
 * and body), so sending one is a memcpy. A request list file gives several templates with
 * weights; a sender picks one per request with its own PRNG (reqs_pick), so threads never share
 * state. All templates go to one origin (scheme, host, port).
 *
 * Request list file: one request a line, blank lines and '#' comments ignored:
 *     WEIGHT METHOD URL [BODY_FILE]
 * e.g. "3 GET http://127.0.0.1:8080/" and "1 POST http://127.0.0.1:8080/echo body.json". */
#ifndef WEIR_LOAD_REQS_H
#define WEIR_LOAD_REQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define REQS_MAX_HEADERS 32

struct reqs_tpl {
    char *bytes;       /* owned */
    size_t len;
    uint32_t weight;
    bool head;         /* HEAD: no body in the answer */
};

struct reqs {
    bool tls;                       /* https */
    char host[256];                 /* as in the URL, for Host */
    char port[8];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t n;
    uint64_t total_weight;
    struct reqs_tpl *tpl;           /* owned, n of them */
};

struct reqs_spec {
    const char *url;                /* used when list_file is NULL */
    const char *method;             /* default GET */
    const char *body_file;
    const char *list_file;
    const char *headers[REQS_MAX_HEADERS]; /* "Name: value" */
    uint32_t nheaders;
};

/* Builds the templates and resolves the host (blocking; start-up only). Returns 0, or -1 with a
 * message in err. */
int reqs_build(struct reqs *r, const struct reqs_spec *spec, char *err, size_t errlen);
void reqs_free(struct reqs *r);

/* A template chosen by weight; *rng is the caller's xorshift state (non-zero). */
const struct reqs_tpl *reqs_pick(const struct reqs *r, uint64_t *rng);

#endif

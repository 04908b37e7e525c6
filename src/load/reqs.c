/* reqs.c — request templates and the target; see reqs.h. */
#include "load/reqs.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct url {
    bool tls;
    char host[256], port[8];
    const char *path; /* into the URL string; "/" when empty */
};

static int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
    *u = (struct url){0};
    const char *p;
    if (strncmp(s, "http://", 7) == 0) {
        p = s + 7;
    } else if (strncmp(s, "https://", 8) == 0) {
        p = s + 8;
        u->tls = true;
    } else {
        snprintf(err, errlen, "%s: the URL must start with http:// or https://", s);
        return -1;
    }
    const char *end = p + strcspn(p, "/?");
    const char *hs = p, *he, *colon = NULL;
    if (*p == '[') { /* [v6]:port */
        he = memchr(p, ']', (size_t)(end - p));
        if (!he) {
            snprintf(err, errlen, "%s: bad IPv6 address", s);
            return -1;
        }
        hs = p + 1;
        colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
    }
    size_t hl = (size_t)(he - hs);
    size_t pl = colon ? (size_t)(end - colon - 1) : 0;
    if (hl == 0 || hl >= sizeof(u->host) || pl >= sizeof(u->port) || (colon && pl == 0)) {
        snprintf(err, errlen, "%s: bad host or port", s);
        return -1;
    }
    memcpy(u->host, hs, hl);
    if (colon)
        memcpy(u->port, colon + 1, pl);
    else
        strcpy(u->port, u->tls ? "443" : "80");
    u->path = *end ? end : "/";
    return 0;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f)
        goto fail;
    if (fseek(f, 0, SEEK_END) == -1)
        goto fail;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) == -1)
        goto fail;
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        goto fail;
    buf[n] = 0;
    *len = (size_t)n;
    fclose(f);
    return buf;
fail:
    snprintf(err, errlen, "%s: cannot read", path);
    free(buf);
    if (f)
        fclose(f);
    return NULL;
}

static bool has_header(const struct reqs_spec *sp, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < sp->nheaders; i++)
        if (strncasecmp(sp->headers[i], name, n) == 0 && sp->headers[i][n] == ':')
            return true;
    return false;
}

/* Renders one request; body (may be NULL) is copied. */
static int tpl_render(struct reqs_tpl *t, const struct reqs_spec *sp, const char *method,
                      const struct url *u, const char *body, size_t blen)
{
    size_t cap = 512 + strlen(u->path) + strlen(u->host) + blen;
    for (uint32_t i = 0; i < sp->nheaders; i++)
        cap += strlen(sp->headers[i]) + 2;
    char *b = malloc(cap);
    if (!b)
        return -1;
    bool default_port = strcmp(u->port, u->tls ? "443" : "80") == 0;
    bool v6 = strchr(u->host, ':') != NULL;
    int n = snprintf(b, cap, "%s %s HTTP/1.1\r\n", method, u->path);
    if (!has_header(sp, "host"))
        n += snprintf(b + n, cap - (size_t)n, "Host: %s%s%s%s%s\r\n", v6 ? "[" : "", u->host,
                      v6 ? "]" : "", default_port ? "" : ":", default_port ? "" : u->port);
    if (!has_header(sp, "user-agent"))
        n += snprintf(b + n, cap - (size_t)n, "User-Agent: weir-load/%s\r\n", WEIR_VERSION);
    for (uint32_t i = 0; i < sp->nheaders; i++)
        n += snprintf(b + n, cap - (size_t)n, "%s\r\n", sp->headers[i]);
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
        n += snprintf(b + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(b + n, cap - (size_t)n, "\r\n");
    if (blen)
        memcpy(b + n, body, blen);
    *t = (struct reqs_tpl){.bytes = b, .len = (size_t)n + blen, .weight = t->weight,
                           .head = strcmp(method, "HEAD") == 0};
    return 0;
}

static int reqs_add(struct reqs *r, const struct reqs_spec *sp, uint32_t weight,
                    const char *method, const char *url, const char *body_file, char *err,
                    size_t errlen)
{
    struct url u;
    if (url_parse(url, &u, err, errlen) == -1)
        return -1;
    for (const char *m = method; *m; m++)
        if (*m < 'A' || *m > 'Z') {
            snprintf(err, errlen, "%s: a method is upper-case letters", method);
            return -1;
        }
    if (r->n == 0) {
        r->tls = u.tls;
        strcpy(r->host, u.host);
        strcpy(r->port, u.port);
    } else if (u.tls != r->tls || strcmp(u.host, r->host) || strcmp(u.port, r->port)) {
        snprintf(err, errlen, "%s: every request must go to the same origin", url);
        return -1;
    }
    char *body = NULL;
    size_t blen = 0;
    if (body_file && !(body = read_file(body_file, &blen, err, errlen)))
        return -1;
    struct reqs_tpl *t = realloc(r->tpl, (r->n + 1) * sizeof(*t));
    if (!t) {
        free(body);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->tpl = t;
    t[r->n].weight = weight;
    int rc = tpl_render(&t[r->n], sp, method, &u, body, blen);
    free(body);
    if (rc == -1) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->n++;
    r->total_weight += weight;
    return 0;
}

static int reqs_load_list(struct reqs *r, const struct reqs_spec *sp, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(sp->list_file, &len, err, errlen);
    if (!text)
        return -1;
    int rc = 0, lineno = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *f[5] = {0};
        int nf = 0;
        for (char *s2 = NULL, *w = strtok_r(line, " \t\r", &s2); w && nf < 5;
             w = strtok_r(NULL, " \t\r", &s2))
            f[nf++] = w;
        if (nf == 0 || f[0][0] == '#')
            continue;
        char *end;
        unsigned long wgt = strtoul(f[0], &end, 10);
        if (nf < 3 || nf > 4 || *end || wgt == 0 || wgt > 1000000) {
            snprintf(err, errlen, "%s:%d: expected WEIGHT METHOD URL [BODY_FILE]",
                     sp->list_file, lineno);
            rc = -1;
            break;
        }
        char sub[200];
        if (reqs_add(r, sp, (uint32_t)wgt, f[1], f[2], f[3], sub, sizeof(sub)) == -1) {
            snprintf(err, errlen, "%s:%d: %s", sp->list_file, lineno, sub);
            rc = -1;
            break;
        }
    }
    free(text);
    if (rc == 0 && r->n == 0) {
        snprintf(err, errlen, "%s: no requests", sp->list_file);
        rc = -1;
    }
    return rc;
}

int reqs_build(struct reqs *r, const struct reqs_spec *sp, char *err, size_t errlen)
{
    *r = (struct reqs){0};
    int rc = sp->list_file ? reqs_load_list(r, sp, err, errlen)
                           : reqs_add(r, sp, 1, sp->method ? sp->method : "GET", sp->url,
                                      sp->body_file, err, errlen);
    if (rc == -1)
        goto fail;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(r->host, r->port, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, errlen, "%s:%s: %s", r->host, r->port, gai_strerror(g));
        goto fail;
    }
    memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
    r->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
fail:
    reqs_free(r);
    return -1;
}

void reqs_free(struct reqs *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        free(r->tpl[i].bytes);
    free(r->tpl);
    r->tpl = NULL;
    r->n = 0;
}

const struct reqs_tpl *reqs_pick(const struct reqs *r, uint64_t *rng)
{
    if (r->n == 1)
        return &r->tpl[0];
    uint64_t x = *rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    uint64_t k = x % r->total_weight;
    for (uint32_t i = 0; i < r->n; i++) {
        if (k < r->tpl[i].weight)
            return &r->tpl[i];
        k -= r->tpl[i].weight;
    }
    return &r->tpl[r->n - 1];
}

/* wr_page.c — see wr_page.h. */
#include "waitroom/wr_page.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char builtin[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
    "<meta http-equiv=\"refresh\" content=\"{{refresh_seconds}}\">"
    "<link rel=\"icon\" href=\"data:,\"><title>You are in line</title>"
    "<style>body{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;"
    "color:#222;line-height:1.5}.big{font-size:2.6em;font-weight:700;display:block}"
    "small{color:#666}</style></head>\n<body data-state=\"{{state}}\">"
    "<h1 id=\"title\">You are in line</h1>"
    "<p>This site is busy right now. Keep this page open: it checks again by itself and takes "
    "you in when it is your turn. Reloading it does not move you back.</p>"
    "<p id=\"pos\">Your place in line<span class=\"big\" id=\"position\">{{position}}</span></p>"
    "<p id=\"eta\" data-eta=\"{{eta_seconds}}\" data-known=\"{{eta_known}}\">Estimated wait: "
    "being measured.</p>"
    "<p><small>Next check in <span id=\"countdown\">{{refresh_seconds}}</span> s &middot; "
    "room {{room}}{{event_note}}</small></p>\n"
    "<script>\n(function(){\n"
    "var full=document.body.dataset.state!=='waiting';\n"
    "if(full){document.getElementById('title').textContent='The site is full';"
    "document.getElementById('pos').textContent='Nobody is let in right now. This page tries "
    "again by itself.';}\n"
    "var e=document.getElementById('eta');\n"
    "if(!full&&e.dataset.known==='true'){var s=parseInt(e.dataset.eta,10);"
    "e.textContent='Estimated wait: '+(s<60?'under a minute':'about '+Math.round(s/60)+' min')+'.';}\n"
    "var left=parseInt(document.getElementById('countdown').textContent,10);\n"
    "var c=document.getElementById('countdown');\n"
    "setInterval(function(){if(left>0){left--;c.textContent=String(left);}},1000);\n"
    "})();\n</script></body></html>\n";

static void iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t wr_page_json(const struct wr_view *v, char *out, size_t cap)
{
    char ev[160] = "null";
    if (v->event) {
        char a[32] = "", b[32], c[32];
        if (v->prequeue_ms != INT64_MIN)
            iso(v->prequeue_ms, a);
        iso(v->start_ms, b);
        iso(v->end_ms, c);
        snprintf(ev, sizeof(ev), "{\"prequeue_start\":%s%s%s,\"start\":\"%s\",\"end\":\"%s\"}",
                 a[0] ? "\"" : "", a[0] ? a : "null", a[0] ? "\"" : "", b, c);
    }
    char pos[48] = "null", ahead[24] = "null";
    if (v->waiting) {
        snprintf(pos, sizeof(pos), "%" PRIu64, v->ahead + 1);
        snprintf(ahead, sizeof(ahead), "%" PRIu64, v->ahead);
    }
    int n = snprintf(out, cap,
                     "{\"room\":\"%s\",\"state\":\"%s\",\"position\":%s,\"ahead\":%s,"
                     "\"eta_seconds\":%" PRIu64 ",\"eta_known\":%s,\"refresh_seconds\":%u,"
                     "\"admitted_per_minute\":%" PRIu64 ",\"active\":%" PRIu64
                     ",\"max_active\":%" PRIu64 ",\"event\":%s}\n",
                     v->room, v->waiting ? "waiting" : "full", pos, ahead, v->eta_s,
                     v->eta_known ? "true" : "false", v->refresh_s, v->admitted_per_minute,
                     v->active, v->max_active, ev);
    return n < 0 ? 0 : (size_t)n;
}

/* The value of one {{name}}, or NULL when unknown. */
static const char *var(const struct wr_view *v, const char *name, size_t len, char buf[64])
{
#define IS(s) (len == sizeof(s) - 1 && !memcmp(name, s, len))
    if (IS("position"))
        snprintf(buf, 64, v->waiting ? "%" PRIu64 : "-", v->ahead + 1);
    else if (IS("ahead"))
        snprintf(buf, 64, "%" PRIu64, v->ahead);
    else if (IS("eta_seconds"))
        snprintf(buf, 64, "%" PRIu64, v->eta_s);
    else if (IS("eta_known"))
        snprintf(buf, 64, "%s", v->eta_known ? "true" : "false");
    else if (IS("refresh_seconds"))
        snprintf(buf, 64, "%u", v->refresh_s);
    else if (IS("room"))
        snprintf(buf, 64, "%s", v->room);
    else if (IS("state"))
        snprintf(buf, 64, "%s", v->waiting ? "waiting" : "full");
    else if (IS("event_start")) {
        buf[0] = '\0';
        if (v->event)
            iso(v->start_ms, buf);
    } else if (IS("event_note")) {
        buf[0] = '\0';
        if (v->event) {
            char t[32];
            iso(v->start_ms, t);
            snprintf(buf, 64, " &middot; opens %s", t);
        }
    } else
        return NULL;
    return buf;
#undef IS
}

size_t wr_page_html(const struct wr_view *v, const char *tmpl, size_t tlen, char *out,
                    size_t cap)
{
    if (!tmpl) {
        tmpl = builtin;
        tlen = sizeof(builtin) - 1;
    }
    size_t n = 0;
#define PUT(p, l)                                                      \
    do {                                                               \
        size_t l_ = (l);                                               \
        if (n + l_ < cap)                                              \
            memcpy(out + n, (p), l_);                                  \
        n += l_;                                                       \
    } while (0)
    const char *p = tmpl, *end = tmpl + tlen;
    while (p < end) {
        const char *o = memmem(p, (size_t)(end - p), "{{", 2);
        const char *c = o ? memmem(o + 2, (size_t)(end - o - 2), "}}", 2) : NULL;
        if (!o || !c) {
            PUT(p, (size_t)(end - p));
            break;
        }
        char buf[64];
        const char *val = var(v, o + 2, (size_t)(c - o - 2), buf);
        PUT(p, (size_t)(o - p));
        if (val)
            PUT(val, strlen(val));
        else
            PUT(o, (size_t)(c + 2 - o));
        p = c + 2;
    }
#undef PUT
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* h1_util.c — small helpers over parsed heads: header lookup, token lists, reason phrases.
 *
 * Pure functions over caller-owned slices; no state, callable from any thread. */

#include "http/h1.h"

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
}

static bool eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

int h1_find_header(const struct h1_header *h, uint32_t n, struct str name)
{
    for (uint32_t i = 0; i < n; i++)
        if (h[i].name.len == name.len && eq_nocase(h[i].name.ptr, name.ptr, name.len))
            return (int)i;
    return -1;
}

/* Elements are split on ',' and trimmed of OWS (RFC 9110 §5.6.1); empty elements never match.
 * O(value length). */
bool h1_list_has_token(struct str value, struct str token)
{
    const char *p = value.ptr, *e = value.ptr + value.len;
    if (token.len == 0)
        return false;
    while (p < e) {
        const char *s = p;
        while (p < e && *p != ',')
            p++;
        struct str el = str_trim_ows(str_from(s, (size_t)(p - s)));
        if (el.len == token.len && eq_nocase(el.ptr, token.ptr, token.len))
            return true;
        p++;
    }
    return false;
}

/* RFC 9110 §15 plus the registered extras weir may send or relay (RFC 6585, 7538, 8297, 8470,
 * 7725, 4918). */
const char *h1_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

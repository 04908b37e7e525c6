/* test_h2_map.c — h2_map_request (pseudo-headers → HTTP/1.1 request head) and h2_map_response
 * (response head → HTTP/2 fields). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "h2/h2_map.h"
#include "http/h1.h"

#define F(n, v) {STR_LIT(n), STR_LIT(v)}

static int map(const struct h2_field *f, uint32_t n, bool body, char *out, size_t cap,
               struct h2_req_info *info)
{
    int r = h2_map_request(f, n, body, out, cap, info);
    if (r > 0)
        out[r] = '\0';
    return r;
}

static void request_line_host_and_fields(void **state)
{
    (void)state;
    const struct h2_field f[] = {F(":method", "GET"), F(":scheme", "https"),
                                 F(":authority", "a.test"), F(":path", "/x?y=1"),
                                 F("accept", "*/*"), F("te", "trailers")};
    char out[512];
    struct h2_req_info info;
    int n = map(f, 6, false, out, sizeof(out) - 1, &info);
    assert_true(n > 0);
    assert_string_equal(out, "GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\naccept: */*\r\n\r\n");
    assert_false(info.chunked);
    assert_false(info.head);
    /* And the HTTP/1.1 parser takes it. */
    struct h1_request req;
    const struct h1_limits lim = {8192, 8192, 100, 0};
    assert_int_equal(h1_parse_request(out, (size_t)n, &lim, &req), n);
    assert_true(str_eq(req.host, STR_LIT("a.test")));
}

static void cookies_joined(void **state)
{
    (void)state;
    const struct h2_field f[] = {F(":method", "GET"), F(":scheme", "http"),
                                 F(":authority", "a"), F(":path", "/"), F("cookie", "a=1"),
                                 F("x", "y"), F("cookie", "b=2")};
    char out[512];
    struct h2_req_info info;
    assert_true(map(f, 7, false, out, sizeof(out) - 1, &info) > 0);
    assert_string_equal(out, "GET / HTTP/1.1\r\nHost: a\r\nx: y\r\ncookie: a=1; b=2\r\n\r\n");
}

static void body_framing(void **state)
{
    (void)state;
    const struct h2_field f[] = {F(":method", "POST"), F(":scheme", "http"),
                                 F(":authority", "a"), F(":path", "/p")};
    char out[512];
    struct h2_req_info info;
    assert_true(map(f, 4, true, out, sizeof(out) - 1, &info) > 0);
    assert_true(info.chunked);
    assert_non_null(strstr(out, "transfer-encoding: chunked\r\n"));
    const struct h2_field g[] = {F(":method", "POST"), F(":scheme", "http"),
                                 F(":authority", "a"), F(":path", "/p"),
                                 F("content-length", "5")};
    assert_true(map(g, 5, true, out, sizeof(out) - 1, &info) > 0);
    assert_false(info.chunked);
    assert_null(strstr(out, "transfer-encoding"));
    const struct h2_field h[] = {F(":method", "HEAD"), F(":scheme", "http"),
                                 F(":authority", "a"), F(":path", "/")};
    assert_true(map(h, 4, false, out, sizeof(out) - 1, &info) > 0);
    assert_true(info.head);
}

static void host_and_authority(void **state)
{
    (void)state;
    char out[512];
    struct h2_req_info info;
    const struct h2_field only_host[] = {F(":method", "GET"), F(":scheme", "http"),
                                         F(":path", "/"), F("host", "h.test")};
    assert_true(map(only_host, 4, false, out, sizeof(out) - 1, &info) > 0);
    assert_string_equal(out, "GET / HTTP/1.1\r\nHost: h.test\r\n\r\n");
    const struct h2_field same[] = {F(":method", "GET"), F(":scheme", "http"),
                                    F(":authority", "H.test"), F(":path", "/"),
                                    F("host", "h.test")};
    assert_true(map(same, 5, false, out, sizeof(out) - 1, &info) > 0);
    const struct h2_field differ[] = {F(":method", "GET"), F(":scheme", "http"),
                                      F(":authority", "a.test"), F(":path", "/"),
                                      F("host", "b.test")};
    assert_int_equal(map(differ, 5, false, out, sizeof(out) - 1, &info), -400);
    assert_non_null(info.why);
    const struct h2_field none[] = {F(":method", "GET"), F(":scheme", "http"), F(":path", "/")};
    assert_int_equal(map(none, 3, false, out, sizeof(out) - 1, &info), -400);
}

static void refused(void **state)
{
    (void)state;
    char out[512];
    struct h2_req_info info;
    const struct h2_field conn[] = {F(":method", "GET"), F(":scheme", "http"),
                                    F(":authority", "a"), F(":path", "/"),
                                    F("connection", "close")};
    assert_int_equal(map(conn, 5, false, out, sizeof(out) - 1, &info), -400);
    const struct h2_field te[] = {F(":method", "GET"), F(":scheme", "http"),
                                  F(":authority", "a"), F(":path", "/"),
                                  F("transfer-encoding", "chunked")};
    assert_int_equal(map(te, 5, false, out, sizeof(out) - 1, &info), -400);
    const struct h2_field nopath[] = {F(":method", "GET"), F(":scheme", "http"),
                                      F(":authority", "a")};
    assert_int_equal(map(nopath, 3, false, out, sizeof(out) - 1, &info), -400);
    const struct h2_field pseudo[] = {F(":method", "GET"), F(":scheme", "http"),
                                      F(":authority", "a"), F(":path", "/"),
                                      F(":protocol", "websocket")};
    assert_int_equal(map(pseudo, 5, false, out, sizeof(out) - 1, &info), -400);
    const struct h2_field ok[] = {F(":method", "GET"), F(":scheme", "http"),
                                  F(":authority", "a"), F(":path", "/")};
    assert_int_equal(map(ok, 4, false, out, 10, &info), -431);
}

static void connect_uses_authority(void **state)
{
    (void)state;
    char out[512];
    struct h2_req_info info;
    const struct h2_field f[] = {F(":method", "CONNECT"), F(":authority", "a:443")};
    assert_true(map(f, 2, true, out, sizeof(out) - 1, &info) > 0);
    assert_true(strncmp(out, "CONNECT a:443 HTTP/1.1\r\n", 24) == 0);
}

static void response_fields(void **state)
{
    (void)state;
    const char head[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                        "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                        "Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n";
    struct h1_response r;
    const struct h1_limits lim = {8192, 8192, 100, 0};
    assert_true(h1_parse_response(head, sizeof(head) - 1, &lim, false, &r) > 0);
    struct h2_field f[16];
    char names[256], st[4];
    int n = h2_map_response(&r, f, 16, names, sizeof(names), st);
    assert_int_equal(n, 4);
    assert_true(str_eq(f[0].name, STR_LIT(":status")));
    assert_true(str_eq(f[0].value, STR_LIT("404")));
    assert_true(str_eq(f[1].name, STR_LIT("content-type")));
    assert_true(str_eq(f[1].value, STR_LIT("text/plain")));
    assert_true(str_eq(f[2].name, STR_LIT("set-cookie")));
    assert_true(str_eq(f[3].value, STR_LIT("b=2")));
    assert_int_equal(h2_map_response(&r, f, 2, names, sizeof(names), st), -1);
    assert_int_equal(h2_map_response(&r, f, 16, names, 4, st), -1);
}

static void trailer_section(void **state)
{
    (void)state;
    char sec[] = "X-Trailer: done\r\nConnection: close\r\nbad line\r\nGrpc-Status:  0 \r\n\r\n";
    struct h2_field f[8];
    uint32_t n = h2_map_trailers(sec, sizeof(sec) - 1, f, 8);
    assert_int_equal(n, 2);
    assert_true(str_eq(f[0].name, STR_LIT("x-trailer")));
    assert_true(str_eq(f[0].value, STR_LIT("done")));
    assert_true(str_eq(f[1].name, STR_LIT("grpc-status")));
    assert_true(str_eq(f[1].value, STR_LIT("0")));
    assert_int_equal(h2_map_trailers(sec, sizeof(sec) - 1, f, 1), 1);
    char empty[] = "\r\n";
    assert_int_equal(h2_map_trailers(empty, 2, f, 8), 0);
}

static void forbidden_names(void **state)
{
    (void)state;
    assert_true(h2_map_forbidden(STR_LIT("Connection")));
    assert_true(h2_map_forbidden(STR_LIT("upgrade")));
    assert_true(h2_map_forbidden(STR_LIT("proxy-connection")));
    assert_false(h2_map_forbidden(STR_LIT("te")));
    assert_false(h2_map_forbidden(STR_LIT("content-length")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_line_host_and_fields),
        cmocka_unit_test(cookies_joined),
        cmocka_unit_test(body_framing),
        cmocka_unit_test(host_and_authority),
        cmocka_unit_test(refused),
        cmocka_unit_test(connect_uses_authority),
        cmocka_unit_test(response_fields),
        cmocka_unit_test(trailer_section),
        cmocka_unit_test(forbidden_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

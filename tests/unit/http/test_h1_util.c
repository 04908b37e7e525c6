/* test_h1_util.c — h1_find_header, h1_list_has_token, h1_status_text. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/h1.h"

static bool has(const char *list, const char *token)
{
    return h1_list_has_token(str_cstr(list), str_cstr(token));
}

static void list_has_token(void **state)
{
    (void)state;
    assert_true(has("close", "close"));
    assert_true(has("Close", "close"));
    assert_true(has("keep-alive, Upgrade", "upgrade"));
    assert_true(has("  a ,\tb\t, c  ", "b"));
    assert_true(has("a,,b", "b"));
    assert_true(has("a,b,", "b"));
    assert_true(has(",upgrade", "UPGRADE"));
    assert_false(has("closed", "close"));
    assert_false(has("xclose", "close"));
    assert_false(has("clo se", "close"));
    assert_false(has("close;q=1", "close"));
    assert_false(has("", "close"));
    assert_false(has(" , ", "close"));
    assert_false(has("a, b", ""));
    assert_false(has("keep-alive", "keep"));
    struct str cut = {.ptr = "closeX", .len = 5}; /* not NUL-terminated at its end */
    assert_true(h1_list_has_token(cut, STR_LIT("close")));
}

static void find_header(void **state)
{
    (void)state;
    const struct h1_header h[] = {
        {.name = STR_LIT("Host"), .value = STR_LIT("a")},
        {.name = STR_LIT("Content-Length"), .value = STR_LIT("5")},
        {.name = STR_LIT("X-Dup"), .value = STR_LIT("1")},
        {.name = STR_LIT("x-dup"), .value = STR_LIT("2")},
    };
    assert_int_equal(h1_find_header(h, 4, STR_LIT("host")), 0);
    assert_int_equal(h1_find_header(h, 4, STR_LIT("CONTENT-LENGTH")), 1);
    assert_int_equal(h1_find_header(h, 4, STR_LIT("x-DUP")), 2); /* the first one */
    assert_int_equal(h1_find_header(h, 4, STR_LIT("Hos")), -1);
    assert_int_equal(h1_find_header(h, 4, STR_LIT("Hostt")), -1);
    assert_int_equal(h1_find_header(h, 4, STR_LIT("")), -1);
    assert_int_equal(h1_find_header(h, 0, STR_LIT("Host")), -1);
    assert_int_equal(h1_find_header(h, 1, STR_LIT("Content-Length")), -1);
}

static void find_header_after_parse(void **state)
{
    (void)state;
    static const char r[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n";
    const struct h1_limits lim = {.max_request_line = 100, .max_header_bytes = 1000,
                                  .max_headers = 10};
    struct h1_request req;
    assert_true(h1_parse_request(r, sizeof r - 1, &lim, &req) > 0);
    int i = h1_find_header(req.headers, req.nheaders, STR_LIT("x-forwarded-for"));
    assert_int_equal(i, 1);
    assert_int_equal(req.headers[i].value.len, 8);
}

static void status_texts(void **state)
{
    (void)state;
    assert_string_equal(h1_status_text(100), "Continue");
    assert_string_equal(h1_status_text(101), "Switching Protocols");
    assert_string_equal(h1_status_text(200), "OK");
    assert_string_equal(h1_status_text(204), "No Content");
    assert_string_equal(h1_status_text(301), "Moved Permanently");
    assert_string_equal(h1_status_text(304), "Not Modified");
    assert_string_equal(h1_status_text(400), "Bad Request");
    assert_string_equal(h1_status_text(404), "Not Found");
    assert_string_equal(h1_status_text(413), "Content Too Large");
    assert_string_equal(h1_status_text(414), "URI Too Long");
    assert_string_equal(h1_status_text(429), "Too Many Requests");
    assert_string_equal(h1_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(h1_status_text(500), "Internal Server Error");
    assert_string_equal(h1_status_text(501), "Not Implemented");
    assert_string_equal(h1_status_text(502), "Bad Gateway");
    assert_string_equal(h1_status_text(503), "Service Unavailable");
    assert_string_equal(h1_status_text(504), "Gateway Timeout");
    assert_string_equal(h1_status_text(0), "Unknown");
    assert_string_equal(h1_status_text(299), "Unknown");
    assert_string_equal(h1_status_text(-1), "Unknown");
    assert_string_equal(h1_status_text(1000), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_has_token),
        cmocka_unit_test(find_header),
        cmocka_unit_test(find_header_after_parse),
        cmocka_unit_test(status_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

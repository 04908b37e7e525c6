/* test_reqs.c — request templates: the exact wire bytes (Host with a non-default port, headers,
 * Content-Length from a body file), a weighted list file and its line-numbered errors, weighted
 * picks, and URLs refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/reqs.h"

static char *tmpfile_with(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/weir-test-reqs-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_render(void **state)
{
    (void)state;
    struct reqs r;
    char err[256];
    char *body = strdup(tmpfile_with("{\"a\":1}"));
    struct reqs_spec sp = {.url = "http://127.0.0.1:8080/x?y=1", .method = "POST",
                           .body_file = body, .headers = {"X-A: 1"}, .nheaders = 1};
    assert_int_equal(reqs_build(&r, &sp, err, sizeof(err)), 0);
    assert_int_equal(r.n, 1);
    const char *want = "POST /x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: weir-load/"
                       WEIR_VERSION "\r\nX-A: 1\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    assert_int_equal(r.tpl[0].len, strlen(want));
    assert_memory_equal(r.tpl[0].bytes, want, strlen(want));
    reqs_free(&r);
    unlink(body);
    free(body);

    struct reqs_spec h = {.url = "http://localhost", .method = "HEAD",
                          .headers = {"Host: example.org"}, .nheaders = 1};
    assert_int_equal(reqs_build(&r, &h, err, sizeof(err)), 0);
    assert_true(r.tpl[0].head);
    assert_non_null(strstr(r.tpl[0].bytes, "HEAD / HTTP/1.1\r\nUser-Agent"));
    assert_null(strstr(r.tpl[0].bytes, "localhost")); /* the given Host replaces ours */
    reqs_free(&r);

    struct reqs_spec bad = {.url = "ftp://x/"};
    assert_int_equal(reqs_build(&r, &bad, err, sizeof(err)), -1);
    struct reqs_spec tls = {.url = "https://127.0.0.1/"};
    assert_int_equal(reqs_build(&r, &tls, err, sizeof(err)), 0);
    assert_true(r.tls);
    assert_string_equal(r.port, "443");
    reqs_free(&r);
}

static void test_list(void **state)
{
    (void)state;
    struct reqs r;
    char err[256];
    char *path = strdup(tmpfile_with("# comment\n3 GET http://127.0.0.1:9/a\n\n"
                                     "1 DELETE http://127.0.0.1:9/b\n"));
    struct reqs_spec sp = {.list_file = path};
    assert_int_equal(reqs_build(&r, &sp, err, sizeof(err)), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.total_weight, 4);
    uint64_t rng = 12345, a = 0;
    for (int i = 0; i < 4000; i++)
        a += reqs_pick(&r, &rng) == &r.tpl[0];
    assert_true(a > 2800 && a < 3200);
    reqs_free(&r);
    unlink(path);
    free(path);

    path = strdup(tmpfile_with("1 GET http://127.0.0.1:9/\n1 GET http://127.0.0.1:10/\n"));
    sp.list_file = path;
    assert_int_equal(reqs_build(&r, &sp, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: "));
    assert_non_null(strstr(err, "same origin"));
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

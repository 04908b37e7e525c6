/* test_sock.c — which errno values are local shortages (never an upstream's fault). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "event/sock.h"

static void test_local_errors(void **state)
{
    (void)state;
    assert_int_equal(sock_local_error(EMFILE), SOCK_LOCAL_EMFILE);
    assert_int_equal(sock_local_error(ENFILE), SOCK_LOCAL_ENFILE);
    assert_int_equal(sock_local_error(ENOMEM), SOCK_LOCAL_ENOMEM);
    assert_int_equal(sock_local_error(ENOBUFS), SOCK_LOCAL_ENOBUFS);
    assert_int_equal(sock_local_error(EADDRNOTAVAIL), SOCK_LOCAL_EADDRNOTAVAIL);
    assert_int_equal(sock_local_error(ENOSPC), SOCK_LOCAL_ENOSPC);
    assert_string_equal(sock_local_error_name(SOCK_LOCAL_EMFILE), "emfile");
    assert_string_equal(sock_local_error_name(SOCK_LOCAL_EADDRNOTAVAIL), "eaddrnotavail");
    for (int k = 0; k < SOCK_LOCAL_KINDS; k++)
        assert_true(strlen(sock_local_error_name(k)) > 0);
}

static void test_peer_errors(void **state)
{
    (void)state;
    /* What a server or the network did: these count against the server. */
    static const int peer[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
                               ECONNRESET, EPIPE, 0};
    for (size_t i = 0; i < sizeof(peer) / sizeof(peer[0]); i++)
        assert_int_equal(sock_local_error(peer[i]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_errors),
        cmocka_unit_test(test_peer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

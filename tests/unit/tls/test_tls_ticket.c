/* test_tls_ticket.c — ticket keys rotate on the timer (no handshake needed), the previous key
 * still decrypts for one period, and is gone after the second rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tls/tls_ticket.h"

#define PERIOD_MS 300

/* Waits (at most 5 s) until the rotation count reaches n. */
static void wait_rotations(uint64_t n)
{
    for (int i = 0; i < 5000 && tls_ticket_rotations() < n; i++)
        usleep(1000);
    assert_true(tls_ticket_rotations() >= n);
}

static void test_rotates_on_timer(void **state)
{
    (void)state;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    tls_ticket_install(ctx, PERIOD_MS);
    uint64_t r0 = tls_ticket_rotations();
    wait_rotations(r0 + 1); /* just rotated: a whole period ahead */
    unsigned char k1[16], k2[16], k3[16];
    assert_int_equal(tls_ticket_current(k1), 0);
    assert_int_equal(tls_ticket_key_state(k1), 0);
    wait_rotations(r0 + 2); /* no handshake came: the timer rotated */
    assert_int_equal(tls_ticket_current(k2), 0);
    assert_memory_not_equal(k1, k2, 16);
    assert_int_equal(tls_ticket_key_state(k1), 1); /* the previous one still decrypts */
    assert_int_equal(tls_ticket_key_state(k2), 0);
    wait_rotations(r0 + 3);
    assert_int_equal(tls_ticket_current(k3), 0);
    assert_int_equal(tls_ticket_key_state(k1), -1); /* two rotations: gone */
    assert_int_equal(tls_ticket_key_state(k2), 1);
    unsigned char unknown[16] = {0};
    assert_int_equal(tls_ticket_key_state(unknown), -1);
    /* a longer period from another listener does not slow the shortest one */
    tls_ticket_install(ctx, 3600000);
    wait_rotations(r0 + 4);
    SSL_CTX_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotates_on_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

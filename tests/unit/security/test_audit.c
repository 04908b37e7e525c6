/* test_audit.c — the audit log: lines written off-thread with a chained MAC, the key file made
 * 0600 next to the log, the chain continued across reopenings, masking in fields, and
 * audit_verify finding the first edited, removed or reordered line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "security/audit.h"

static char dir[] = "/tmp/weir-audit-XXXXXX";
static char path[256], keyp[256];

static char *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char *b = calloc(1, 65536);
    *n = fread(b, 1, 65535, f);
    fclose(f);
    return b;
}

static void spit(const char *p, const char *b, size_t n)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fwrite(b, 1, n, f);
    fclose(f);
}

static long verify(void)
{
    uint8_t key[AUDIT_KEY_MAX];
    int kl = audit_read_key(keyp, key);
    assert_int_equal(kl, 32);
    FILE *devnull = fopen("/dev/null", "w");
    long r = audit_verify(path, key, (size_t)kl, devnull);
    fclose(devnull);
    return r;
}

static void chain_and_tamper(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    snprintf(keyp, sizeof(keyp), "%s/audit.log.key", dir);
    const char *why = NULL;
    assert_int_equal(audit_open(path, NULL, &why), 0);
    struct stat st;
    assert_int_equal(stat(keyp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    audit_emit(&(struct audit_event){.event = "ip_denied", .client = "10.0.0.1",
                                     .rule = "ip_rules.deny", .request_id = "abc"});
    audit_emit(&(struct audit_event){.event = "lockout", .subject = "john.doe@example.com",
                                     .detail = "card 4111111111111111 \"quoted\""});
    audit_close();
    /* reopening continues the chain */
    assert_int_equal(audit_open(path, NULL, &why), 0);
    audit_emit(&(struct audit_event){.event = "unlock", .subject = "bob"});
    audit_close();
    size_t n;
    char *b = slurp(path, &n);
    assert_non_null(strstr(b, "\"event\":\"ip_denied\",\"client\":\"10.0.0.1\""));
    assert_non_null(strstr(b, "j*******@example.com"));
    assert_non_null(strstr(b, "************1111 \\\"quoted\\\""));
    assert_null(strstr(b, "4111111111111111"));
    assert_int_equal(verify(), 0);

    /* an edited line 2 */
    char *t = malloc(n + 64);
    memcpy(t, b, n);
    *strstr(t, "lockout") = 'L';
    spit(path, t, n);
    assert_int_equal(verify(), 2);
    /* line 2 removed: line 3 no longer chains */
    char *l2 = strchr(b, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    size_t k = (size_t)(l2 - b);
    memcpy(t, b, k);
    memcpy(t + k, l3, n - (size_t)(l3 - b));
    spit(path, t, n - (size_t)(l3 - l2));
    assert_int_equal(verify(), 2);
    /* an appended line without a MAC */
    memcpy(t, b, n);
    memcpy(t + n, "{\"event\":\"x\"}\n", 14);
    spit(path, t, n + 14);
    assert_int_equal(verify(), 4);
    spit(path, b, n);
    assert_int_equal(verify(), 0);
    free(t);
    free(b);
    unlink(path);
    unlink(keyp);
    rmdir(dir);
}

/* A reload that moves the log: lines before go to the old file, lines after to the new one,
 * each a valid chain of its own. */
static void reopen_elsewhere(void **state)
{
    (void)state;
    char d[] = "/tmp/weir-audit2-XXXXXX";
    assert_non_null(mkdtemp(d));
    char a[256], b[256], ka[256], kb[256];
    snprintf(a, sizeof(a), "%s/a.log", d);
    snprintf(b, sizeof(b), "%s/b.log", d);
    snprintf(ka, sizeof(ka), "%s/a.log.key", d);
    snprintf(kb, sizeof(kb), "%s/b.log.key", d);
    const char *why = NULL;
    assert_int_equal(audit_open(a, NULL, &why), 0);
    audit_emit(&(struct audit_event){.event = "one"});
    usleep(100000);
    assert_int_equal(audit_open(b, NULL, &why), 0);
    audit_emit(&(struct audit_event){.event = "two"});
    audit_emit(&(struct audit_event){.event = "three"});
    audit_close();
    uint8_t key[AUDIT_KEY_MAX];
    FILE *devnull = fopen("/dev/null", "w");
    int kl = audit_read_key(ka, key);
    assert_int_equal(audit_verify(a, key, (size_t)kl, devnull), 0);
    kl = audit_read_key(kb, key);
    assert_int_equal(audit_verify(b, key, (size_t)kl, devnull), 0);
    fclose(devnull);
    size_t n;
    char *t = slurp(b, &n);
    assert_non_null(strstr(t, "three"));
    assert_null(strstr(t, "\"one\""));
    free(t);
    unlink(a);
    unlink(b);
    unlink(ka);
    unlink(kb);
    rmdir(d);
}

static void bad_key_file(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(audit_open("/tmp/weir-audit-never.log", "/nonexistent/key", &why), -1);
    assert_non_null(why);
    assert_false(audit_enabled());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_and_tamper),
        cmocka_unit_test(reopen_elsewhere),
        cmocka_unit_test(bad_key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

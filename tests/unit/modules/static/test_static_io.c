/* test_static_io.c — the I/O pool against a real temporary file: pread and warm jobs complete
 * through the eventfd with the right bytes, many jobs each complete once, errors come back as
 * -errno, stopping the pool cancels queued jobs; the RWF_NOWAIT read and probe on cached data.
 * Waits are bounded by poll() timeouts; nothing asserts on speed. */
#include "static_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>

#include "modules/static/static_io.h"

#define FILE_SIZE (1024 * 1024 + 123)

static char tmp[4096];
static int file_fd = -1;

static unsigned char byte_at(uint64_t off)
{
    return (unsigned char)(off * 7 + off / 4096);
}

static int setup(void **state)
{
    (void)state;
    fx_tmp_new(tmp, sizeof(tmp));
    char p[4096];
    fx_path(p, sizeof(p), tmp, "data.bin");
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    static unsigned char buf[FILE_SIZE];
    for (uint64_t i = 0; i < FILE_SIZE; i++)
        buf[i] = byte_at(i);
    if (write(fd, buf, FILE_SIZE) != FILE_SIZE)
        return -1;
    close(fd);
    file_fd = open(p, O_RDONLY | O_CLOEXEC);
    return file_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    close(file_fd);
    fx_tmp_remove(tmp);
    return 0;
}

struct done_count {
    int calls;
};

static void on_done(struct static_io_job *j)
{
    ((struct done_count *)j->arg)->calls++;
}

/* Polls the queue's fd until `want` callbacks have run in total (5 s bound). */
static void wait_for(struct static_io_cq *cq, struct done_count *dc, int want)
{
    for (int i = 0; i < 500 && dc->calls < want; i++) {
        struct pollfd p = {.fd = static_io_cq_fd(cq), .events = POLLIN};
        if (poll(&p, 1, 10) > 0)
            static_io_poll_completions(cq);
    }
    assert_int_equal(dc->calls, want);
}

static void test_pread_and_warm(void **state)
{
    (void)state;
    struct static_io_pool *pool = static_io_pool_new(0);
    assert_non_null(pool);
    struct static_io_cq cq;
    assert_int_equal(static_io_cq_init(&cq), 0);
    struct done_count dc = {0};

    static unsigned char buf[8192];
    struct static_io_job rd = {.op = STATIC_IO_PREAD, .fd = file_fd, .offset = 4000,
                               .len = sizeof(buf), .buf = buf, .done = on_done, .arg = &dc};
    assert_int_equal(static_io_submit(pool, &cq, &rd), 0);
    wait_for(&cq, &dc, 1);
    assert_int_equal(rd.result, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        if (buf[i] != byte_at(4000 + i))
            fail_msg("byte %zu", i);

    struct static_io_job warm = {.op = STATIC_IO_WARM, .fd = file_fd, .offset = 0,
                                 .len = FILE_SIZE + 5000, .done = on_done, .arg = &dc};
    assert_int_equal(static_io_submit(pool, &cq, &warm), 0);
    wait_for(&cq, &dc, 2);
    assert_int_equal(warm.result, FILE_SIZE); /* stops at EOF */

    /* short read at EOF, and an error as -errno */
    struct static_io_job tail = {.op = STATIC_IO_PREAD, .fd = file_fd, .offset = FILE_SIZE - 10,
                                 .len = 100, .buf = buf, .done = on_done, .arg = &dc};
    struct static_io_job bad = {.op = STATIC_IO_PREAD, .fd = 987654, .len = 10, .buf = buf,
                                .done = on_done, .arg = &dc};
    assert_int_equal(static_io_submit(pool, &cq, &tail), 0);
    assert_int_equal(static_io_submit(pool, &cq, &bad), 0);
    wait_for(&cq, &dc, 4);
    assert_int_equal(tail.result, 10);
    assert_int_equal(bad.result, -EBADF);

    /* many at once: every callback exactly once */
    static struct static_io_job many[64];
    static unsigned char bufs[64][512];
    struct done_count dm = {0};
    for (int i = 0; i < 64; i++) {
        many[i] = (struct static_io_job){.op = STATIC_IO_PREAD, .fd = file_fd,
                                         .offset = (uint64_t)i * 9973, .len = 512,
                                         .buf = bufs[i], .done = on_done, .arg = &dm};
        assert_int_equal(static_io_submit(pool, &cq, &many[i]), 0);
    }
    wait_for(&cq, &dm, 64);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(many[i].result, 512);
        assert_int_equal(bufs[i][100], byte_at((uint64_t)i * 9973 + 100));
    }
    static_io_pool_free(pool);
    assert_int_equal(static_io_poll_completions(&cq), 0);
    static_io_cq_destroy(&cq);
}

static void test_cancel_on_stop(void **state)
{
    (void)state;
    /* One thread and many slow-ish jobs: stopping right after submitting finds most of them
     * still queued. Every job completes exactly once, done or cancelled. */
    enum { N = 2000 };
    struct static_io_pool *pool = static_io_pool_new(1);
    assert_non_null(pool);
    struct static_io_cq cq;
    assert_int_equal(static_io_cq_init(&cq), 0);
    static struct static_io_job jobs[N];
    struct done_count dc = {0};
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct static_io_job){.op = STATIC_IO_WARM, .fd = file_fd, .len = FILE_SIZE,
                                         .done = on_done, .arg = &dc};
        assert_int_equal(static_io_submit(pool, &cq, &jobs[i]), 0);
    }
    static_io_pool_free(pool); /* cancels the queue, waits for the running job */
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        assert_true(jobs[i].result == FILE_SIZE || jobs[i].result == -ECANCELED);
        cancelled += jobs[i].result == -ECANCELED;
    }
    assert_true(cancelled > 0);
    static_io_cq_destroy(&cq); /* runs the callbacks still queued */
    assert_int_equal(dc.calls, N);
}

static void test_nowait(void **state)
{
    (void)state;
    char buf[4096];
    /* just written and read: in the page cache */
    assert_int_equal(pread(file_fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    ssize_t r = static_io_read_nowait(file_fd, buf, sizeof(buf), 0);
    if (r == -EOPNOTSUPP)
        skip();
    assert_int_equal(r, sizeof(buf));
    assert_int_equal((unsigned char)buf[10], byte_at(10));
    assert_int_equal(static_io_read_nowait(file_fd, buf, sizeof(buf), FILE_SIZE), 0); /* EOF */
    assert_int_equal(static_io_probe(file_fd, 0, 4096), 1);
    assert_int_equal(static_io_probe(file_fd, FILE_SIZE + 10, 4096), 1);
    assert_int_equal(static_io_read_nowait(-1, buf, 1, 0), -EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pread_and_warm),
        cmocka_unit_test(test_cancel_on_stop),
        cmocka_unit_test(test_nowait),
    };
    return cmocka_run_group_tests_name("static_io", tests, setup, teardown);
}

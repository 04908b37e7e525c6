/* test_codec_cli.c — interoperability: weir's encoders' output (with sync flushes inside, at
 * several levels, three kinds of input) decoded by the command-line tools (`gzip -dc`,
 * `brotli -dc`, `zstd -dc`) and by Python's zlib / brotli / zstandard, compared byte for byte;
 * and the tools' own output decoded by weir's decoders. A missing tool or Python module skips
 * its part with a message (scripts/install-deps.sh installs them all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "codec_fixture.h"

#define KIB ((size_t)1024)
#define PYTHON "/usr/bin/python3" /* Debian's, where python3-brotli and -zstandard live */

static char dir[] = "/tmp/weir-codec-cli.XXXXXX";

static const char py_decode[] =
    "import sys\n"
    "try:\n"
    "    import zlib, brotli, zstandard\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "c, src, dst = sys.argv[1:4]\n"
    "data = open(src, 'rb').read()\n"
    "if c == 'gzip':\n"
    "    out = zlib.decompress(data, 31)\n"
    "elif c == 'br':\n"
    "    out = brotli.decompress(data)\n"
    "else:\n"
    "    out = zstandard.ZstdDecompressor().decompressobj().decompress(data)\n"
    "open(dst, 'wb').write(out)\n";

static const char *cli_name(const struct compress_codec_ops *ops)
{
    return ops == &compress_codec_br ? "brotli" : ops->name;
}

static bool have_cmd(const char *cmd)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static struct bytes read_file(const char *path)
{
    struct bytes b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        bytes_put(&b, buf, n);
    fclose(f);
    return b;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char path[128];
    snprintf(path, sizeof(path), "%s/decode.py", dir);
    write_file(path, py_decode, sizeof(py_decode) - 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_file_is(const char *path, const unsigned char *want, size_t n)
{
    struct bytes got = read_file(path);
    assert_int_equal(got.len, n);
    assert_memory_equal(got.p, want, n);
    free(got.p);
}

/* Our encoder → the CLI and Python. */
static void encode_then_external(const struct compress_codec_ops *ops)
{
    bool cli = have_cmd(cli_name(ops));
    if (!cli)
        print_message("  SKIP %s -dc: `%s` not installed\n", cli_name(ops), cli_name(ops));
    bool py_ok = true;
    const size_t n = 200 * KIB + 17;
    unsigned char *in = malloc(n);
    int levels[3] = {ops->level_min, ops->level_default, ops->level_max > 9 ? 9 : ops->level_max};
    for (int li = 0; li < 3; li++) {
        for (int kind = 0; kind < 3; kind++) {
            struct gen g;
            gen_init(&g, (uint64_t)(li * 3 + kind), kind);
            gen_fill(&g, in, n);
            struct bytes enc = {0};
            /* sync flushes after every 7 KiB piece on kind 0: flush blocks must decode too */
            assert_int_equal(fx_encode(ops, levels[li], in, n, 7 * KIB, 3000, kind == 0, &enc,
                                       NULL),
                             COMPRESS_END);
            char src[160], dst[200], cmd[600];
            snprintf(src, sizeof(src), "%s/%s-%d-%d.enc", dir, ops->name, levels[li], kind);
            snprintf(dst, sizeof(dst), "%s.out", src);
            write_file(src, enc.p, enc.len);
            if (cli) {
                snprintf(cmd, sizeof(cmd), "%s -dc '%s' > '%s'", cli_name(ops), src, dst);
                assert_int_equal(run(cmd), 0);
                assert_file_is(dst, in, n);
            }
            if (py_ok) {
                snprintf(cmd, sizeof(cmd), PYTHON " '%s/decode.py' %s '%s' '%s' 2>/dev/null", dir,
                         ops->name, src, dst);
                int rc = run(cmd);
                if (rc == 3 || rc == 127) {
                    print_message("  SKIP python %s: " PYTHON " or its zlib/brotli/zstandard "
                                  "modules missing\n", ops->name);
                    py_ok = false;
                } else {
                    assert_int_equal(rc, 0);
                    assert_file_is(dst, in, n);
                }
            }
            free(enc.p);
        }
    }
    free(in);
}

/* The CLI's encoder → our decoder (gzip's header carries a file name, br and zstd frames their
 * own parameters: all must be handled). */
static void external_then_decode(const struct compress_codec_ops *ops)
{
    if (!have_cmd(cli_name(ops))) {
        print_message("  SKIP %s -c: not installed\n", cli_name(ops));
        return;
    }
    const size_t n = 300 * KIB;
    unsigned char *in = malloc(n);
    struct gen g;
    gen_init(&g, 11, 0);
    gen_fill(&g, in, n);
    char src[160], enc_path[200], cmd[512];
    snprintf(src, sizeof(src), "%s/plain-%s", dir, ops->name);
    snprintf(enc_path, sizeof(enc_path), "%s.cli", src);
    write_file(src, in, n);
    snprintf(cmd, sizeof(cmd), "%s -c '%s' > '%s'", cli_name(ops), src, enc_path);
    assert_int_equal(run(cmd), 0);
    struct bytes enc = read_file(enc_path);
    assert_true(fx_decodes_to(ops, enc.p, enc.len, 5000, 4096, in, n));
    free(enc.p);
    free(in);
}

static void test_gzip(void **state)
{
    (void)state;
    encode_then_external(&compress_codec_gzip);
    external_then_decode(&compress_codec_gzip);
}

static void test_br(void **state)
{
    (void)state;
    encode_then_external(&compress_codec_br);
    external_then_decode(&compress_codec_br);
}

static void test_zstd(void **state)
{
    (void)state;
    encode_then_external(&compress_codec_zstd);
    external_then_decode(&compress_codec_zstd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_br),
        cmocka_unit_test(test_zstd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

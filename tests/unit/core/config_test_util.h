/* config_test_util.h — loading YAML snippets in config tests, named "t.yaml" in messages.
 * Include after <cmocka.h>. */
#ifndef WEIR_TESTS_CONFIG_TEST_UTIL_H
#define WEIR_TESTS_CONFIG_TEST_UTIL_H

#include <string.h>

#include "core/config.h"

static inline struct config *load(const char *yaml, struct cfg_error *err)
{
    return config_load_buffer(yaml, strlen(yaml), "t.yaml", err);
}

/* The snippet must fail with exactly `msg` ("t.yaml:line:col: …"). */
static inline void expect_error(const char *yaml, const char *msg)
{
    struct cfg_error err;
    struct config *cfg = load(yaml, &err);

    if (cfg || strcmp(err.msg, msg) != 0)
        print_error("input:\n%s\n", yaml);
    assert_null(cfg);
    assert_string_equal(err.msg, msg);
}

/* The snippet must load; the caller unrefs the config. */
static inline struct config *expect_ok(const char *yaml)
{
    struct cfg_error err;
    struct config *cfg = load(yaml, &err);

    if (!cfg)
        print_error("unexpected error: %s\ninput:\n%s\n", err.msg, yaml);
    assert_non_null(cfg);
    return cfg;
}

#endif

/* test_admin_render.c — the admin documents from a hand-made model: escaping in JSON and in
 * Prometheus label values, number formatting, family order (# HELP / # TYPE before samples,
 * each family once), histogram buckets, and the status document's keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/abuf.h"
#include "admin/collect.h"
#include "admin/prometheus.h"
#include "admin/status_json.h"

static char *cstr(struct abuf *b)
{
    abuf_add(b, "", 1);
    assert_false(b->failed);
    return b->data;
}

static void test_escaping(void **state)
{
    (void)state;
    struct abuf b = {0};
    abuf_json_str(&b, "a\"b\\c\nd\te\x01" "f/é");
    assert_string_equal(cstr(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001f/é\"");
    abuf_free(&b);
    abuf_prom_label(&b, "a\"b\\c\nd\te");
    assert_string_equal(cstr(&b), "a\\\"b\\\\c\\nd\te");
    abuf_free(&b);
}

static void test_numbers(void **state)
{
    (void)state;
    struct abuf b = {0};
    const double in[] = {0, 1, 1.5, 0.125, 12.3456, 1e9, -0.0001, 0.0004999};
    const char *out[] = {"0", "1", "1.5", "0.125", "12.346", "1000000000", "0", "0"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        b.len = 0;
        abuf_num(&b, in[i]);
        assert_string_equal(cstr(&b), out[i]);
    }
    b.len = 0;
    abuf_u64(&b, 18446744073709551615ull);
    assert_string_equal(cstr(&b), "18446744073709551615");
    b.len = 0;
    abuf_num(&b, 0.0 / 0.0);
    assert_string_equal(cstr(&b), "0");
    abuf_free(&b);
}

static void test_limit(void **state)
{
    (void)state;
    struct abuf b = {.max = 10};
    abuf_str(&b, "0123456789");
    assert_false(b.failed);
    abuf_str(&b, "x");
    assert_true(b.failed);
    abuf_free(&b);
}

static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->g.nworkers = 2;
    m->g.requests = 10;
    m->g.status[2] = 9;
    m->g.status[5] = 1;
    m->g.generation = 3;
    m->g.total.count = 10;
    m->g.total.sum_us = 1500000;
    for (int j = 0; j < ADMIN_NLE; j++)
        m->g.total.le[j] = j < 5 ? 0 : 10;
    m->routes = calloc(1, sizeof(*m->routes));
    m->routes[0].label = strdup("we\"ird\\host\n/p [GET]");
    m->routes[0].key = strdup("k");
    m->routes[0].requests = 7;
    m->routes[0].methods[0] = 7;
    m->routes[0].win.p50_us = 1500;
    m->nroutes = 1;
    m->groups = calloc(1, sizeof(*m->groups));
    m->groups[0].name = strdup("api");
    m->groups[0].has_breaker = true;
    m->groups[0].breaker.state = BREAKER_OPEN;
    m->ngroups = 1;
    m->servers = calloc(2, sizeof(*m->servers));
    m->servers[0].group = strdup("api");
    m->servers[0].address = strdup("127.0.0.1:1");
    m->servers[0].up = true;
    m->servers[1].group = strdup("other");
    m->servers[1].address = strdup("127.0.0.1:2");
    m->nservers = 2;
    m->nhistory = 2;
    m->history[0] = (struct m_second){.t = 100, .rps = 2.5, .p50_ms = 1, .p99_ms = 2, .err = 1};
    m->history[1] = (struct m_second){.t = 101};
}

static void test_prometheus(void **state)
{
    (void)state;
    struct model m;
    model_init(&m);
    struct abuf b = {0};
    prometheus_render(&m, &b);
    char *text = cstr(&b);

    /* Each family: HELP, then TYPE, then its samples; never declared twice. */
    char seen[256][96];
    size_t nseen = 0;
    char current[96] = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[96];
        if (strncmp(line, "# HELP ", 7) == 0) {
            sscanf(line + 7, "%95s", name);
            for (size_t i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0)
                    fail_msg("family %s declared twice", name);
            assert_true(nseen < 256);
            strcpy(seen[nseen++], name);
            strcpy(current, name);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            sscanf(line + 7, "%95s", name);
            assert_string_equal(name, current);
            continue;
        }
        size_t n = strcspn(line, "{ ");
        assert_true(n < sizeof(name));
        memcpy(name, line, n);
        name[n] = '\0';
        if (strncmp(name, current, strlen(current)) != 0)
            fail_msg("sample %s outside its family (%s)", name, current);
    }
    abuf_free(&b);

    prometheus_render(&m, &b);
    text = cstr(&b);
    assert_non_null(strstr(text, "weir_route_requests_total{route=\"we\\\"ird\\\\host\\n/p "
                                 "[GET]\",method=\"GET\"} 7\n"));
    assert_non_null(strstr(text, "weir_request_duration_seconds_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(text, "weir_request_duration_seconds_bucket{le=\"60\"} 10\n"));
    assert_non_null(strstr(text, "weir_request_duration_seconds_bucket{le=\"+Inf\"} 10\n"));
    assert_non_null(strstr(text, "weir_request_duration_seconds_sum 1.500000\n"));
    assert_non_null(strstr(text, "weir_request_duration_seconds_count 10\n"));
    assert_non_null(strstr(text, "weir_group_breaker_state{group=\"api\",state=\"open\"} 1\n"));
    assert_non_null(strstr(text, "weir_group_breaker_state{group=\"api\",state=\"closed\"} 0\n"));
    assert_non_null(strstr(text, "weir_server_up{group=\"api\",server=\"127.0.0.1:1\"} 1\n"));
    assert_non_null(strstr(text, "weir_responses_total{code=\"5xx\"} 1\n"));
    assert_non_null(strstr(text, "weir_config_generation 3\n"));
    assert_non_null(strstr(text, "weir_pool_connections_closed_total{group=\"api\",server="
                                 "\"127.0.0.1:1\",reason=\"idle_timeout\"} 0\n"));
    abuf_free(&b);
    model_free(&m);
}

static void test_status_json(void **state)
{
    (void)state;
    struct model m;
    model_init(&m);
    struct abuf b = {0};
    status_json_render(&m, &b);
    const char *j = cstr(&b);
    assert_null(strchr(j, '\n')); /* one line: it goes into an SSE data: field as is */
    assert_non_null(strstr(j, "\"generation\":3,"));
    assert_non_null(strstr(j, "\"status\":{\"1xx\":0,\"2xx\":9,\"3xx\":0,\"4xx\":0,\"5xx\":1}"));
    assert_non_null(strstr(j, "\"route\":\"we\\\"ird\\\\host\\n/p [GET]\""));
    assert_non_null(strstr(j, "\"p50_ms\":1.5,"));
    assert_non_null(strstr(j, "\"history\":[{\"t\":100,\"rps\":2.5,\"p50\":1,\"p99\":2,"
                              "\"err\":1},{\"t\":101,"));
    assert_non_null(strstr(j, "\"breaker\":{\"state\":\"open\",\"since_s\":0,"));
    assert_non_null(strstr(j, "\"concurrency\":null"));
    /* A group lists its own servers only. */
    assert_non_null(strstr(j, "\"address\":\"127.0.0.1:1\""));
    assert_null(strstr(j, "\"address\":\"127.0.0.1:2\""));
    assert_non_null(strstr(j, "\"counts\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"));
    abuf_free(&b);
    model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),     cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_limit),        cmocka_unit_test(test_prometheus),
        cmocka_unit_test(test_status_json),
    };
    return cmocka_run_group_tests_name("admin_render", tests, NULL, NULL);
}

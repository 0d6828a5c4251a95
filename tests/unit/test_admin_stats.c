/*
 * Unit tests for the stats tables of the admin interface
 * (admin/stats_tables.c): stats_mysql_query_digest and its _reset twin, fed
 * by router digest statistics objects standing in for two workers, and
 * stats_mysql_connection_pool, fed by a pool that has no worker attached
 * (so no sockets and no connections). Also checks that the tables are
 * read-only, listed by SHOW TABLES, and refreshed only when a statement
 * reads them.
 *
 * Each test opens a store with the shared fixture (admin_fixture.h) in a
 * fresh mkdtemp directory; no config file, so the defaults are used.
 */
#include "admin/admin.h"
#include "pool/pool.h"
#include "router/router.h"
#include "tests/unit/admin_fixture.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

/* One digest statistics object per "worker", made by setup and freed by
 * teardown; sources[] is what the store reads: worker[0], NULL (skipped),
 * worker[1]. */
static struct router_digest_stats *worker[2];
static struct router_digest_stats *sources[3];

static int teardown(void **state)
{
    router_digest_stats_free(worker[0]);
    router_digest_stats_free(worker[1]);
    memset(worker, 0, sizeof(worker));
    memset(sources, 0, sizeof(sources));
    return fixture_teardown(state);
}

static int setup(void **state)
{
    struct fixture *fx = fixture_new(state, "admin_stats", NULL);

    worker[0] = router_digest_stats_new(16, 128);
    worker[1] = router_digest_stats_new(16, 128);
    sources[0] = worker[0];
    sources[2] = worker[1];
    /* cmocka skips teardown when setup fails, so clean up here. */
    if (fixture_open(fx, NULL) != 0 || !worker[0] || !worker[1]) {
        teardown(state);
        return -1;
    }
    return 0;
}

/* Makes the two workers' objects the digest source (pool as given). */
static void set_sources(struct fixture *fx, struct pool *pool)
{
    struct admin_sources src = {
        .pool = pool,
        .digest_stats = sources,
        .n_digest_stats = sizeof(sources) / sizeof(sources[0]),
    };

    admin_store_set_sources(fx->store, &src);
}

/* Runs sql expecting a result set of nrows rows (any number of columns). */
static void run_nrows(struct fixture *fx, const char *sql, size_t nrows)
{
    run_set(fx, sql);
    assert_int_equal(fx->res.nrows, nrows);
}

/* The value in row r of the column named name. */
static const char *field(const struct fixture *fx, size_t r, const char *name)
{
    assert_true(r < fx->res.nrows);
    for (size_t c = 0; c < fx->res.ncols; c++)
        if (strcmp(fx->res.col_names[c], name) == 0) {
            assert_non_null(fx->res.rows[r][c]);
            return fx->res.rows[r][c];
        }
    fail_msg("no column %s", name);
    return NULL;
}

static long long num(const struct fixture *fx, size_t r, const char *name)
{
    return strtoll(field(fx, r, name), NULL, 10);
}

/* Records one executed statement into st; returns its digest hash. */
static uint64_t record(struct router_digest_stats *st, int hostgroup, const char *user,
                       const char *sql, uint64_t elapsed_us, uint64_t rows_affected,
                       uint64_t rows_sent, int64_t now)
{
    char text[128];
    uint64_t hash = 0;
    size_t len = router_digest(sql, strlen(sql), text, sizeof(text), 4096, &hash);
    struct router_digest_sample s = {
        .hostgroup = hostgroup,
        .schema = "shop",
        .user = user,
        .digest = hash,
        .digest_text = text,
        .text_len = len,
        .elapsed_us = elapsed_us,
        .rows_affected = rows_affected,
        .rows_sent = rows_sent,
        .now = now,
    };

    router_digest_stats_record(st, &s);
    return hash;
}

/* One SELECT shape recorded by both workers, one UPDATE by the second. */
static void record_samples(uint64_t *select_hash, uint64_t *update_hash)
{
    *select_hash = record(worker[0], 1, "app", "SELECT * FROM t WHERE id = 1", 100, 0, 1, 1000);
    record(worker[0], 1, "app", "SELECT * FROM t WHERE id = 2", 300, 0, 2, 1001);
    for (int i = 0; i < 20; i++)
        record(worker[1], 1, "app", "select * from t where id = 99", 200 + (uint64_t)i * 10, 0, 1,
               1002 + i);
    *update_hash = record(worker[1], 0, "app", "UPDATE t SET a = 5 WHERE id = 3", 50, 5, 0, 999);
}

static void assert_digest_hex(const char *text, uint64_t hash)
{
    char want[24];

    assert_int_equal(strlen(text), 18);
    assert_memory_equal(text, "0x", 2);
    for (size_t i = 2; i < 18; i++)
        assert_true(isdigit((unsigned char)text[i]) || (text[i] >= 'A' && text[i] <= 'F'));
    snprintf(want, sizeof(want), "0x%016" PRIX64, hash);
    assert_string_equal(text, want);
}

static void test_digest_merged(void **state)
{
    static const char *const names[] = {
        "hostgroup",   "schemaname", "username",          "client_address", "digest",
        "digest_text", "count_star", "first_seen",        "last_seen",      "sum_time",
        "min_time",    "max_time",   "sum_rows_affected", "sum_rows_sent",  "p50_time",
        "p95_time",    "p99_time",
    };
    struct fixture *fx = *state;
    uint64_t sel, upd;

    record_samples(&sel, &upd);
    set_sources(fx, NULL);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest ORDER BY hostgroup", 2);
    assert_int_equal(fx->res.ncols, sizeof(names) / sizeof(names[0]));
    for (size_t c = 0; c < fx->res.ncols; c++)
        assert_string_equal(fx->res.col_names[c], names[c]);

    /* Row 0: the UPDATE, one sample in worker 1. */
    assert_int_equal(num(fx, 0, "hostgroup"), 0);
    assert_digest_hex(field(fx, 0, "digest"), upd);
    assert_int_equal(num(fx, 0, "count_star"), 1);
    assert_int_equal(num(fx, 0, "sum_rows_affected"), 5);
    assert_int_equal(num(fx, 0, "sum_time"), 50);
    assert_int_equal(num(fx, 0, "p50_time"), 50);
    assert_int_equal(num(fx, 0, "p99_time"), 50);

    /* Row 1: the SELECT, 2 samples in worker 0 and 20 in worker 1. */
    assert_int_equal(num(fx, 1, "hostgroup"), 1);
    assert_string_equal(field(fx, 1, "schemaname"), "shop");
    assert_string_equal(field(fx, 1, "username"), "app");
    assert_string_equal(field(fx, 1, "client_address"), "");
    assert_digest_hex(field(fx, 1, "digest"), sel);
    assert_non_null(strstr(field(fx, 1, "digest_text"), "?"));
    assert_int_equal(num(fx, 1, "count_star"), 22);
    assert_int_equal(num(fx, 1, "first_seen"), 1000);
    assert_int_equal(num(fx, 1, "last_seen"), 1021);
    /* 100 + 300 + (200 + 210 + ... + 390) */
    assert_int_equal(num(fx, 1, "sum_time"), 400 + 20 * 200 + 10 * 190);
    assert_int_equal(num(fx, 1, "min_time"), 100);
    assert_int_equal(num(fx, 1, "max_time"), 390);
    assert_int_equal(num(fx, 1, "sum_rows_affected"), 0);
    assert_int_equal(num(fx, 1, "sum_rows_sent"), 1 + 2 + 20);
    assert_true(num(fx, 1, "min_time") <= num(fx, 1, "p50_time"));
    assert_true(num(fx, 1, "p50_time") > 0);
    assert_true(num(fx, 1, "p50_time") <= num(fx, 1, "p95_time"));
    assert_true(num(fx, 1, "p95_time") <= num(fx, 1, "p99_time"));
    assert_true(num(fx, 1, "p99_time") <= num(fx, 1, "max_time"));

    /* Reading the plain table resets nothing. */
    run_nrows(fx, "SELECT count_star FROM stats_mysql_query_digest WHERE hostgroup = 1", 1);
    assert_int_equal(num(fx, 0, "count_star"), 22);
    assert_int_equal(router_digest_stats_size(worker[1]), 2);
}

static void test_digest_reset(void **state)
{
    struct fixture *fx = *state;
    uint64_t sel, upd;

    record_samples(&sel, &upd);
    set_sources(fx, NULL);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest_reset ORDER BY hostgroup", 2);
    assert_int_equal(fx->res.ncols, 17);
    assert_digest_hex(field(fx, 1, "digest"), sel);
    assert_int_equal(num(fx, 1, "count_star"), 22);
    assert_int_equal(router_digest_stats_size(worker[0]), 0);
    assert_int_equal(router_digest_stats_size(worker[1]), 0);

    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest_reset", 0);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest", 0);

    /* count(*) reads no column, yet the table is refreshed; and inside an
     * operator's transaction the refresh nests in a savepoint. */
    record(worker[1], 2, "bob", "DELETE FROM t WHERE id = 1", 10, 1, 0, 2000);
    run_ok(fx, "BEGIN");
    run_nrows(fx, "SELECT count(*) AS n FROM stats_mysql_query_digest", 1);
    assert_int_equal(num(fx, 0, "n"), 1);
    run_nrows(fx, "SELECT count(*) AS n FROM main.stats_mysql_query_digest_reset", 1);
    assert_int_equal(num(fx, 0, "n"), 1);
    run_ok(fx, "COMMIT");
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest", 0);
}

/* A name in a string literal or in an EXPLAIN resets nothing; a view over a
 * stats table is refreshed like the table. */
static void test_refresh_only_when_read(void **state)
{
    struct fixture *fx = *state;
    uint64_t sel, upd;

    record_samples(&sel, &upd);
    set_sources(fx, NULL);
    run_nrows(fx, "SELECT 'stats_mysql_query_digest_reset' AS t", 1);
    run_set(fx, "EXPLAIN SELECT * FROM stats_mysql_query_digest_reset");
    run_set(fx, "EXPLAIN QUERY PLAN SELECT * FROM stats_mysql_query_digest_reset");
    assert_int_equal(router_digest_stats_size(worker[1]), 2);

    run_ok(fx, "CREATE VIEW busy AS SELECT digest, count_star FROM stats_mysql_query_digest"
               " WHERE count_star > 1");
    run_nrows(fx, "SELECT * FROM busy", 1);
    assert_int_equal(num(fx, 0, "count_star"), 22);
}

static void test_no_sources(void **state)
{
    struct fixture *fx = *state;
    uint64_t sel, upd;

    record_samples(&sel, &upd);
    /* Never set: empty. */
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest", 0);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest_reset", 0);
    run_nrows(fx, "SELECT * FROM stats_mysql_connection_pool", 0);
    assert_int_equal(fx->res.ncols, 23);

    /* Set, then cleared with NULL: empty again, nothing reset. */
    set_sources(fx, NULL);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest", 2);
    admin_store_set_sources(fx->store, NULL);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest", 0);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_digest_reset", 0);
    assert_int_equal(router_digest_stats_size(worker[1]), 2);
}

static void test_connection_pool(void **state)
{
    static const char *const names[] = {
        "hostgroup",
        "srv_host",
        "srv_port",
        "status",
        "ConnUsed",
        "ConnFree",
        "ConnOK",
        "ConnERR",
        "MaxConnUsed",
        "Queries",
        "Queries_GTID_sync",
        "Bytes_data_sent",
        "Bytes_data_recv",
        "Latency_us",
        "max_connections",
        "Queue",
        "Queue_wait_p50_us",
        "Queue_wait_p99_us",
        "Exhausted",
        "FailFast",
        "ConnCreated_last_min",
        "Idle_ratio",
        "weight",
    };
    static const struct pool_server_spec specs[] = {
        {.hostgroup = 0, .host = "db-writer", .port = 3306, .max_connections = 50, .weight = 1},
        {.hostgroup = 1, .host = "10.0.0.7", .port = 3307, .max_connections = 7, .weight = 5},
    };
    struct pool_settings settings = {.connect_timeout_ms = 1000};
    struct fixture *fx = *state;
    struct pool *pool;

    set_sources(fx, NULL);
    run_nrows(fx, "SELECT * FROM stats_mysql_connection_pool", 0);

    pool = pool_new(specs, 2, 1, &settings);
    assert_non_null(pool);
    set_sources(fx, pool);
    run_nrows(fx, "SELECT * FROM stats_mysql_connection_pool ORDER BY hostgroup", 2);
    assert_int_equal(fx->res.ncols, sizeof(names) / sizeof(names[0]));
    for (size_t c = 0; c < fx->res.ncols; c++)
        assert_string_equal(fx->res.col_names[c], names[c]);
    for (size_t r = 0; r < 2; r++) {
        assert_int_equal(num(fx, r, "hostgroup"), specs[r].hostgroup);
        assert_string_equal(field(fx, r, "srv_host"), specs[r].host);
        assert_int_equal(num(fx, r, "srv_port"), specs[r].port);
        assert_string_equal(field(fx, r, "status"), "ONLINE");
        assert_int_equal(num(fx, r, "ConnUsed"), 0);
        assert_int_equal(num(fx, r, "ConnFree"), 0);
        assert_int_equal(num(fx, r, "ConnOK"), 0);
        assert_int_equal(num(fx, r, "ConnERR"), 0);
        assert_int_equal(num(fx, r, "MaxConnUsed"), 0);
        assert_int_equal(num(fx, r, "Latency_us"), 0);
        assert_int_equal(num(fx, r, "max_connections"), specs[r].max_connections);
        assert_int_equal(num(fx, r, "Queue"), 0);
        assert_int_equal(num(fx, r, "Exhausted"), 0);
        assert_int_equal(num(fx, r, "Queue_wait_p99_us"), 0);
        assert_int_equal(num(fx, r, "weight"), specs[r].weight);
    }
    /* No traffic yet: the advisor has a row per server and suggests nothing. */
    run_nrows(fx, "SELECT * FROM stats_mysql_pool_advisor ORDER BY hostgroup", 2);
    for (size_t r = 0; r < 2; r++) {
        assert_int_equal(num(fx, r, "suggested_connections"), 0);
        assert_int_equal(num(fx, r, "max_connections"), specs[r].max_connections);
    }
    /* A server taken out of service shows its state. */
    struct pool_server_spec soft[2] = {specs[0], specs[1]};
    soft[1].status = POOL_SERVER_OFFLINE_SOFT;
    assert_int_equal(pool_update(pool, soft, 2), 0);
    run_nrows(fx, "SELECT status FROM stats_mysql_connection_pool WHERE hostgroup = 1", 1);
    assert_string_equal(field(fx, 0, "status"), "OFFLINE_SOFT");
    /* Typed like ProxySQL's: srv_port compares as a number. */
    run_nrows(fx, "SELECT srv_host FROM stats_mysql_connection_pool WHERE srv_port = 3307", 1);
    assert_string_equal(field(fx, 0, "srv_host"), "10.0.0.7");

    /* The pool goes away: the store must forget it first. */
    admin_store_set_sources(fx->store, NULL);
    pool_free(pool);
    run_nrows(fx, "SELECT * FROM stats_mysql_connection_pool", 0);
}

/* A stand-in for the proxy's session figures: two reasons, two digests in
 * the producer's order (highest count first), one hostgroup. Counts calls to
 * check that one refresh asks once for all three tables and frees once. */
struct session_stub {
    int fills, frees;
    bool fail;
};

static int stub_session_stats(void *arg, struct admin_session_stats *out)
{
    struct session_stub *stub = arg;

    stub->fills++;
    memset(out, 0, sizeof(*out));
    if (stub->fail)
        return -1;
    out->reasons = calloc(2, sizeof(*out->reasons));
    out->digests = calloc(2, sizeof(*out->digests));
    out->hostgroups = calloc(1, sizeof(*out->hostgroups));
    assert_true(out->reasons && out->digests && out->hostgroups);
    out->n_reasons = out->n_digests = 2;
    out->n_hostgroups = 1;
    snprintf(out->reasons[0].reason, sizeof(out->reasons[0].reason), "transaction");
    out->reasons[0].pinned_now = 3;
    out->reasons[0].total = 40;
    snprintf(out->reasons[1].reason, sizeof(out->reasons[1].reason), "user_variable");
    out->reasons[1].total = 2;
    snprintf(out->digests[0].reason, sizeof(out->digests[0].reason), "transaction");
    out->digests[0].digest = 0xABCDEF0123456789ull;
    out->digests[0].count = 40;
    snprintf(out->digests[0].digest_text, sizeof(out->digests[0].digest_text), "BEGIN");
    snprintf(out->digests[1].reason, sizeof(out->digests[1].reason), "user_variable");
    out->digests[1].digest = 1;
    out->digests[1].count = 2;
    snprintf(out->digests[1].digest_text, sizeof(out->digests[1].digest_text), "SET @x = ?");
    out->hostgroups[0].hostgroup = 1;
    out->hostgroups[0].client_sessions = 20;
    return 0;
}

static void stub_session_stats_free(void *arg, struct admin_session_stats *st)
{
    struct session_stub *stub = arg;

    stub->frees++;
    free(st->reasons);
    free(st->digests);
    free(st->hostgroups);
    memset(st, 0, sizeof(*st));
}

static void test_session_tables(void **state)
{
    struct fixture *fx = *state;
    struct session_stub stub = {0};
    struct admin_sources src = {
        .session_stats = stub_session_stats,
        .session_stats_free = stub_session_stats_free,
        .session_arg = &stub,
    };

    /* No source: empty tables. */
    run_nrows(fx, "SELECT * FROM stats_mysql_pin_reasons", 0);
    run_nrows(fx, "SELECT * FROM stats_mysql_multiplexing", 0);
    assert_int_equal(fx->res.ncols, 4);

    admin_store_set_sources(fx->store, &src);
    run_nrows(fx, "SELECT * FROM stats_mysql_pin_reasons ORDER BY total DESC", 2);
    assert_string_equal(field(fx, 0, "reason"), "transaction");
    assert_int_equal(num(fx, 0, "pinned_now"), 3);
    assert_int_equal(num(fx, 0, "total"), 40);
    assert_int_equal(num(fx, 1, "pinned_now"), 0);

    run_nrows(fx, "SELECT * FROM stats_mysql_pin_digests", 2);
    assert_string_equal(field(fx, 0, "digest"), "0xABCDEF0123456789");
    assert_string_equal(field(fx, 0, "digest_text"), "BEGIN");
    assert_string_equal(field(fx, 1, "reason"), "user_variable");
    assert_string_equal(field(fx, 1, "digest_text"), "SET @x = ?");
    assert_int_equal(num(fx, 1, "count_star"), 2);

    /* No pool: nothing lent, so no ratio. */
    run_nrows(fx, "SELECT * FROM stats_mysql_multiplexing", 1);
    assert_int_equal(num(fx, 0, "hostgroup"), 1);
    assert_int_equal(num(fx, 0, "client_sessions"), 20);
    assert_int_equal(num(fx, 0, "backends_in_use"), 0);
    assert_null(fx->res.rows[0][3]);

    /* One statement reading all three asks the source once. */
    stub.fills = stub.frees = 0;
    run_nrows(fx,
              "SELECT (SELECT COUNT(*) FROM stats_mysql_pin_reasons),"
              " (SELECT COUNT(*) FROM stats_mysql_pin_digests),"
              " (SELECT COUNT(*) FROM stats_mysql_multiplexing)",
              1);
    assert_int_equal(stub.fills, 1);
    assert_int_equal(stub.frees, 1);

    /* A failing source makes the statement fail with a message. */
    stub.fail = true;
    assert_non_null(strstr(run_err(fx, "SELECT * FROM stats_mysql_pin_reasons", 1105, "HY000"),
                           "out of memory"));
    stub.fail = false;
    admin_store_set_sources(fx->store, NULL);
}

/* A stand-in for the proxy's figures behind the rules, global, commands and
 * processlist tables; records which parts each call asked for. */
struct proxy_stub {
    int fills, frees;
    unsigned asked;
};

static int stub_proxy_stats(void *arg, unsigned what, struct admin_proxy_stats *out)
{
    struct proxy_stub *stub = arg;

    stub->fills++;
    stub->asked |= what;
    memset(out, 0, sizeof(*out));
    out->rules = calloc(2, sizeof(*out->rules));
    out->globals = calloc(2, sizeof(*out->globals));
    out->commands = calloc(2, sizeof(*out->commands));
    out->processes = calloc(2, sizeof(*out->processes));
    assert_true(out->rules && out->globals && out->commands && out->processes);
    out->n_rules = out->n_globals = out->n_commands = out->n_processes = 2;
    out->rules[0].rule_id = 10;
    out->rules[0].hits = 7;
    out->rules[1].rule_id = 20;
    snprintf(out->globals[0].name, sizeof(out->globals[0].name), "Questions");
    out->globals[0].value = 42;
    snprintf(out->globals[1].name, sizeof(out->globals[1].name), "ProxySQL_Uptime");
    out->globals[1].value = 3;
    snprintf(out->commands[0].command, sizeof(out->commands[0].command), "SELECT");
    out->commands[0].total_cnt = 3;
    out->commands[0].total_time_us = 1200;
    out->commands[0].cnt[0] = 2;
    out->commands[0].cnt[ADMIN_CMD_BUCKETS - 1] = 1;
    snprintf(out->commands[1].command, sizeof(out->commands[1].command), "UNKNOWN");
    /* A session running a statement on a backend, and an idle one. */
    struct admin_process *p = &out->processes[0];
    p->thread_id = 1;
    p->session_id = 5;
    snprintf(p->user, sizeof(p->user), "app");
    snprintf(p->db, sizeof(p->db), "shop");
    snprintf(p->cli_host, sizeof(p->cli_host), "127.0.0.1");
    p->cli_port = 40000;
    p->hostgroup = 1;
    p->has_backend = true;
    snprintf(p->l_srv_host, sizeof(p->l_srv_host), "127.0.0.1");
    p->l_srv_port = 50000;
    snprintf(p->srv_host, sizeof(p->srv_host), "db1");
    p->srv_port = 3306;
    snprintf(p->command, sizeof(p->command), "Query");
    p->time_ms = 1500;
    p->has_info = true;
    snprintf(p->info, sizeof(p->info), "SELECT SLEEP(2)");
    p = &out->processes[1];
    p->session_id = 6;
    snprintf(p->user, sizeof(p->user), "app");
    snprintf(p->cli_host, sizeof(p->cli_host), "127.0.0.1");
    snprintf(p->command, sizeof(p->command), "Sleep");
    return 0;
}

static void stub_proxy_stats_free(void *arg, struct admin_proxy_stats *st)
{
    struct proxy_stub *stub = arg;

    stub->frees++;
    free(st->rules);
    free(st->globals);
    free(st->commands);
    free(st->processes);
    memset(st, 0, sizeof(*st));
}

static void test_proxy_tables(void **state)
{
    struct fixture *fx = *state;
    struct proxy_stub stub = {0};
    struct admin_sources src = {
        .proxy_stats = stub_proxy_stats,
        .proxy_stats_free = stub_proxy_stats_free,
        .proxy_stats_arg = &stub,
    };

    /* No source: empty tables with ProxySQL's columns. */
    run_nrows(fx, "SELECT * FROM stats_mysql_commands_counters", 0);
    assert_int_equal(fx->res.ncols, 15);
    assert_string_equal(fx->res.col_names[14], "cnt_INFs");
    run_nrows(fx, "SELECT * FROM stats_mysql_processlist", 0);
    assert_int_equal(fx->res.ncols, 14);

    admin_store_set_sources(fx->store, &src);
    run_nrows(fx, "SELECT * FROM stats_mysql_query_rules ORDER BY rule_id", 2);
    assert_int_equal(num(fx, 0, "rule_id"), 10);
    assert_int_equal(num(fx, 0, "hits"), 7);
    assert_int_equal(num(fx, 1, "hits"), 0);
    /* Only the rules were asked for: the processlist costs a round of the workers. */
    assert_int_equal(stub.asked, ADMIN_PROXY_RULES);

    run_nrows(fx, "SELECT Variable_Value FROM stats_mysql_global WHERE Variable_Name = 'Questions'",
              1);
    assert_string_equal(fx->res.rows[0][0], "42");

    run_nrows(fx, "SELECT * FROM stats_mysql_commands_counters ORDER BY Command", 2);
    assert_string_equal(field(fx, 0, "Command"), "SELECT");
    assert_int_equal(num(fx, 0, "Total_cnt"), 3);
    assert_int_equal(num(fx, 0, "Total_Time_us"), 1200);
    assert_int_equal(num(fx, 0, "cnt_100us"), 2);
    assert_int_equal(num(fx, 0, "cnt_INFs"), 1);
    assert_int_equal(num(fx, 1, "cnt_10s"), 0);

    run_nrows(fx, "SELECT * FROM stats_mysql_processlist ORDER BY SessionID", 2);
    assert_int_equal(num(fx, 0, "ThreadID"), 1);
    assert_string_equal(field(fx, 0, "db"), "shop");
    assert_string_equal(field(fx, 0, "srv_host"), "db1");
    assert_int_equal(num(fx, 0, "srv_port"), 3306);
    assert_int_equal(num(fx, 0, "l_srv_port"), 50000);
    assert_string_equal(field(fx, 0, "info"), "SELECT SLEEP(2)");
    assert_int_equal(num(fx, 0, "time_ms"), 1500);
    /* Idle, no backend, no schema: NULLs, as ProxySQL shows them. */
    assert_string_equal(field(fx, 1, "command"), "Sleep");
    assert_null(fx->res.rows[1][3]);  /* db */
    assert_null(fx->res.rows[1][7]);  /* l_srv_host */
    assert_null(fx->res.rows[1][9]);  /* srv_host */
    assert_null(fx->res.rows[1][13]); /* info */

    /* One statement reading all four asks once, for all four parts. */
    stub.fills = stub.frees = 0;
    stub.asked = 0;
    run_nrows(fx,
              "SELECT (SELECT COUNT(*) FROM stats_mysql_query_rules),"
              " (SELECT COUNT(*) FROM stats_mysql_global),"
              " (SELECT COUNT(*) FROM stats_mysql_commands_counters),"
              " (SELECT COUNT(*) FROM stats_mysql_processlist)",
              1);
    assert_int_equal(stub.fills, 1);
    assert_int_equal(stub.frees, 1);
    assert_int_equal(stub.asked, ADMIN_PROXY_RULES | ADMIN_PROXY_GLOBALS | ADMIN_PROXY_COMMANDS |
                                     ADMIN_PROXY_PROCESSES);
    assert_non_null(
        strstr(run_err(fx, "DELETE FROM stats_mysql_processlist", 1105, "HY000"), "is read-only"));
    admin_store_set_sources(fx->store, NULL);
}

static void test_read_only(void **state)
{
    static const char *const writes[] = {
        "INSERT INTO stats_mysql_query_digest (hostgroup, schemaname, username, client_address,"
        " digest, digest_text, count_star, first_seen, last_seen, sum_time, min_time, max_time,"
        " sum_rows_affected, sum_rows_sent, p50_time, p95_time, p99_time)"
        " VALUES (0, '', '', '', '0x0', '', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
        "insert into STATS_MYSQL_CONNECTION_POOL (hostgroup) values (1)",
        "DELETE FROM stats_mysql_query_digest_reset",
        "UPDATE stats_mysql_connection_pool SET ConnUsed = 1",
    };
    struct fixture *fx = *state;
    uint64_t sel, upd;

    record_samples(&sel, &upd);
    set_sources(fx, NULL);
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
        assert_non_null(strstr(run_err(fx, writes[i], 1105, "HY000"),
                               "is read-only: it is computed when queried"));
    assert_non_null(strstr(run_err(fx, "DROP TABLE stats_mysql_query_digest", 1105, "HY000"),
                           "cannot be dropped"));
    assert_non_null(strstr(
        run_err(fx, "ALTER TABLE stats_mysql_connection_pool ADD COLUMN x INT", 1105, "HY000"),
        "cannot be dropped or altered"));
    assert_non_null(strstr(run_err(fx,
                                   "CREATE TRIGGER t AFTER INSERT ON stats_mysql_query_digest"
                                   " BEGIN SELECT 1; END",
                                   1105, "HY000"),
                           "cannot have triggers"));
    /* A refused DELETE of the _reset table must not have reset anything. */
    assert_int_equal(router_digest_stats_size(worker[1]), 2);
    /* Copying stats into an operator's own table is fine. */
    run_ok(fx, "CREATE TABLE snap AS SELECT digest, count_star FROM stats_mysql_query_digest");
    run_nrows(fx, "SELECT * FROM snap", 2);
}

static void test_show_tables(void **state)
{
    static const char *const stats[] = {
        "stats_mysql_connection_pool",    "stats_mysql_multiplexing", "stats_mysql_pin_digests",
        "stats_mysql_pin_reasons",        "stats_mysql_pool_advisor", "stats_mysql_query_digest",
        "stats_mysql_query_digest_reset", "stats_mysql_query_rules",  "stats_mysql_global",
        "stats_mysql_commands_counters",  "stats_mysql_processlist",
    };
    struct fixture *fx = *state;

    run_set(fx, "SHOW TABLES");
    for (size_t s = 0; s < sizeof(stats) / sizeof(stats[0]); s++) {
        bool found = false;

        for (size_t r = 0; r < fx->res.nrows; r++)
            found = found || strcmp(fx->res.rows[r][0], stats[s]) == 0;
        assert_true(found);
    }
    run_nrows(fx, "SHOW CREATE TABLE stats_mysql_query_digest", 1);
    assert_non_null(strstr(fx->res.rows[0][1], "p99_time"));
    /* Not part of any layer: DISK has no stats tables. */
    run_set(fx, "SHOW TABLES FROM disk");
    for (size_t r = 0; r < fx->res.nrows; r++)
        assert_null(strstr(fx->res.rows[r][0], "stats_"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digest_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_only_when_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_tables, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

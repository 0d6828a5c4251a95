/*
 * Unit tests for what ProxySQL runbooks send to the admin interface: SET
 * <variable> = <value> (admin/exec_set.c: the parser, the closest-name
 * suggestion, the MEMORY write), the schema names stats and monitor
 * (admin/schemas.c), SHOW MYSQL STATUS|VARIABLES and the PROXYSQL commands
 * (admin/exec_proxysql.c). Parsers are tables of cases; the commands run on
 * a store in a temporary datadir.
 */
#include "admin/admin_int.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

struct set_case {
    const char *sql;
    int rc;
    enum admin_set_kind kind;
    const char *name, *value;
};

static const struct set_case set_cases[] = {
    {"SET mysql-max_connections=5000", 0, ADMIN_SET_GLOBAL, "mysql-max_connections", "5000"},
    {"set mysql-default_charset = 'utf8mb4'", 0, ADMIN_SET_GLOBAL, "mysql-default_charset",
     "utf8mb4"},
    {"SET  admin-restapi_port\t=\"6071\"  ", 0, ADMIN_SET_GLOBAL, "admin-restapi_port", "6071"},
    {"SET `mysql-threads` = 4", 0, ADMIN_SET_GLOBAL, "mysql-threads", "4"},
    {"SET mysql-server_version := '8.0 x'", 0, ADMIN_SET_GLOBAL, "mysql-server_version", "8.0 x"},
    {"SET mysql-monitor_password='it''s\\'ok'", 0, ADMIN_SET_GLOBAL, "mysql-monitor_password",
     "it's'ok"},
    {"SET monitor-ping_interval=100", 0, ADMIN_SET_GLOBAL, "monitor-ping_interval", "100"},
    {"SET MYSQL-Threads=2", 0, ADMIN_SET_GLOBAL, "MYSQL-Threads", "2"},
    /* What client libraries send: no effect. */
    {"SET NAMES utf8mb4", 0, ADMIN_SET_SESSION, "", ""},
    {"SET autocommit=1", 0, ADMIN_SET_SESSION, "", ""},
    {"SET SESSION sql_mode = 'TRADITIONAL'", 0, ADMIN_SET_SESSION, "", ""},
    {"SET @@session.autocommit = 0", 0, ADMIN_SET_SESSION, "", ""},
    {"SET character_set_results = NULL", 0, ADMIN_SET_SESSION, "", ""},
    {"SET mysql_threads = 4", 0, ADMIN_SET_SESSION, "", ""},
    /* Malformed global SETs. */
    {"SET mysql-threads", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
    {"SET mysql-threads =", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
    {"SET mysql-threads = 'open", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
    {"SET mysql-threads = 4, mysql-poll_timeout = 5", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
    {"SET mysql-server_version = 8.0 x", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
    {"SET mysql-threads = '4' extra", ADMIN_EINVAL, ADMIN_SET_GLOBAL, NULL, NULL},
};

static void test_set_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
        const struct set_case *c = &set_cases[i];
        struct admin_set set;
        int rc = admin_set_parse(c->sql, strlen(c->sql), &set);

        if (rc != c->rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, c->sql, rc, c->rc);
        if (rc != 0)
            continue;
        if (set.kind != c->kind || strcmp(set.name, c->name) != 0 ||
            strcmp(set.value, c->value) != 0)
            fail_msg("case %zu (%s): kind %d name '%s' value '%s'", i, c->sql, set.kind, set.name,
                     set.value);
    }
}

static void test_edit_distance(void **state)
{
    (void)state;
    assert_int_equal(admin_edit_distance("", ""), 0);
    assert_int_equal(admin_edit_distance("abc", ""), 3);
    assert_int_equal(admin_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(admin_edit_distance("Threads", "threads"), 0);
    assert_string_equal(admin_global_closest("mysql-max_conections"), "mysql-max_connections");
    assert_string_equal(admin_global_closest("mysql-thread"), "mysql-threads");
    assert_string_equal(admin_global_closest("mysql-max_stmts_per_conn"),
                        "mysql-max_stmts_per_connection");
    assert_string_equal(admin_global_known("MYSQL-QUERY_CACHE_SIZE_mb"),
                        "mysql-query_cache_size_MB");
    assert_null(admin_global_known("mysql-nope"));
}

struct rewrite_case {
    const char *in, *out;
};

static const struct rewrite_case rewrite_cases[] = {
    {"SELECT * FROM stats.stats_mysql_query_digest",
     "SELECT * FROM main .stats_mysql_query_digest"},
    {"select * from STATS . stats_mysql_global", "select * from main  . stats_mysql_global"},
    {"SELECT * FROM `stats`.`stats_mysql_global`", "SELECT * FROM main   .`stats_mysql_global`"},
    {"SELECT * FROM monitor.mysql_server_ping_log", "SELECT * FROM main   .mysql_server_ping_log"},
    /* Not a table of that schema, a literal, a comment, a column. */
    {"SELECT * FROM stats.mysql_servers", "SELECT * FROM stats.mysql_servers"},
    {"SELECT * FROM monitor.stats_mysql_global", "SELECT * FROM monitor.stats_mysql_global"},
    {"SELECT 'stats.stats_mysql_global'", "SELECT 'stats.stats_mysql_global'"},
    {"SELECT 1 -- stats.stats_mysql_global", "SELECT 1 -- stats.stats_mysql_global"},
    {"SELECT t.stats.stats_mysql_global", "SELECT t.stats.stats_mysql_global"},
    {"SELECT mystats.stats_mysql_global", "SELECT mystats.stats_mysql_global"},
    {"SELECT * FROM main.stats_mysql_global", "SELECT * FROM main.stats_mysql_global"},
};

static void test_schema_rewrite(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]); i++) {
        char buf[128];

        snprintf(buf, sizeof(buf), "%s", rewrite_cases[i].in);
        admin_schema_rewrite(buf, buf + strlen(buf));
        if (strcmp(buf, rewrite_cases[i].out) != 0)
            fail_msg("case %zu: '%s' -> '%s', want '%s'", i, rewrite_cases[i].in, buf,
                     rewrite_cases[i].out);
    }
}

/* A store in a temporary datadir, as proxy/main.c opens it. */
struct fixture {
    char root[64];
    struct admin_store *store;
    struct admin_config *runtime;
    struct admin_result res;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[256];

    assert_non_null(fx);
    strcpy(fx->root, "/tmp/sluice_test_admin_runbook_XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    assert_int_equal(admin_store_open(fx->root, NULL, &fx->store, err, sizeof(err)), 0);
    assert_int_equal(admin_config_load(fx->store, &fx->runtime, err, sizeof(err)), 0);
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    admin_result_free(&fx->res);
    admin_config_unref(fx->runtime);
    admin_store_close(fx->store);
    nftw(fx->root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Runs sql, publishing a new snapshot; returns the result's kind. */
static enum admin_result_kind run(struct fixture *fx, const char *sql)
{
    admin_result_free(&fx->res);
    admin_execute(fx->store, fx->runtime, sql, strlen(sql), &fx->res);
    if (fx->res.new_runtime) {
        admin_config_unref(fx->runtime);
        fx->runtime = fx->res.new_runtime;
        fx->res.new_runtime = NULL;
    }
    return fx->res.kind;
}

static void run_ok(struct fixture *fx, const char *sql)
{
    if (run(fx, sql) == ADMIN_RES_ERROR)
        fail_msg("%s: error %u %s", sql, fx->res.err_code, fx->res.err_msg);
}

static const char *run_err(struct fixture *fx, const char *sql, unsigned code)
{
    if (run(fx, sql) != ADMIN_RES_ERROR)
        fail_msg("%s: no error, want %u", sql, code);
    assert_int_equal(fx->res.err_code, code);
    return fx->res.err_msg;
}

static const char *value(struct fixture *fx, const char *sql)
{
    if (run(fx, sql) != ADMIN_RES_ROWS || fx->res.nrows != 1)
        fail_msg("%s: kind %d, %zu rows (%s)", sql, fx->res.kind, fx->res.nrows, fx->res.err_msg);
    return fx->res.rows[0][0];
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!haystack || !strstr(haystack, needle))
        fail_msg("'%s' does not contain '%s'", haystack ? haystack : "NULL", needle);
}

#define VAR(name) "SELECT variable_value FROM global_variables WHERE variable_name = '" name "'"
#define RVAR(name)                                                                                 \
    "SELECT variable_value FROM runtime_global_variables WHERE variable_name = '" name "'"

static void test_set_global(void **state)
{
    struct fixture *fx = *state;

    run_ok(fx, "SET mysql-max_stmts_per_connection=33");
    assert_int_equal(fx->res.affected_rows, 1);
    assert_string_equal(value(fx, VAR("mysql-max_stmts_per_connection")), "33");
    /* MEMORY only, until LOAD. */
    assert_string_equal(value(fx, RVAR("mysql-max_stmts_per_connection")), "50");
    assert_int_equal(fx->runtime->max_stmts_per_backend, 50);
    run_ok(fx, "LOAD MYSQL VARIABLES TO RUNTIME");
    assert_int_equal(fx->runtime->max_stmts_per_backend, 33);
    assert_string_equal(value(fx, RVAR("mysql-max_stmts_per_connection")), "33");

    run_ok(fx, "SET mysql-default_charset='utf8'; SET admin-restapi_port = 6071");
    assert_string_equal(value(fx, VAR("mysql-default_charset")), "utf8");
    assert_string_equal(value(fx, VAR("admin-restapi_port")), "6071");
    /* Any case: the row keeps the variable's own spelling. */
    run_ok(fx, "SET MYSQL-QUERY_CACHE_SIZE_MB=7");
    assert_string_equal(value(fx, VAR("mysql-query_cache_size_MB")), "7");

    /* Checked as LOAD would: nothing written. */
    assert_contains(run_err(fx, "SET mysql-max_connections=0", 1105), "not an integer in 1-");
    assert_contains(run_err(fx, "SET mysql-default_charset='klingon'", 1105), "unsupported");
    assert_contains(run_err(fx, "SET mysql-causal_reads=maybe", 1105), "not true or false");
    assert_string_equal(value(fx, VAR("mysql-max_connections")), "10000");

    assert_string_equal(run_err(fx, "SET mysql-max_conections=5", 1193),
                        "Unknown system variable 'mysql-max_conections'; did you mean "
                        "'mysql-max_connections'?");
    assert_contains(run_err(fx, "SET monitor-ping_interval=2000", 1193),
                    "did you mean 'mysql-monitor_ping_interval'?");
    run_err(fx, "SET mysql-threads = 4, mysql-poll_timeout = 5", 1064);

    /* Client SETs stay harmless. */
    run_ok(fx, "SET NAMES utf8mb4; SET autocommit=0; SET @@session.sql_mode='ANSI'");
    assert_int_equal(fx->res.affected_rows, 0);
}

static void test_schemas(void **state)
{
    struct fixture *fx = *state;
    char n[32];

    snprintf(n, sizeof(n), "%s", value(fx, "SELECT COUNT(*) FROM main.stats_mysql_global"));
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM stats.stats_mysql_global"), n);
    run_ok(fx, "SELECT * FROM stats.stats_mysql_query_digest");
    run_ok(fx, "SELECT * FROM stats.stats_mysql_connection_pool");
    run_ok(fx, "SELECT * FROM monitor.mysql_server_ping_log");
    run_ok(fx, "SELECT * FROM monitor.mysql_server_connect_log");
    run_ok(fx, "SHOW CREATE TABLE stats.stats_mysql_global");
    /* Still read-only under the other name. */
    assert_contains(run_err(fx, "DELETE FROM stats.stats_mysql_global", 1105), "read-only");
    run_err(fx, "SELECT * FROM stats.mysql_servers", 1105);
}

static void test_show_mysql(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(run(fx, "SHOW MYSQL STATUS"), ADMIN_RES_ROWS);
    assert_string_equal(fx->res.col_names[0], "Variable_name");
    assert_string_equal(fx->res.col_names[1], "Value");
    assert_int_equal(run(fx, "show mysql variables"), ADMIN_RES_ROWS);
    assert_true(fx->res.nrows > 40);
    for (size_t i = 0; i < fx->res.nrows; i++)
        assert_true(strncmp(fx->res.rows[i][0], "mysql-", 6) == 0);
}

static void test_proxysql_commands(void **state)
{
    struct fixture *fx = *state;

    run_ok(fx, "PROXYSQL PAUSE");
    assert_int_equal(fx->res.actions, ADMIN_ACT_PAUSE);
    run_ok(fx, "PROXYSQL PAUSE; PROXYSQL RESUME; PROXYSQL FLUSH QUERY CACHE");
    assert_int_equal(fx->res.actions, ADMIN_ACT_RESUME | ADMIN_ACT_FLUSH_QCACHE);
    run_ok(fx, "PROXYSQL FLUSH LOGS");
    assert_int_equal(fx->res.actions, 0);
    assert_contains(run_err(fx, "PROXYSQL RESTART", 1064), "not supported by Sluice");
    assert_contains(run_err(fx, "LOAD MYSQL SERVERS FROM CONFIG", 1105),
                    "Sluice differs from ProxySQL here");
    /* Both directions with ProxySQL's aliases. */
    run_ok(fx, "SET mysql-threads=3; SAVE MYSQL VARIABLES TO DISK");
    run_ok(fx, "SET mysql-threads=5; LOAD MYSQL VARIABLES TO MEM");
    assert_string_equal(value(fx, VAR("mysql-threads")), "3");
    run_ok(fx, "LOAD MYSQL VARIABLES TO RUN; SET mysql-threads=6; SAVE MYSQL VARIABLES TO MEM");
    assert_string_equal(value(fx, VAR("mysql-threads")), "3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_parse),
        cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_schema_rewrite),
        cmocka_unit_test_setup_teardown(test_set_global, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_mysql, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxysql_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

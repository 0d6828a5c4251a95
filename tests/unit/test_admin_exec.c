/*
 * Unit tests for the admin SQL interface (admin/exec.c) and the layers
 * (admin/layers.c): plain SQL on MEMORY, LOAD/SAVE between MEMORY, RUNTIME
 * and DISK, validation at LOAD ... TO RUNTIME, the mariadb client's
 * introspection queries and the error results.
 *
 * Each test starts the shared fixture (admin_fixture.h) on its fleet: a
 * fresh directory holding the datadir and a config file, a store and the
 * published runtime snapshot.
 */
#include "admin/admin.h"
#include "tests/unit/admin_fixture.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static void test_layers_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct admin_config *before = fx->runtime;

    assert_int_equal(fx->runtime->n_servers, 2);
    assert_int_equal(run_ok(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname, port, comment)"
                                " VALUES (1, 'db3', 3307, 'new')"),
                     1);
    assert_null(fx->res.new_runtime);
    /* MEMORY changed, RUNTIME (snapshot and runtime_*) did not. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_servers"), "3");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_servers"), "2");
    assert_ptr_equal(fx->runtime, before);

    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    assert_int_equal(fx->res.kind, ADMIN_RES_OK);
    assert_int_equal(fx->runtime->n_servers, 3);
    assert_string_equal(fx->runtime->servers[2].host, "db3");
    assert_int_equal(fx->runtime->servers[2].port, 3307);
    assert_int_equal(fx->runtime->servers[2].hostgroup, 1);
    assert_string_equal(fx->runtime->servers[2].comment, "new");
    /* The other modules came along from runtime_*. */
    assert_int_equal(fx->runtime->n_users, 1);
    assert_string_equal(fx->runtime->users[0].username, "app");
    assert_non_null(fx->runtime->rules);
    assert_string_equal(value(fx, "SELECT hostname FROM runtime_mysql_servers WHERE port = 3307"),
                        "db3");

    /* DISK still has the two servers of the first start, until SAVE. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_servers"), "2");
    assert_int_equal(run_ok(fx, "SAVE MYSQL SERVERS TO DISK"), 3);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_servers"), "3");

    /* A restart reads DISK and ignores the config file (which would fail). */
    fixture_stop(fx);
    write_file(fx->conf, "INSERT INTO mysql_servers (hostname) VALUES ('other'); NOT SQL;");
    fixture_start(fx);
    assert_int_equal(fx->runtime->n_servers, 3);
    assert_string_equal(fx->runtime->servers[2].host, "db3");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_servers WHERE hostname = 'other'"),
                        "0");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_servers"), "3");
    /* Users and rules were saved at the first start and are back too. */
    assert_int_equal(fx->runtime->n_users, 1);
    assert_string_equal(value(fx, "SELECT match_digest FROM mysql_query_rules"), "^SELECT");
}

static void test_load_from_disk(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(run_ok(fx, "DELETE FROM mysql_servers WHERE hostgroup_id = 1"), 1);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_servers"), "1");
    /* Two servers and no replication hostgroups. */
    assert_int_equal(run_ok(fx, "LOAD MYSQL SERVERS FROM DISK"), 2);
    assert_null(fx->res.new_runtime);
    run_rows(fx, "SELECT hostgroup_id, hostname FROM mysql_servers ORDER BY hostgroup_id", 2, 2);
    assert_string_equal(cell(fx, 0, 1), "db1");
    assert_string_equal(cell(fx, 1, 1), "db2");

    /* The alias, for another module; MEMORY only, not RUNTIME. */
    assert_int_equal(run_ok(fx, "DELETE FROM mysql_users"), 1);
    assert_int_equal(run_ok(fx, "load mysql users to memory;"), 1);
    assert_string_equal(value(fx, "SELECT username FROM mysql_users"), "app");
}

static void test_save_from_runtime(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(run_ok(fx, "UPDATE mysql_servers SET weight = 50"), 2);
    assert_int_equal(run_ok(fx, "INSERT INTO mysql_servers (hostname) VALUES ('db9')"), 1);
    assert_int_equal(run_ok(fx, "SAVE MYSQL SERVERS FROM RUNTIME"), 2);
    assert_null(fx->res.new_runtime);
    run_rows(fx, "SELECT hostname, weight FROM mysql_servers ORDER BY hostname", 2, 2);
    assert_string_equal(cell(fx, 0, 0), "db1");
    assert_string_equal(cell(fx, 0, 1), "1");
    assert_string_equal(cell(fx, 1, 0), "db2");
    assert_string_equal(cell(fx, 1, 1), "1");

    /* Variables: only the module's rows are copied back. */
    assert_int_equal(run_ok(fx, "UPDATE global_variables SET variable_value = '7'"
                                " WHERE variable_name = 'mysql-threads';"
                                "UPDATE global_variables SET variable_value = '7070'"
                                " WHERE variable_name = 'admin-restapi_port'"),
                     1);
    run_ok(fx, "SAVE MYSQL VARIABLES TO MEM");
    assert_string_equal(value(fx,
                              "SELECT variable_value FROM global_variables WHERE variable_name ="
                              " 'mysql-threads'"),
                        "0");
    assert_string_equal(value(fx,
                              "SELECT variable_value FROM global_variables WHERE variable_name ="
                              " 'admin-restapi_port'"),
                        "7070");
}

static void test_bad_regex_refused(void **state)
{
    struct fixture *fx = *state;
    struct admin_config *before = fx->runtime;
    const char *err;

    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, apply)"
               " VALUES (42, 1, 'SELECT (unclosed', 1)");
    err = run_err(fx, "LOAD MYSQL QUERY RULES TO RUNTIME", 1105, "HY000");
    assert_contains(err, "rule_id 42");
    assert_contains(err, "match_pattern");
    assert_contains(err, "offset");
    assert_null(fx->res.new_runtime);
    assert_ptr_equal(fx->runtime, before);
    run_rows(fx, "SELECT rule_id, match_digest FROM runtime_mysql_query_rules", 2, 1);
    assert_string_equal(cell(fx, 0, 0), "1");
    assert_string_equal(cell(fx, 0, 1), "^SELECT");

    /* Fixed, the same command goes through. */
    run_ok(fx, "UPDATE mysql_query_rules SET match_pattern = 'SELECT (closed)' WHERE rule_id = 42");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_query_rules"), "2");
}

static void test_users_keep_runtime_servers(void **state)
{
    struct fixture *fx = *state;

    /* MEMORY servers change but are not loaded. */
    run_ok(fx, "DELETE FROM mysql_servers;"
               "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (5, 'elsewhere');"
               "INSERT INTO mysql_users (username, password, default_hostgroup)"
               " VALUES ('report', 'pw2', 1)");
    assert_true(run(fx, "LOAD MYSQL USERS TO RUNTIME"));
    assert_int_equal(fx->runtime->n_servers, 2);
    assert_string_equal(fx->runtime->servers[0].host, "db1");
    assert_string_equal(fx->runtime->servers[1].host, "db2");
    assert_int_equal(fx->runtime->n_users, 2);
    assert_string_equal(fx->runtime->users[1].username, "report");
    assert_int_equal(fx->runtime->users[1].default_hostgroup, 1);
    assert_string_equal(value(fx, "SELECT group_concat(hostname) FROM runtime_mysql_servers"),
                        "db1,db2");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_users"), "2");
}

static void test_user_missing_hostgroup(void **state)
{
    struct fixture *fx = *state;
    struct admin_config *before = fx->runtime;
    const char *err;

    run_ok(fx, "INSERT INTO mysql_users (username, password, default_hostgroup)"
               " VALUES ('bob', 'secretpw', 9)");
    err = run_err(fx, "LOAD MYSQL USERS TO RUNTIME", 1105, "HY000");
    assert_contains(err, "'bob'");
    assert_contains(err, "default_hostgroup 9");
    assert_null(strstr(err, "secretpw"));
    assert_null(fx->res.new_runtime);
    assert_ptr_equal(fx->runtime, before);
    assert_string_equal(value(fx, "SELECT group_concat(username) FROM runtime_mysql_users"), "app");

    /* Hostgroup 9 gains a server in MEMORY; loading only users still refuses,
     * loading servers first makes the users valid. */
    run_ok(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (9, 'db9')");
    run_err(fx, "LOAD MYSQL USERS TO RUNTIME", 1105, "HY000");
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    assert_true(run(fx, "LOAD MYSQL USERS TO RUNTIME"));
    assert_int_equal(fx->runtime->n_users, 2);
}

static void test_select_rows(void **state)
{
    struct fixture *fx = *state;
    struct admin_result *r = &fx->res;

    run_rows(fx,
             "SELECT hostgroup_id, hostname AS host, port, NULL AS absent, comment"
             " FROM mysql_servers ORDER BY hostgroup_id",
             5, 2);
    assert_string_equal(r->col_names[0], "hostgroup_id");
    assert_string_equal(r->col_names[1], "host");
    assert_string_equal(r->col_names[2], "port");
    assert_string_equal(r->col_names[3], "absent");
    assert_string_equal(r->col_names[4], "comment");
    assert_string_equal(cell(fx, 0, 0), "0");
    assert_string_equal(cell(fx, 0, 1), "db1");
    assert_string_equal(cell(fx, 0, 2), "3306");
    assert_null(cell(fx, 0, 3));
    assert_string_equal(cell(fx, 0, 4), "");
    assert_string_equal(cell(fx, 1, 0), "1");
    assert_string_equal(cell(fx, 1, 1), "db2");

    /* A nullable column of an admin table, and a real number as text. */
    run_rows(fx, "SELECT username, default_schema, 1.5 FROM mysql_users", 3, 1);
    assert_string_equal(cell(fx, 0, 0), "app");
    assert_null(cell(fx, 0, 1));
    assert_string_equal(cell(fx, 0, 2), "1.5");

    /* No rows is still a result set with its columns. */
    run_rows(fx, "SELECT hostname FROM mysql_servers WHERE port = 1", 1, 0);
    assert_string_equal(r->col_names[0], "hostname");

    /* REPLACE, UPDATE and DELETE report the rows they changed. */
    assert_int_equal(run_ok(fx, "REPLACE INTO mysql_servers (hostgroup_id, hostname, port)"
                                " VALUES (0, 'db1', 3306)"),
                     1);
    assert_int_equal(run_ok(fx, "UPDATE mysql_servers SET weight = 3"), 2);
    assert_int_equal(run_ok(fx, "DELETE FROM mysql_servers WHERE weight = 0"), 0);
}

static void test_multi_statement(void **state)
{
    struct fixture *fx = *state;
    const char *err;

    /* The last statement's result is returned. */
    run_rows(fx,
             "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (2, 'a');"
             "  INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (2, 'b') ;"
             "SELECT COUNT(*) AS n FROM mysql_servers WHERE hostgroup_id = 2;",
             1, 1);
    assert_string_equal(fx->res.col_names[0], "n");
    assert_string_equal(cell(fx, 0, 0), "2");

    /* The first error stops: 'c' is inserted, 'd' is not. */
    err = run_err(fx,
                  "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (3, 'c');"
                  "INSERT INTO no_such_table VALUES (1);"
                  "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (3, 'd')",
                  1105, "HY000");
    assert_string_equal(err, "INSERT: no such table: no_such_table");
    assert_string_equal(
        value(fx, "SELECT group_concat(hostname) FROM mysql_servers WHERE hostgroup_id = 3"), "c");

    /* Commands mix with SQL; a LOAD that succeeded is published even though a
     * later statement failed, since runtime_* already shows it. */
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME; SELECT nope FROM mysql_servers"));
    assert_int_equal(fx->res.kind, ADMIN_RES_ERROR);
    assert_int_equal(fx->runtime->n_servers, 5);
    run_ok(fx, "SAVE MYSQL SERVERS TO DISK;;");
    assert_int_equal(fx->res.affected_rows, 5);
}

static const char *const memory_tables[] = {
    "global_variables",
    "mysql_config_version_rows",
    "mysql_config_versions",
    "mysql_query_rules",
    "mysql_query_rules_tests",
    "mysql_replication_hostgroups",
    "mysql_server_connect_log",
    "mysql_server_ping_log",
    "mysql_server_read_only_log",
    "mysql_server_replication_lag_log",
    "mysql_servers",
    "mysql_users",
    "runtime_global_variables",
    "runtime_mysql_query_rules",
    "runtime_mysql_query_rules_tests",
    "runtime_mysql_replication_hostgroups",
    "runtime_mysql_servers",
    "runtime_mysql_users",
    "stats_mysql_client_host_cache",
    "stats_mysql_commands_counters",
    "stats_mysql_connection_pool",
    "stats_mysql_errors",
    "stats_mysql_errors_reset",
    "stats_mysql_free_connections",
    "stats_mysql_global",
    "stats_mysql_multiplexing",
    "stats_mysql_pin_digests",
    "stats_mysql_pin_reasons",
    "stats_mysql_pool_advisor",
    "stats_mysql_prepared_statements_info",
    "stats_mysql_processlist",
    "stats_mysql_query_digest",
    "stats_mysql_query_digest_reset",
    "stats_mysql_query_rules",
    "stats_mysql_users",
};

static void test_show_tables(void **state)
{
    struct fixture *fx = *state;
    size_t n = sizeof(memory_tables) / sizeof(memory_tables[0]);

    run_rows(fx, "SHOW TABLES", 1, n);
    assert_string_equal(fx->res.col_names[0], "tables");
    for (size_t i = 0; i < n; i++)
        assert_string_equal(cell(fx, i, 0), memory_tables[i]);
    run_rows(fx, "show tables from `main`", 1, n);

    static const char *const disk_tables[] = {
        "global_variables",        "mysql_config_version_rows",
        "mysql_config_versions",   "mysql_query_rules",
        "mysql_query_rules_tests", "mysql_replication_hostgroups",
        "mysql_servers",           "mysql_users"};
    run_rows(fx, "SHOW TABLES FROM disk", 1, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(cell(fx, i, 0), disk_tables[i]);
    run_rows(fx, "SHOW TABLES IN DISK;", 1, 8);

    assert_string_equal(run_err(fx, "SHOW TABLES FROM nope", 1049, "42000"),
                        "Unknown database 'nope' (main, disk, stats or monitor)");
    /* ProxySQL's schemas: the stats tables, the monitor's logs. */
    run_rows(fx, "SHOW TABLES FROM stats", 1, 17);
    for (size_t i = 0; i < 17; i++)
        assert_string_equal(cell(fx, i, 0), memory_tables[18 + i]);
    run_rows(fx, "SHOW TABLES IN `monitor`", 1, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(cell(fx, i, 0), memory_tables[6 + i]);

    run_rows(fx, "SHOW DATABASES", 1, 4);
    assert_string_equal(fx->res.col_names[0], "Database");
    assert_string_equal(cell(fx, 0, 0), "main");
    assert_string_equal(cell(fx, 1, 0), "disk");
    assert_string_equal(cell(fx, 2, 0), "stats");
    assert_string_equal(cell(fx, 3, 0), "monitor");
}

static void test_show_create_table(void **state)
{
    struct fixture *fx = *state;

    run_rows(fx, "SHOW CREATE TABLE mysql_servers", 2, 1);
    assert_string_equal(fx->res.col_names[0], "Table");
    assert_string_equal(fx->res.col_names[1], "Create Table");
    assert_string_equal(cell(fx, 0, 0), "mysql_servers");
    assert_true(strncmp(cell(fx, 0, 1), "CREATE TABLE", 12) == 0);
    assert_contains(cell(fx, 0, 1), "hostgroup_id INT CHECK (hostgroup_id>=0) NOT NULL DEFAULT 0");
    assert_contains(cell(fx, 0, 1), "PRIMARY KEY (hostgroup_id, hostname, port)");

    run_rows(fx, "show create table `disk`.`mysql_users`", 2, 1);
    assert_string_equal(cell(fx, 0, 0), "mysql_users");
    assert_contains(cell(fx, 0, 1), "UNIQUE (username, frontend)");
    run_rows(fx, "SHOW CREATE TABLE runtime_global_variables", 2, 1);
    assert_contains(cell(fx, 0, 1), "variable_name VARCHAR NOT NULL PRIMARY KEY");

    assert_string_equal(run_err(fx, "SHOW CREATE TABLE nope", 1146, "42S02"),
                        "Table 'main.nope' doesn't exist");
    assert_string_equal(run_err(fx, "SHOW CREATE TABLE x.mysql_users", 1049, "42000"),
                        "Unknown database 'x' (main, disk, stats or monitor)");
}

/* What the mariadb client and connectors send on connect and for \s. */
static void test_client_queries(void **state)
{
    struct fixture *fx = *state;

    run_rows(fx, "select @@version_comment limit 1", 1, 1);
    assert_string_equal(fx->res.col_names[0], "@@version_comment");
    assert_string_equal(cell(fx, 0, 0), "Sluice admin");
    run_rows(fx, "SELECT @@version_comment LIMIT 0", 1, 0);

    assert_string_equal(value(fx, "SELECT @@version"), "10.11.6-MariaDB-Sluice");
    assert_string_equal(fx->res.col_names[0], "@@version");
    run_rows(fx, "SELECT @@session.autocommit, @@max_allowed_packet,@@tx_isolation", 3, 1);
    assert_string_equal(fx->res.col_names[0], "@@session.autocommit");
    assert_string_equal(cell(fx, 0, 0), "1");
    assert_string_equal(cell(fx, 0, 1), "67108864");
    assert_string_equal(cell(fx, 0, 2), "SERIALIZABLE");
    assert_string_equal(run_err(fx, "SELECT @@no_such_var", 1193, "HY000"),
                        "Unknown system variable 'no_such_var'");
    run_err(fx, "SELECT @@version, 1", 1064, "42000");

    assert_string_equal(value(fx, "SELECT DATABASE()"), "main");
    assert_string_equal(fx->res.col_names[0], "DATABASE()");
    assert_string_equal(value(fx, "SELECT USER()"), "admin@localhost");
    run_rows(fx, "SELECT DATABASE(), USER(), VERSION()", 3, 1);
    assert_string_equal(cell(fx, 0, 2), "10.11.6-MariaDB-Sluice");

    assert_int_equal(run_ok(fx, "SET NAMES utf8mb4"), 0);
    run_ok(fx, "set autocommit=1;");
    run_ok(fx, "SET SESSION sql_mode = 'TRADITIONAL'");
    run_ok(fx, "USE main");
    run_ok(fx, "use `main`;");
    run_ok(fx, "USE stats");
    assert_string_equal(run_err(fx, "USE other", 1049, "42000"),
                        "Unknown database 'other' (main, disk, stats or monitor)");
}

static void test_unknown_command(void **state)
{
    struct fixture *fx = *state;
    const char *err;

    err = run_err(fx, "LOAD MYSQL FOO TO RUNTIME", 1064, "42000");
    assert_contains(err, "You have an error in your SQL syntax");
    assert_contains(err, "'LOAD MYSQL FOO TO RUNTIME'");
    run_err(fx, "SAVE MYSQL SERVERS TO RUNTIME", 1064, "42000");
    run_err(fx, "LOAD MYSQL SERVERS TO RUNTIME NOW", 1064, "42000");
    run_err(fx, "LOAD", 1064, "42000");

    err = run_err(fx, "FROBNICATE mysql_servers", 1064, "42000");
    assert_string_equal(err, "You have an error in your SQL syntax near 'FROBNICATE "
                             "mysql_servers': near \"FROBNICATE\": syntax error");
    run_err(fx, "SHOW PROCESSLIST", 1064, "42000");

    assert_string_equal(run_err(fx, "", 1065, "42000"), "Query was empty");
    run_err(fx, "  ;  -- nothing\n", 1065, "42000");

    /* Wire data may hold a NUL; it must not hide the rest of the statement. */
    admin_result_free(&fx->res);
    assert_int_equal(admin_execute(fx->store, fx->runtime, "SELECT 1\0; DELETE", 18, &fx->res),
                     ADMIN_ESQL);
    assert_int_equal(fx->res.err_code, 1064);
}

static void test_sql_errors(void **state)
{
    struct fixture *fx = *state;
    const char *err;

    err = run_err(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (0, 'db1')", 1105,
                  "HY000");
    assert_string_equal(err, "INSERT: UNIQUE constraint failed: mysql_servers.hostgroup_id,"
                             " mysql_servers.hostname, mysql_servers.port");
    err = run_err(fx, "UPDATE mysql_servers SET port = 70000", 1105, "HY000");
    assert_contains(err, "UPDATE: CHECK constraint failed");
    assert_string_equal(run_err(fx, "select * from nope", 1105, "HY000"),
                        "SELECT: no such table: nope");

    /* Literals, which may be passwords, are never echoed. */
    err = run_err(fx, "INSERT INTO mysql_users (username, password) VALUES ('u' 'hunter2')", 1064,
                  "42000");
    assert_null(strstr(err, "hunter2"));
    assert_contains(err, "syntax error near a string literal");
    err = run_err(fx, "INSERT INTO mysql_users (username, password) VALUES ('u', 'hunter2", 1064,
                  "42000");
    assert_null(strstr(err, "hunter2"));
}

/* runtime_* show what is live, so only LOAD writes them; the admin tables
 * stay in place; no other file can be attached. */
static void test_protected_tables(void **state)
{
    struct fixture *fx = *state;

    assert_string_equal(run_err(fx, "DELETE FROM runtime_mysql_servers", 1105, "HY000"),
                        "DELETE: runtime_mysql_servers is read-only: it shows the runtime;"
                        " change mysql_servers and LOAD it TO RUNTIME");
    run_err(fx, "UPDATE runtime_global_variables SET variable_value = '1'", 1105, "HY000");
    run_err(fx, "INSERT INTO runtime_mysql_users (username) VALUES ('x')", 1105, "HY000");
    assert_contains(run_err(fx, "DROP TABLE mysql_servers", 1105, "HY000"),
                    "mysql_servers is an admin table");
    run_err(fx, "ALTER TABLE disk.mysql_users ADD COLUMN x INT", 1105, "HY000");
    /* More of these in test_admin_harden.c. */
    assert_contains(run_err(fx, "ATTACH DATABASE '/tmp/x.db' AS other", 1227, "42000"),
                    "ATTACH is not allowed");
    run_err(fx, "DETACH disk", 1227, "42000");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_servers"), "2");
    /* Operators may keep scratch tables of their own. */
    run_ok(fx, "CREATE TABLE scratch (a INT); DROP TABLE scratch");
}

/* The monitor's logs: written through admin_monitor_log, pruned by time,
 * read-only for operators. */
static void test_monitor_logs(void **state)
{
    struct fixture *fx = *state;
    struct admin_monitor_entry e = {.check = ADMIN_MONITOR_PING,
                                    .host = "10.0.0.1",
                                    .port = 3306,
                                    .time_start_us = 1000,
                                    .success_time_us = 250};
    assert_int_equal(admin_monitor_log(fx->store, &e), 0);
    e.time_start_us = 5000;
    e.error = "timeout after 300 ms";
    assert_int_equal(admin_monitor_log(fx->store, &e), 0);
    e = (struct admin_monitor_entry){.check = ADMIN_MONITOR_REPL_LAG,
                                     .host = "10.0.0.2",
                                     .port = 3307,
                                     .time_start_us = 6000,
                                     .success_time_us = 9,
                                     .value_null = true};
    assert_int_equal(admin_monitor_log(fx->store, &e), 0);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_server_ping_log"), "2");
    assert_string_equal(value(fx, "SELECT ping_success_time_us FROM mysql_server_ping_log"
                                  " WHERE ping_error IS NOT NULL"),
                        "0");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_server_replication_lag_log"
                                  " WHERE repl_lag IS NULL AND port = 3307"),
                        "1");
    assert_int_equal(admin_monitor_prune(fx->store, 5500), 0);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_server_ping_log"), "0");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_server_replication_lag_log"), "1");
    assert_contains(run_err(fx, "DELETE FROM mysql_server_replication_lag_log", 1105, "HY000"),
                    "the monitor writes it");
    run_err(fx, "INSERT INTO mysql_server_connect_log (hostname) VALUES ('x')", 1105, "HY000");
    run_err(fx, "DROP TABLE mysql_server_ping_log", 1105, "HY000");
}

static void test_transactions(void **state)
{
    struct fixture *fx = *state;

    run_ok(fx, "BEGIN");
    run_ok(fx, "DELETE FROM mysql_servers");
    assert_contains(run_err(fx, "LOAD MYSQL SERVERS TO RUNTIME", 1179, "25000"), "COMMIT");
    /* SAVE inside the transaction is part of it and rolls back with it. */
    assert_int_equal(run_ok(fx, "SAVE MYSQL SERVERS TO DISK"), 0);
    run_ok(fx, "ROLLBACK");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_servers"), "2");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_servers"), "2");

    run_ok(fx, "START TRANSACTION; UPDATE mysql_servers SET weight = 9; COMMIT");
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    assert_int_equal(fx->runtime->servers[0].weight, 9);
}

/* Each module of global_variables loads on its own. */
static void test_variables_modules(void **state)
{
    struct fixture *fx = *state;

    run_ok(fx, "UPDATE global_variables SET variable_value = '4'"
               " WHERE variable_name = 'mysql-threads';"
               "UPDATE global_variables SET variable_value = '7000'"
               " WHERE variable_name = 'admin-restapi_port'");
    assert_true(run(fx, "LOAD MYSQL VARIABLES TO RUNTIME"));
    assert_int_equal(fx->runtime->threads, 4);
    assert_int_equal(fx->runtime->restapi_port, 6070);
    assert_true(run(fx, "load admin variables to run"));
    assert_int_equal(fx->runtime->threads, 4);
    assert_int_equal(fx->runtime->restapi_port, 7000);
    assert_string_equal(value(fx, "SELECT variable_value FROM runtime_global_variables"
                                  " WHERE variable_name = 'admin-restapi_port'"),
                        "7000");

    /* A bad value is refused naming the variable; runtime keeps 7000. */
    run_ok(fx, "UPDATE global_variables SET variable_value = '0'"
               " WHERE variable_name = 'admin-restapi_port'");
    assert_contains(run_err(fx, "LOAD ADMIN VARIABLES TO RUNTIME", 1105, "HY000"),
                    "admin-restapi_port");
    assert_int_equal(fx->runtime->restapi_port, 7000);

    /* SAVE per module: admin- rows on disk keep their old value. */
    int n_mysql = atoi(value(fx, "SELECT COUNT(*) FROM global_variables"
                                 " WHERE variable_name LIKE 'mysql-%'"));

    assert_int_equal(n_mysql, 54); /* every mysql- default of config.c */
    assert_int_equal(run_ok(fx, "SAVE MYSQL VARIABLES TO DISK"), n_mysql);
    assert_string_equal(value(fx, "SELECT variable_value FROM disk.global_variables"
                                  " WHERE variable_name = 'mysql-threads'"),
                        "4");
    assert_string_equal(value(fx, "SELECT variable_value FROM disk.global_variables"
                                  " WHERE variable_name = 'admin-restapi_port'"),
                        "6070");
}

/* Every spelling of the layer commands, with the copy it must make. */
struct spelling {
    const char *sql;
    bool publishes; /* TO RUNTIME */
    uint64_t rows;  /* affected rows of a copy */
};

static const struct spelling spellings[] = {
    {"LOAD MYSQL SERVERS TO RUNTIME", true, 0},
    {"load mysql servers to run", true, 0},
    {"LOAD  MYSQL   SERVERS FROM MEMORY ;", true, 0},
    {"Load Mysql Servers From Mem", true, 0},
    {"LOAD MYSQL QUERY RULES TO RUNTIME", true, 0},
    {"LOAD MYSQL USERS TO RUNTIME", true, 0},
    {"SAVE MYSQL SERVERS TO DISK", false, 2},
    {"SAVE MYSQL SERVERS FROM MEMORY", false, 2},
    {"SAVE MYSQL USERS FROM MEM", false, 1},
    {"SAVE MYSQL QUERY RULES TO DISK", false, 1},
    {"LOAD MYSQL SERVERS FROM DISK", false, 2},
    {"LOAD MYSQL USERS TO MEMORY", false, 1},
    {"LOAD MYSQL QUERY RULES TO MEM", false, 1},
    {"SAVE MYSQL SERVERS FROM RUNTIME", false, 2},
    {"SAVE MYSQL USERS FROM RUN", false, 1},
    {"SAVE MYSQL QUERY RULES TO MEMORY", false, 1},
    {"SAVE MYSQL USERS TO MEM", false, 1},
};

static void test_command_spellings(void **state)
{
    struct fixture *fx = *state;

    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        const struct spelling *s = &spellings[i];
        bool published = run(fx, s->sql);

        if (fx->res.kind != ADMIN_RES_OK)
            fail_msg("%s: %s", s->sql, fx->res.err_msg);
        if (published != s->publishes)
            fail_msg("%s: published %d, want %d", s->sql, published, s->publishes);
        if (!s->publishes && fx->res.affected_rows != s->rows)
            fail_msg("%s: %llu rows, want %llu", s->sql, (unsigned long long)fx->res.affected_rows,
                     (unsigned long long)s->rows);
    }
}

/* admin_config_build reads each module from where it is told. */
static void test_config_build(void **state)
{
    struct fixture *fx = *state;
    struct admin_config *cfg = NULL;

    run_ok(fx, "DELETE FROM mysql_users; DELETE FROM mysql_servers WHERE hostgroup_id = 1");
    assert_int_equal(admin_config_build(fx->store, 0, &cfg, fx->err, sizeof(fx->err)), 0);
    assert_int_equal(cfg->n_servers, 2);
    assert_int_equal(cfg->n_users, 1);
    admin_config_unref(cfg);
    assert_int_equal(
        admin_config_build(fx->store, ADMIN_MOD_SERVERS, &cfg, fx->err, sizeof(fx->err)), 0);
    assert_int_equal(cfg->n_servers, 1);
    assert_int_equal(cfg->n_users, 1);
    admin_config_unref(cfg);
    assert_int_equal(admin_config_build(fx->store, ADMIN_MOD_ALL, &cfg, fx->err, sizeof(fx->err)),
                     0);
    assert_int_equal(cfg->n_servers, 1);
    assert_int_equal(cfg->n_users, 0);
    admin_config_unref(cfg);
    /* Building writes nothing. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_users"), "1");
}

static int setup(void **state)
{
    return fixture_setup_started(state, "admin_exec", fixture_fleet);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_layers_round_trip, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_load_from_disk, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_save_from_runtime, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_regex_refused, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_users_keep_runtime_servers, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_user_missing_hostgroup, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_select_rows, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_multi_statement, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_show_tables, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_show_create_table, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_client_queries, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sql_errors, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_protected_tables, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_monitor_logs, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_variables_modules, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_command_spellings, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_config_build, setup, fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

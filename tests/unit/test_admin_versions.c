/*
 * Unit tests for configuration versions, ROLLBACK and DIFF (admin/versions.c),
 * rule tests and lint at LOAD ... TO RUNTIME (admin/ruletests.c) and the
 * warnings of admin results (admin/exec.c).
 *
 * As in test_admin_exec.c, each test starts the shared fixture
 * (admin_fixture.h) on its fleet; the fixture plays the admin listener: it
 * keeps the published snapshot and replaces it with res.new_runtime whenever
 * a statement returns one. Where a query would be routed is asked through
 * EXPLAIN QUERY RULES on the runtime, the same router_classify() the workers
 * run.
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

/* Whether one of the result's warnings contains needle. */
static bool has_warning(const struct fixture *fx, const char *needle)
{
    for (size_t i = 0; i < fx->res.n_warnings && i < ADMIN_MAX_WARNINGS; i++)
        if (strstr(fx->res.warnings[i].msg, needle))
            return true;
    return false;
}

/* The hostgroup the runtime sends query to for user app. */
static int route(struct fixture *fx, const char *query)
{
    char sql[256];

    snprintf(sql, sizeof(sql), "EXPLAIN QUERY RULES FOR '%s' USER 'app'", query);
    run(fx, sql);
    assert_int_equal(fx->res.kind, ADMIN_RES_ROWS);
    assert_true(fx->res.nrows > 0);
    /* The last row is the decision; column 4 its destination_hostgroup. */
    return atoi(cell(fx, fx->res.nrows - 1, 4));
}

/* The newest version of a module. */
static int newest(struct fixture *fx, const char *module)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "SELECT max(version) FROM mysql_config_versions WHERE module = '%s'",
             module);
    return atoi(value(fx, sql));
}

static void test_versions_recorded(void **state)
{
    struct fixture *fx = *state;
    char checksum[24];

    /* The start-up load recorded one version of each module. */
    run_rows(fx, "SHOW CONFIG VERSIONS", 5, 5);
    assert_string_equal(fx->res.col_names[0], "version");
    assert_string_equal(fx->res.col_names[4], "rows");
    run_rows(fx, "show config versions for mysql query rules", 5, 1);
    assert_string_equal(cell(fx, 0, 1), "MYSQL QUERY RULES");
    assert_string_equal(cell(fx, 0, 4), "1");
    assert_int_equal(strlen(cell(fx, 0, 3)), 18); /* 0x and 16 hex digits */
    snprintf(checksum, sizeof(checksum), "%s", cell(fx, 0, 3));
    assert_int_equal(strlen(cell(fx, 0, 2)), 19); /* YYYY-MM-DD HH:MM:SS */

    /* Every LOAD records one, even unchanged; the checksum follows the rows. */
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES", 5, 3);
    assert_string_equal(cell(fx, 1, 3), checksum);
    assert_string_equal(cell(fx, 2, 3), checksum);
    run_ok(fx, "UPDATE mysql_query_rules SET destination_hostgroup = 0");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES", 5, 4);
    assert_string_not_equal(cell(fx, 3, 3), checksum);
    /* Version numbers are shared by the modules. */
    assert_int_equal(atoi(cell(fx, 3, 0)), 8);
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL SERVERS", 5, 2);
    assert_string_equal(cell(fx, 1, 0), "9");
    assert_string_equal(cell(fx, 1, 4), "2");
    /* A failed LOAD records nothing. */
    run_ok(fx, "UPDATE mysql_query_rules SET match_digest = '('");
    run_err(fx, "LOAD MYSQL QUERY RULES TO RUNTIME", 1105, NULL);
    assert_null(fx->res.new_runtime);
    assert_int_equal(newest(fx, "MYSQL QUERY RULES"), 8);

    /* Bad spellings are syntax errors. */
    run_err(fx, "SHOW CONFIG VERSIONS FOR MYSQL RULES", 1064, NULL);
    run_err(fx, "SHOW CONFIG VERSIONS MYSQL SERVERS", 1064, NULL);
    run_err(fx, "SHOW CONFIG VERSIONS FOR", 1064, NULL);
    run_err(fx, "SHOW CONFIG VERSIONS FOR ADMIN VARIABLES AND MORE", 1064, NULL);
    run_err(fx, "ROLLBACK ADMIN VARIABLES TO VERSION 0", 1064, NULL);
    run_err(fx, "ROLLBACK ADMIN VARIABLES TO VERSION -5", 1064, NULL);
    run_err(fx, "ROLLBACK MYSQL USERS VERSION 2", 1064, NULL);
    run_err(fx, "DIFF MYSQL USERS VERSION", 1064, NULL);
    run_err(fx, "DIFF MYSQL USERS MEMORY RUNTIME DISK DISK DISK DISK DISK DISK DISK DISK", 1064,
            NULL);
    /* Aliases and any case work. */
    run_rows(fx, "diff mysql users run mem", 6, 0);
    run_rows(fx, "Show Config Versions For Admin Variables;", 5, 1);
    assert_true(run(fx, "ROLLBACK ADMIN VARIABLES TO VERSION 5"));
    run_rows(fx, "SHOW CONFIG VERSIONS FOR ADMIN VARIABLES", 5, 2);
}

static void test_versions_read_only_and_saved(void **state)
{
    struct fixture *fx = *state;

    assert_contains(
        run_err(fx, "INSERT INTO mysql_config_versions VALUES (99, 'x', '', '', 0)", 1105, NULL),
        "read-only");
    assert_contains(run_err(fx, "DELETE FROM mysql_config_version_rows", 1105, NULL), "read-only");
    assert_contains(run_err(fx, "UPDATE disk.mysql_config_versions SET \"rows\" = 0", 1105, NULL),
                    "read-only");
    assert_contains(run_err(fx, "DROP TABLE mysql_config_versions", 1105, NULL),
                    "cannot be dropped");
    assert_contains(run_err(fx,
                            "CREATE TRIGGER t AFTER INSERT ON mysql_config_versions"
                            " BEGIN DELETE FROM mysql_servers; END",
                            1105, NULL),
                    "cannot have triggers");

    /* SAVE <module> TO DISK saves that module's versions too. */
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_config_versions"), "0");
    run_ok(fx, "SAVE MYSQL QUERY RULES TO DISK");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_config_versions"), "2");
    assert_string_equal(value(fx, "SELECT COUNT(DISTINCT module) FROM disk.mysql_config_versions"),
                        "1");
    /* A restart reads them back and, the rules unchanged, adds no rules
     * version; the versions of the unsaved modules are gone and recorded
     * anew, with numbers after the saved ones. */
    fixture_stop(fx);
    assert_int_equal(fixture_try_start(fx), 0);
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES", 5, 2);
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL USERS", 5, 1);
    assert_int_equal(atoi(cell(fx, 0, 0)), 8);
}

static void test_versions_pruned(void **state)
{
    struct fixture *fx = *state;

    for (int i = 0; i < 55; i++)
        assert_true(run(fx, "LOAD MYSQL USERS TO RUNTIME"));
    assert_string_equal(
        value(fx, "SELECT COUNT(*) FROM mysql_config_versions WHERE module = 'MYSQL USERS'"), "50");
    /* The rows of pruned versions go with them. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_config_version_rows WHERE version"
                                  " NOT IN (SELECT version FROM mysql_config_versions)"),
                        "0");
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES", 5, 1);
}

static void test_rollback(void **state)
{
    struct fixture *fx = *state;
    int v1 = newest(fx, "MYSQL QUERY RULES");
    char sql[128];

    assert_int_equal(route(fx, "SELECT 1"), 1);
    run_ok(fx, "UPDATE mysql_query_rules SET destination_hostgroup = 0");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, error_msg, apply)"
               " VALUES (2, 1, '^DROP', 'no drops', 1)");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_int_equal(route(fx, "SELECT 1"), 0);

    snprintf(sql, sizeof(sql), "ROLLBACK MYSQL QUERY RULES TO VERSION %d", v1);
    assert_true(run(fx, sql));
    assert_int_equal(fx->res.kind, ADMIN_RES_OK);
    assert_int_equal(route(fx, "SELECT 1"), 1);
    /* MEMORY and runtime_* hold the old rules; the rollback is a version. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_query_rules"), "1");
    assert_string_equal(value(fx, "SELECT destination_hostgroup FROM mysql_query_rules"), "1");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_query_rules"), "1");
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL QUERY RULES", 5, 3);
    assert_string_equal(cell(fx, 2, 3), cell(fx, 0, 3));
    run_rows(fx, "DIFF MYSQL QUERY RULES", 6, 0);

    /* Errors: unknown, another module's, bad syntax, inside a transaction. */
    assert_contains(run_err(fx, "ROLLBACK MYSQL QUERY RULES TO VERSION 999", 1105, NULL),
                    "no version 999");
    snprintf(sql, sizeof(sql), "ROLLBACK MYSQL USERS TO VERSION %d", v1);
    assert_contains(run_err(fx, sql, 1105, NULL), "is of MYSQL QUERY RULES, not of MYSQL USERS");
    run_err(fx, "ROLLBACK MYSQL QUERY RULES TO VERSION x", 1064, NULL);
    run_err(fx, "ROLLBACK MYSQL QUERY RULES TO VERSION 1 NOW", 1064, NULL);
    run_err(fx, "ROLLBACK MYSQL RULES TO VERSION 1", 1064, NULL);
    run_ok(fx, "BEGIN");
    run_err(fx, "ROLLBACK MYSQL QUERY RULES TO VERSION 1", 1179, NULL);
    /* A plain ROLLBACK is still SQL's. */
    run_ok(fx, "ROLLBACK");
}

static void test_rollback_all_or_nothing(void **state)
{
    struct fixture *fx = *state;
    int v1 = newest(fx, "MYSQL SERVERS");
    struct admin_config *before;
    char sql[128];

    run_ok(fx, "INSERT INTO mysql_servers (hostgroup_id, hostname) VALUES (2, 'db3')");
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    run_ok(fx, "UPDATE mysql_users SET default_hostgroup = 2");
    assert_true(run(fx, "LOAD MYSQL USERS TO RUNTIME"));
    before = fx->runtime;
    /* Version v1 has no hostgroup 2, which app's default needs. */
    snprintf(sql, sizeof(sql), "ROLLBACK MYSQL SERVERS TO VERSION %d", v1);
    assert_contains(run_err(fx, sql, 1105, NULL), "hostgroup");
    assert_null(fx->res.new_runtime);
    assert_ptr_equal(fx->runtime, before);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM mysql_servers"), "3");
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_servers"), "3");
    run_rows(fx, "SHOW CONFIG VERSIONS FOR MYSQL SERVERS", 5, 2);

    /* Variables: the restored rows and the defaults of the others. */
    int vv = newest(fx, "MYSQL VARIABLES");
    run_ok(fx, "UPDATE global_variables SET variable_value = '7' WHERE variable_name ="
               " 'mysql-threads'");
    assert_true(run(fx, "LOAD MYSQL VARIABLES TO RUNTIME"));
    assert_int_equal(fx->runtime->threads, 7);
    snprintf(sql, sizeof(sql), "rollback mysql variables to version %d", vv);
    assert_true(run(fx, sql));
    assert_int_not_equal(fx->runtime->threads, 7);
    assert_string_not_equal(
        value(fx, "SELECT variable_value FROM global_variables WHERE variable_name ="
                  " 'mysql-threads'"),
        "7");
}

static void test_diff(void **state)
{
    struct fixture *fx = *state;
    char sql[128];
    int v1 = newest(fx, "MYSQL QUERY RULES");

    run_rows(fx, "DIFF MYSQL QUERY RULES", 6, 0);
    assert_string_equal(fx->res.col_names[0], "change");
    assert_string_equal(fx->res.col_names[5], "value_b");
    run_ok(fx, "UPDATE mysql_query_rules SET destination_hostgroup = 0, comment = 'c'");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest) VALUES (2, 1, 'x')");

    /* MEMORY against RUNTIME: two columns changed, one row MEMORY only. */
    run_rows(fx, "DIFF MYSQL QUERY RULES", 6, 3);
    for (size_t r = 0; r < 3; r++) {
        const char *col = cell(fx, r, 3);

        assert_string_equal(cell(fx, r, 1), "mysql_query_rules");
        if (strcmp(cell(fx, r, 0), "layer_a_only") == 0) {
            assert_string_equal(cell(fx, r, 2), "rule_id=2");
            assert_null(col);
            assert_contains(cell(fx, r, 4), "\"match_digest\":\"x\"");
            assert_null(cell(fx, r, 5));
        } else {
            assert_string_equal(cell(fx, r, 0), "changed");
            assert_string_equal(cell(fx, r, 2), "rule_id=1");
            assert_non_null(col);
            if (strcmp(col, "destination_hostgroup") == 0) {
                assert_string_equal(cell(fx, r, 4), "0");
                assert_string_equal(cell(fx, r, 5), "1");
            } else {
                assert_string_equal(col, "comment");
                assert_string_equal(cell(fx, r, 4), "c");
                assert_null(cell(fx, r, 5)); /* NULL against a value is a change */
            }
        }
    }
    /* The other way round, and against DISK and a version. */
    run_rows(fx, "DIFF MYSQL QUERY RULES RUNTIME MEMORY", 6, 3);
    assert_int_equal(strcmp(cell(fx, 0, 0), "layer_a_only") != 0, 1);
    run_rows(fx, "DIFF MYSQL QUERY RULES MEM DISK", 6, 3);
    snprintf(sql, sizeof(sql), "DIFF MYSQL QUERY RULES VERSION %d MEMORY", v1);
    run_rows(fx, sql, 6, 3);
    snprintf(sql, sizeof(sql), "DIFF MYSQL QUERY RULES VERSION %d RUNTIME", v1);
    run_rows(fx, sql, 6, 0);
    run_rows(fx, "DIFF MYSQL QUERY RULES DISK RUNTIME", 6, 0);

    /* Keys of several columns; servers and users. */
    run_ok(fx, "UPDATE mysql_servers SET weight = 5 WHERE hostname = 'db2'");
    run_ok(fx, "DELETE FROM mysql_servers WHERE hostname = 'db1'");
    run_rows(fx, "DIFF MYSQL SERVERS", 6, 2);
    assert_string_equal(cell(fx, 0, 0), "layer_b_only");
    assert_string_equal(cell(fx, 0, 2), "hostgroup_id=0,hostname=db1,port=3306");
    assert_string_equal(cell(fx, 1, 3), "weight");
    run_rows(fx, "DIFF MYSQL USERS", 6, 0);
    run_rows(fx, "DIFF ADMIN VARIABLES MEMORY DISK", 6, 0);

    run_err(fx, "DIFF MYSQL SERVERS MEMORY VERSION 999", 1105, NULL);
    snprintf(sql, sizeof(sql), "DIFF MYSQL USERS VERSION %d", v1);
    assert_contains(run_err(fx, sql, 1105, NULL), "no version");
    run_err(fx, "DIFF MYSQL SERVERS MEMORY LATER", 1064, NULL);
    run_err(fx, "DIFF MYSQL SERVERS MEMORY RUNTIME DISK", 1064, NULL);
    run_err(fx, "DIFF", 1064, NULL);
}

static void test_rule_tests(void **state)
{
    struct fixture *fx = *state;
    struct admin_config *before;

    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, username, query, expected_hostgroup)"
               " VALUES (1, 'app', 'SELECT 1', 1), (2, 'app', 'UPDATE t SET a = 1', 0),"
               " (3, 'app', 'DELETE FROM t', NULL)");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_int_equal(fx->res.n_warnings, 0);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM runtime_mysql_query_rules_tests"), "3");

    /* A change that breaks test 1 is refused and changes nothing. */
    run_ok(fx, "UPDATE mysql_query_rules SET destination_hostgroup = 0");
    before = fx->runtime;
    const char *msg = run_err(fx, "LOAD MYSQL QUERY RULES TO RUNTIME", 1105, NULL);
    assert_contains(msg, "refused: 1 of 3 rule tests failed");
    assert_contains(msg, "test 1 (SELECT 1): expected hostgroup 1, got 0");
    assert_contains(msg, "FORCE");
    assert_null(fx->res.new_runtime);
    assert_ptr_equal(fx->runtime, before);
    assert_int_equal(fx->res.n_warnings, 1);
    assert_true(has_warning(fx, "rule test 1 failed"));
    assert_int_equal(route(fx, "SELECT 1"), 1);
    assert_string_equal(value(fx, "SELECT destination_hostgroup FROM runtime_mysql_query_rules"),
                        "1");

    /* FORCE loads it and reports the failure as a warning. */
    assert_true(run(fx, "load mysql query rules to runtime force"));
    assert_int_equal(fx->res.kind, ADMIN_RES_OK);
    assert_int_equal(fx->res.n_warnings, 1);
    assert_int_equal(fx->res.warnings[0].code, 1105);
    assert_contains(fx->res.warnings[0].msg, "expected hostgroup 1, got 0");
    assert_int_equal(route(fx, "SELECT 1"), 0);
    run_err(fx, "SAVE MYSQL QUERY RULES TO DISK FORCE", 1064, NULL);

    /* Errors expected or not, inactive tests, unknown users, schemas. */
    run_ok(fx, "DELETE FROM mysql_query_rules_tests");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, error_msg, apply)"
               " VALUES (2, 1, '^DROP', 'drops are not allowed', 1)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, schemaname, match_digest,"
               " destination_hostgroup, apply) VALUES (0, 1, 'reports', '^INSERT', 1, 1)");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, query, expected_error)"
               " VALUES (10, 'DROP TABLE t', 'not allowed')");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, active, query, expected_hostgroup)"
               " VALUES (11, 0, 'SELECT 1', 5)");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, username, schemaname, query,"
               " expected_hostgroup) VALUES (12, 'app', 'reports', 'INSERT INTO t VALUES (1)', 1)");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, query) VALUES (13, 'DROP TABLE t')");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, query, expected_error)"
               " VALUES (14, 'SELECT 2', 'denied')");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, username, query)"
               " VALUES (15, 'nobody', 'SELECT 3')");
    run_ok(fx, "INSERT INTO mysql_query_rules_tests (test_id, username, query,"
               " expected_hostgroup) VALUES (16, 'app', 'INSERT INTO t VALUES (1)', 1)");
    msg = run_err(fx, "LOAD MYSQL QUERY RULES TO RUNTIME", 1105, NULL);
    assert_contains(msg, "4 of 6 rule tests failed");
    assert_true(has_warning(fx, "rule test 13 failed (DROP TABLE t): expected no error, got "
                                "error 'drops are not allowed'"));
    assert_true(has_warning(fx, "rule test 14 failed (SELECT 2): expected an error containing "
                                "'denied', got no error"));
    assert_true(has_warning(fx, "rule test 15 failed (SELECT 3): user 'nobody' is not in"));
    assert_true(has_warning(fx, "rule test 16 failed"));

    /* The tests belong to the rules module: saved to DISK with it. */
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_query_rules_tests"), "0");
    assert_int_equal(run_ok(fx, "SAVE MYSQL QUERY RULES TO DISK"), 10);
    assert_string_equal(value(fx, "SELECT COUNT(*) FROM disk.mysql_query_rules_tests"), "7");
}

static void test_lint(void **state)
{
    struct fixture *fx = *state;

    /* No server in hostgroup 7; rule 3 is shadowed by rule 1; a rewrite
     * without a pattern. Not shadowed: rule 6, since rule 5 only takes user
     * app, and rule 9, since rule 8 sets its flagIN after rule 1 (and rule 4
     * rewrites the text rule 1 looked at). */
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup, apply) VALUES (2, 1, '^UPDATE', 7, 1)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup, apply) VALUES (3, 1, '^SELECT', 0, 1)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_pattern, replace_pattern)"
               " VALUES (4, 1, '', 'x')");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, username, match_digest,"
               " apply) VALUES (5, 1, 'app', '^INSERT', 1)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, apply)"
               " VALUES (6, 1, '^INSERT', 0)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, apply, flagOUT)"
               " VALUES (8, 1, 0, 0)");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup, apply) VALUES (9, 1, '^SELECT', 0, 1)");
    /* A firewall rule stops evaluation too: rule 11 is shadowed by rule 10. */
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest, error_msg)"
               " VALUES (10, 1, '^DROP', 'no')");
    run_ok(fx, "INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup) VALUES (11, 1, '^DROP', 0)");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_int_equal(fx->res.kind, ADMIN_RES_OK);
    assert_int_equal(fx->res.n_warnings, 4);
    assert_true(has_warning(fx, "rule 11 can never match: rule 10 (error_msg)"));
    assert_true(has_warning(fx, "rule 2: destination_hostgroup 7 has no server"));
    assert_true(has_warning(fx, "rule 3 can never match: rule 1 (apply=1)"));
    assert_true(has_warning(fx, "rule 4: replace_pattern without match_pattern"));

    /* SHOW WARNINGS: admin_execute() has no session, the caller's copy does. */
    struct admin_result shown = {0};
    assert_int_equal(admin_warnings_result(fx->res.warnings, fx->res.n_warnings, &shown), 0);
    assert_int_equal(shown.kind, ADMIN_RES_ROWS);
    assert_int_equal(shown.ncols, 3);
    assert_int_equal(shown.nrows, 4);
    assert_string_equal(shown.col_names[0], "Level");
    assert_string_equal(shown.rows[0][0], "Warning");
    assert_string_equal(shown.rows[0][1], "1105");
    assert_contains(shown.rows[0][2], "rule 2");
    admin_result_free(&shown);
    run_rows(fx, "SHOW WARNINGS", 3, 0);
    /* In one string, SHOW WARNINGS sees the statement before it, and keeps
     * them as the string's warnings. */
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME; SHOW WARNINGS"));
    run_rows(fx, "LOAD MYSQL QUERY RULES TO RUNTIME; SHOW WARNINGS", 3, 4);
    assert_contains(cell(fx, 3, 2), "rule 11 can never match");
    assert_int_equal(fx->res.n_warnings, 4);
    run_rows(fx, "SELECT 1; SHOW WARNINGS", 3, 0);
    assert_true(admin_is_show_warnings("show  warnings ;", 16));
    assert_true(admin_is_show_warnings(" SHOW WARNINGS", 14));
    assert_false(admin_is_show_warnings("SHOW WARNINGS LIMIT 1", 21));
    assert_false(admin_is_show_warnings("SHOW WARNINGSX", 14));
    /* A later statement has its own (no) warnings. */
    run_ok(fx, "SELECT 1; DELETE FROM mysql_query_rules WHERE rule_id IN (2, 3, 4)");
    assert_int_equal(fx->res.n_warnings, 0);

    /* LOAD MYSQL SERVERS warns about the runtime rules of a hostgroup it
     * empties; a replication pair with a server counts as served. */
    run_ok(fx, "DELETE FROM mysql_servers WHERE hostgroup_id = 1");
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    assert_int_equal(fx->res.n_warnings, 2);
    assert_true(has_warning(fx, "rule 1: destination_hostgroup 1 has no server"));
    assert_true(has_warning(fx, "rule 2: destination_hostgroup 7"));
    run_ok(fx, "INSERT INTO mysql_replication_hostgroups (writer_hostgroup, reader_hostgroup)"
               " VALUES (0, 1)");
    assert_true(run(fx, "LOAD MYSQL SERVERS TO RUNTIME"));
    assert_int_equal(fx->res.n_warnings, 1);
    /* Users load without lint. */
    assert_true(run(fx, "LOAD MYSQL USERS TO RUNTIME"));
    assert_int_equal(fx->res.n_warnings, 0);
}

static void test_warnings_bounded(void **state)
{
    struct fixture *fx = *state;

    /* 70 rules to a hostgroup without servers: 70 counted, 64 kept. */
    run_ok(fx, "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 169)"
               " INSERT INTO mysql_query_rules (rule_id, active, match_digest,"
               " destination_hostgroup) SELECT i, 1, 'x' || i, 9 FROM n");
    assert_true(run(fx, "LOAD MYSQL QUERY RULES TO RUNTIME"));
    assert_int_equal(fx->res.n_warnings, 70);
    assert_contains(fx->res.warnings[ADMIN_MAX_WARNINGS - 1].msg, "rule 163");
}

static int setup(void **state)
{
    return fixture_setup_started(state, "admin_versions", fixture_fleet);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_recorded, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_versions_read_only_and_saved, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_versions_pruned, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_all_or_nothing, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_diff, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_rule_tests, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lint, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_warnings_bounded, setup, fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for stats/commands.c (stats_mysql_commands_counters): the type
 * a statement is counted under, by ProxySQL's names (table-driven:
 * statement -> type), the latency bucket of a duration, and
 * proxy/processlist.c's cut of the statement shown in the info column.
 */
#include "proxy/proxy_int.h"

#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

static const struct {
    const char *sql;
    const char *type;
} cases[] = {
    {"SELECT 1", "SELECT"},
    {"  select * from t", "SELECT"},
    {"/* app=web */ SELECT 1", "SELECT"},
    {"-- note\nSELECT 1", "SELECT"},
    {"# note\n SELECT 1", "SELECT"},
    {"(SELECT 1) UNION (SELECT 2)", "SELECT"},
    {"WITH c AS (SELECT 1) SELECT * FROM c", "SELECT"},
    {"SELECT * FROM t WHERE id = 1 FOR UPDATE", "SELECT_FOR_UPDATE"},
    {"select id from t for  update ;\n", "SELECT_FOR_UPDATE"},
    {"SELECT * FROM t WHERE x = 'FOR UPDATE' LIMIT 1", "SELECT"},
    {"SELECT forupdate FROM t", "SELECT"},
    {"SELECTED", "UNKNOWN"},
    {"INSERT INTO t VALUES (1)", "INSERT"},
    {"insert ignore into t values (1)", "INSERT"},
    {"UPDATE t SET v = 1", "UPDATE"},
    {"DELETE FROM t", "DELETE"},
    {"REPLACE INTO t VALUES (1)", "REPLACE"},
    {"SET autocommit = 0", "SET"},
    {"SET NAMES utf8mb4", "SET"},
    {"BEGIN", "BEGIN"},
    {"begin work", "BEGIN"},
    {"START TRANSACTION READ ONLY", "START_TRANSACTION"},
    {"START SLAVE", "UNKNOWN"},
    {"COMMIT", "COMMIT"},
    {"ROLLBACK", "ROLLBACK"},
    {"ROLLBACK TO SAVEPOINT a", "ROLLBACK"},
    {"SAVEPOINT a", "SAVEPOINT"},
    {"SHOW TABLES", "SHOW"},
    {"SHOW TABLE STATUS LIKE 't'", "SHOW_TABLE_STATUS"},
    {"show full processlist", "SHOW"},
    {"USE app", "USE"},
    {"CREATE TABLE t (id INT)", "CREATE_TABLE"},
    {"CREATE TEMPORARY TABLE t (id INT)", "CREATE_TEMPORARY"},
    {"CREATE DATABASE d", "CREATE_DATABASE"},
    {"CREATE SCHEMA d", "CREATE_DATABASE"},
    {"CREATE UNIQUE INDEX i ON t (id)", "CREATE_INDEX"},
    {"CREATE INDEX i ON t (id)", "CREATE_INDEX"},
    {"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @x = 1", "CREATE_TRIGGER"},
    {"CREATE USER 'u'@'%'", "CREATE_USER"},
    {"CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE_VIEW"},
    {"CREATE VIEW v AS SELECT 1", "CREATE_VIEW"},
    {"CREATE PROCEDURE p() SELECT 1", "UNKNOWN"},
    {"DROP TABLE t", "DROP_TABLE"},
    {"DROP TEMPORARY TABLE IF EXISTS t", "DROP_TABLE"},
    {"DROP DATABASE d", "DROP_DATABASE"},
    {"DROP INDEX i ON t", "DROP_INDEX"},
    {"DROP TRIGGER tr", "DROP_TRIGGER"},
    {"DROP USER u", "DROP_USER"},
    {"DROP VIEW v", "DROP_VIEW"},
    {"ALTER TABLE t ADD COLUMN c INT", "ALTER_TABLE"},
    {"ALTER VIEW v AS SELECT 2", "ALTER_VIEW"},
    {"ALTER USER u IDENTIFIED BY 'x'", "UNKNOWN"},
    {"TRUNCATE TABLE t", "TRUNCATE_TABLE"},
    {"TRUNCATE t", "TRUNCATE_TABLE"},
    {"RENAME TABLE a TO b", "RENAME_TABLE"},
    {"LOCK TABLES t WRITE", "LOCK_TABLE"},
    {"UNLOCK TABLES", "UNLOCK_TABLES"},
    {"DESCRIBE t", "DESCRIBE"},
    {"DESC t", "DESCRIBE"},
    {"EXPLAIN SELECT 1", "EXPLAIN"},
    {"ANALYZE TABLE t", "ANALYZE_TABLE"},
    {"OPTIMIZE TABLE t", "OPTIMIZE"},
    {"CALL p()", "CALL"},
    {"PREPARE s FROM 'SELECT 1'", "PREPARE"},
    {"EXECUTE s", "EXECUTE"},
    {"DEALLOCATE PREPARE s", "DEALLOCATE"},
    {"GRANT SELECT ON *.* TO u", "GRANT"},
    {"REVOKE SELECT ON *.* FROM u", "REVOKE"},
    {"FLUSH PRIVILEGES", "FLUSH"},
    {"KILL 12", "KILL"},
    {"LOAD DATA LOCAL INFILE 'f' INTO TABLE t", "LOAD"},
    {"PURGE BINARY LOGS BEFORE NOW()", "PURGE"},
    {"CHANGE MASTER TO MASTER_HOST='h'", "CHANGE_MASTER"},
    {"RESET MASTER", "RESET_MASTER"},
    {"RESET SLAVE ALL", "RESET_SLAVE"},
    {"RESET QUERY CACHE", "UNKNOWN"},
    {"DO SLEEP(1)", "UNKNOWN"},
    {"SELEKT 1", "UNKNOWN"},
    {"", "UNKNOWN"},
    {"   ", "UNKNOWN"},
    {"/* never closed", "UNKNOWN"},
    {"-- only a comment", "UNKNOWN"},
};

static void test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int t = stats_cmd_classify(cases[i].sql, strlen(cases[i].sql));
        if (strcmp(stats_cmd_name(t), cases[i].type) != 0)
            fail_msg("'%s': got %s, want %s", cases[i].sql, stats_cmd_name(t), cases[i].type);
    }
}

/* The text is (ptr, len): bytes past len are not looked at. */
static void test_classify_respects_length(void **state)
{
    (void)state;
    const char *q = "SELECT 1 FOR UPDATE";
    assert_string_equal(stats_cmd_name(stats_cmd_classify(q, 8)), "SELECT");
    assert_string_equal(stats_cmd_name(stats_cmd_classify("SELECTX", 6)), "SELECT");
    assert_string_equal(stats_cmd_name(stats_cmd_classify("DESCRIBE", 4)), "DESCRIBE");
}

static void test_every_type_has_a_distinct_name(void **state)
{
    (void)state;
    for (int a = 0; a < STATS_CMD_TYPES; a++)
        for (int b = a + 1; b < STATS_CMD_TYPES; b++)
            assert_string_not_equal(stats_cmd_name(a), stats_cmd_name(b));
    assert_string_equal(stats_cmd_name(STATS_CMD_TYPES - 1), "UNKNOWN");
    assert_string_equal(stats_cmd_name(-1), "UNKNOWN");
    assert_string_equal(stats_cmd_name(STATS_CMD_TYPES), "UNKNOWN");
}

static void test_buckets(void **state)
{
    (void)state;
    static const struct {
        uint64_t us;
        int bucket;
    } b[] = {
        {0, 0},       {100, 0},       {101, 1},       {500, 1},         {501, 2},
        {1000, 2},    {1001, 3},      {5000, 3},      {10000, 4},       {10001, 5},
        {50000, 5},   {100000, 6},    {500000, 7},    {999999, 8},      {1000000, 8},
        {5000000, 9}, {10000000, 10}, {10000001, 11}, {UINT64_MAX, 11},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        if (stats_cmd_bucket(b[i].us) != b[i].bucket)
            fail_msg("%llu us: bucket %d, want %d", (unsigned long long)b[i].us,
                     stats_cmd_bucket(b[i].us), b[i].bucket);
    /* Bounds ascend; the last bucket has none. */
    for (int i = 1; i < ADMIN_CMD_BUCKETS - 1; i++)
        assert_true(stats_cmd_bucket_bound_us(i) > stats_cmd_bucket_bound_us(i - 1));
    assert_int_equal(stats_cmd_bucket_bound_us(ADMIN_CMD_BUCKETS - 1), 0);
    assert_int_equal(stats_cmd_bucket_bound_us(0), 100);
}

static void test_info_cut(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(processlist_info("SELECT 1", 8, out, sizeof(out)), 7);
    assert_string_equal(out, "SELECT ");
    assert_int_equal(processlist_info("SEL", 3, out, sizeof(out)), 3);
    assert_string_equal(out, "SEL");
    /* "SELECT \xc3\xa9": the cut falls after the first byte of a two-byte
     * character, which goes whole. */
    assert_int_equal(processlist_info("SELECT\xc3\xa9", 8, out, sizeof(out)), 6);
    assert_string_equal(out, "SELECT");
    /* A three-byte character ending at the cut stays. */
    assert_int_equal(processlist_info("ab\xe2\x82\xac", 5, out, 6), 5);
    assert_string_equal(out, "ab\xe2\x82\xac");
    assert_int_equal(processlist_info("abcd\xe2\x82\xac", 7, out, 7), 4);
    assert_string_equal(out, "abcd");
    /* An empty statement. */
    assert_int_equal(processlist_info("", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_respects_length),
        cmocka_unit_test(test_every_type_has_a_distinct_name),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_info_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the router's statement scanner and decision. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "router/router.h"

#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct flag_case {
    const char *sql;
    unsigned flags;
};

static const struct flag_case flag_cases[] = {
    {"SELECT 1", 0},
    {"SELECT GET_LOCK('a', 10)", ROUTER_STMT_NAMED_LOCK},
    {"select get_lock ('a', 10)", ROUTER_STMT_NAMED_LOCK},
    {"SELECT 'GET_LOCK(x)'", 0},
    {"SELECT /* GET_LOCK( */ 1", 0},
    {"SELECT my_get_lock(1)", 0},
    {"LOCK TABLES t1 READ", ROUTER_STMT_LOCK_TABLES},
    {"lock table t1 write", ROUTER_STMT_LOCK_TABLES},
    {"/* hint */ LOCK TABLES t1 READ", ROUTER_STMT_LOCK_TABLES},
    {"UNLOCK TABLES", ROUTER_STMT_UNLOCK_TABLES},
    {"SELECT * FROM locks", 0},
    {"SHOW WARNINGS", ROUTER_STMT_ASKS_PREVIOUS},
    {"show count(*) warnings", ROUTER_STMT_ASKS_PREVIOUS},
    {"SHOW ERRORS", ROUTER_STMT_ASKS_PREVIOUS},
    {"SHOW TABLES", 0},
    {"SELECT @@warning_count", ROUTER_STMT_ASKS_PREVIOUS},
    {"SELECT FOUND_ROWS()", ROUTER_STMT_ASKS_PREVIOUS},
    {"SELECT \"found_rows\"", 0},
    {"-- comment\nSELECT 1", 0},
    {"# GET_LOCK(\nSELECT 1", 0},
    {"SELECT LAST_INSERT_ID()", ROUTER_STMT_LAST_INSERT_ID},
    {"select last_insert_id ( )", ROUTER_STMT_LAST_INSERT_ID},
    {"SELECT @@identity", ROUTER_STMT_LAST_INSERT_ID},
    {"SELECT 'LAST_INSERT_ID()'", 0},
    {"SELECT my_last_insert_id()", 0},
};

static void test_stmt_flags_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
        unsigned got = router_stmt_flags(flag_cases[i].sql, strlen(flag_cases[i].sql));
        if (got != flag_cases[i].flags)
            fail_msg("%s: got 0x%x, want 0x%x", flag_cases[i].sql, got, flag_cases[i].flags);
    }
}

static void test_classify_default_hostgroup(void **state)
{
    (void)state;
    struct router_facts facts = {.user = "app", .schema = "app", .default_hostgroup = 7};
    struct router_decision d;
    const char *sql = "SELECT GET_LOCK('x', 1)";
    assert_int_equal(router_classify(NULL, NULL, &facts, sql, strlen(sql), &d), 0);
    assert_int_equal(d.hostgroup, 7);
    assert_int_equal(d.stmt_flags, ROUTER_STMT_NAMED_LOCK);
}

static void test_unterminated_input_is_bounded(void **state)
{
    (void)state;
    const char *cases[] = {"SELECT 'abc", "SELECT /* abc", "SELECT \"a\\", "GET_LOCK", "`"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(router_stmt_flags(cases[i], strlen(cases[i])), 0);
}

static void test_stmt_is_read(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        bool read;
    } cases[] = {
        {"SELECT 1", true},
        {"  /* c */ select id FROM t WHERE a = 'for update'", true},
        {"SHOW TABLES", true},
        {"SELECT @@port, @@server_id", true},
        {"SELECT * FROM t FOR UPDATE", false},
        {"SELECT * FROM t LOCK IN SHARE MODE", false},
        {"SELECT 1 INTO @x", false},
        {"SELECT NEXTVAL(s)", false},
        {"SELECT SLEEP(1)", false},
        {"SELECT GET_LOCK('a', 1)", false},
        {"SELECT LAST_INSERT_ID()", false},
        {"SHOW WARNINGS", false},
        {"INSERT INTO t VALUES (1)", false},
        {"UPDATE t SET a = 1", false},
        {"/*!50000 INSERT */ SELECT 1", false},
        {"", false},
        {"SELECT 'abc", true},
        {"SELECT 1;", true},
        {"SELECT 1; DELETE FROM t", false},
        {"SELECT ';' FROM t", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (router_stmt_is_read(cases[i].sql, strlen(cases[i].sql)) != cases[i].read)
            fail_msg("%s: want %d", cases[i].sql, cases[i].read);
}

/* Only the client's own LOAD DATA/XML LOCAL may be answered with a file. */
static void test_stmt_loads_local_file(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        bool local;
    } cases[] = {
        {"LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t", true},
        {"load data low_priority local infile 'x' into table t", true},
        {"/* bulk */ LOAD XML CONCURRENT LOCAL INFILE 'x' INTO TABLE t", true},
        {"SELECT 1; LOAD DATA LOCAL INFILE 'x' INTO TABLE t", true},
        {"LOAD DATA INFILE '/tmp/x' INTO TABLE t", false},
        {"SELECT 'LOAD DATA LOCAL INFILE'", false},
        {"SELECT 1 /* LOAD DATA LOCAL */", false},
        {"SELECT load, data, local FROM t", false},
        {"INSERT INTO t VALUES ('local')", false},
        {"", false},
        {"LOAD DATA", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (router_stmt_loads_local_file(cases[i].sql, strlen(cases[i].sql)) != cases[i].local)
            fail_msg("%s: want %d", cases[i].sql, cases[i].local);
}

/* START TRANSACTION READ ONLY goes where reads go. */
static void test_read_only_start(void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        bool ro;
    } cases[] = {
        {"START TRANSACTION READ ONLY", true},
        {"start transaction read only;", true},
        {"  START\n TRANSACTION   READ\tONLY ; ", true},
        {"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", true},
        {"START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT", true},
        {"START TRANSACTION", false},
        {"START TRANSACTION READ WRITE", false},
        {"START TRANSACTION READ ONLY, READ WRITE", false},
        {"START TRANSACTION READ ONLY; DELETE FROM t", false},
        {"START TRANSACTION READ ONLYX", false},
        {"BEGIN", false},
        {"SET TRANSACTION READ ONLY", false},
        {"START TRANSACTIONS READ ONLY", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = router_stmt_read_only_txn(cases[i].sql, strlen(cases[i].sql));
        if (got != cases[i].ro)
            fail_msg("'%s': expected %d", cases[i].sql, cases[i].ro);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stmt_flags_table),
        cmocka_unit_test(test_classify_default_hostgroup),
        cmocka_unit_test(test_unterminated_input_is_bounded),
        cmocka_unit_test(test_stmt_is_read),
        cmocka_unit_test(test_stmt_loads_local_file),
        cmocka_unit_test(test_read_only_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

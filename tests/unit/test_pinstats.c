/*
 * Unit tests for proxy/pinstats.c's classification of statements the server
 * flagged as changing session state: which pin reason each one is counted
 * under (stats_mysql_pin_reasons). Table-driven: statement -> reason.
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
    const char *reason;
} cases[] = {
    {"SET @x = 1", "user_variable"},
    {"set @x:=1, @@session.sql_mode = ''", "user_variable"},
    {"SELECT @a := id FROM t", "user_variable"},
    {"  /* app */ SET @`quoted` = 2", "user_variable"},
    {"CREATE TEMPORARY TABLE t (id INT)", "temporary_table"},
    {"create\n temporary table if not exists t select @x", "temporary_table"},
    {"/* c */ CREATE TEMPORARY TABLE t LIKE u", "temporary_table"},
    {"PREPARE s FROM 'SELECT ?'", "sql_prepare"},
    {"PREPARE s FROM @sql", "sql_prepare"},
    {"EXECUTE s USING @x", "sql_prepare"},
    {"DEALLOCATE PREPARE s", "sql_prepare"},
    /* '@' inside quotes or in @@system variables is not a user variable. */
    {"SELECT 'user@host'", "session_state"},
    {"SELECT `a@b` FROM t", "session_state"},
    {"SET @@session.wait_timeout = 10", "session_state"},
    {"CREATE TABLE temporary_x (id INT)", "session_state"},
    {"PREPAREX", "session_state"},
    {"", "session_state"},
    {"/* unterminated", "session_state"},
};

static void test_state_reasons(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum pin_reason r = pinstats_state_reason(cases[i].sql, strlen(cases[i].sql));
        if (strcmp(pinstats_reason_name(r), cases[i].reason) != 0)
            fail_msg("%s: got %s, want %s", cases[i].sql, pinstats_reason_name(r), cases[i].reason);
    }
}

static void test_reason_names(void **state)
{
    (void)state;
    for (int r = 0; r < PR_N; r++)
        assert_string_not_equal(pinstats_reason_name(r), "?");
    assert_string_equal(pinstats_reason_name(PR_N), "?");
    assert_string_equal(pinstats_reason_name(-1), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_reasons),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

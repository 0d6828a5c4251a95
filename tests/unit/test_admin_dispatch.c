/*
 * Unit tests for the admin command dispatch (admin/exec.c): how a statement
 * is delimited and cut into words (admin_stmt_split) and how the command
 * table's patterns match it (admin_stmt_match). Tables of cases, no store:
 * test_admin_exec.c runs the commands themselves.
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <string.h>

/* cmocka.h needs these first; keep clang-format from sorting it above them. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

struct split_case {
    const char *sql;
    const char *stmt; /* the statement as delimited */
    size_t nwords;
    bool overflow;
};

static const struct split_case split_cases[] = {
    {"SHOW TABLES; SELECT 1", "SHOW TABLES", 2, false},
    {"SHOW  TABLES\n", "SHOW  TABLES\n", 2, false},
    {"SELECT 'a;b'; x", "SELECT 'a;b'", 2, false},
    {"SELECT \"a;b\" ;", "SELECT \"a;b\" ", 2, false},
    {"SELECT `a;b`", "SELECT `a;b`", 2, false},
    {"SELECT 'it''s;' AS x; y", "SELECT 'it''s;' AS x", 4, false},
    {"SELECT 1 /* ; */ -- ;\n; x", "SELECT 1 /* ; */ -- ;\n", 7, false},
    /* SQLite has no backslash escapes: the literal ends at the second quote. */
    {"SELECT 'a\\';b'", "SELECT 'a\\'", 2, false},
    /* EXPLAIN QUERY RULES's query is a MySQL literal: \' stays inside. */
    {"EXPLAIN QUERY RULES FOR 'a\\';b'; x", "EXPLAIN QUERY RULES FOR 'a\\';b'", 5, false},
    {"explain  query rules for 'a\\';b'", "explain  query rules for 'a\\';b'", 5, false},
    {"a b c d e f g h i j k l", "a b c d e f g h i j k l", 12, false},
    {"a b c d e f g h i j k l m", "a b c d e f g h i j k l m", 12, true},
    {"SELECT 'unterminated;", "SELECT 'unterminated;", 2, false},
};

static void test_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const struct split_case *c = &split_cases[i];
        struct admin_stmt st;
        char msg[160];

        snprintf(msg, sizeof(msg), "case %zu: %s", i, c->sql);
        admin_stmt_split(c->sql, &st);
        if ((size_t)(st.end - st.start) != strlen(c->stmt) ||
            memcmp(st.start, c->stmt, strlen(c->stmt)) != 0 || st.n != c->nwords ||
            st.overflow != c->overflow)
            fail_msg("%s: got '%.*s', %zu words%s", msg, (int)(st.end - st.start), st.start, st.n,
                     st.overflow ? ", overflow" : "");
    }
}

struct match_case {
    const char *sql;
    const char *pattern;
    bool match;
    const char *arg0; /* the first "?" word, or NULL for none */
    const char *rest; /* what "X*" captured, or NULL for nothing */
};

static const struct match_case match_cases[] = {
    {"SHOW TABLES", "SHOW TABLES", true, NULL, NULL},
    {"show\ttables", "SHOW TABLES", true, NULL, NULL},
    {"SHOW TABLES FROM disk", "SHOW TABLES", false, NULL, NULL},
    {"SHOW TABLE", "SHOW TABLES", false, NULL, NULL},
    {"SHOW TABLES FROM disk", "SHOW TABLES FROM ?", true, "disk", NULL},
    {"SHOW TABLES FROM", "SHOW TABLES FROM ?", false, NULL, NULL},
    {"USE `main`", "USE ?", true, "`main`", NULL},
    {"USE main extra", "USE ?", false, NULL, NULL},
    {"SET NAMES utf8mb4", "SET *", true, NULL, "NAMES utf8mb4"},
    {"SET", "SET *", true, NULL, NULL},
    {"SETTLE x", "SET *", false, NULL, NULL},
    {"SELECT @@version_comment LIMIT 1", "SELECT @@*", true, NULL, "@@version_comment LIMIT 1"},
    {"select @@a,@@b", "SELECT @@*", true, NULL, "@@a,@@b"},
    {"SELECT 1", "SELECT @@*", false, NULL, NULL},
    {"ROLLBACK MYSQL USERS TO VERSION 3", "ROLLBACK MYSQL*", true, NULL,
     "MYSQL USERS TO VERSION 3"},
    {"ROLLBACK", "ROLLBACK MYSQL*", false, NULL, NULL},
    {"LOAD MYSQL USERS TO RUNTIME", "LOAD MYSQL USERS TO RUNTIME", true, NULL, NULL},
    {"load mysql users to run", "LOAD MYSQL USERS TO RUNTIME", false, NULL, NULL},
    /* Past ADMIN_MAX_WORDS words only a "*" pattern can match. */
    {"a b c d e f g h i j k l", "a b c d e f g h i j k l", true, NULL, NULL},
    {"a b c d e f g h i j k l m", "a b c d e f g h i j k l", false, NULL, NULL},
    {"a b c d e f g h i j k l m", "a *", true, NULL, "b c d e f g h i j k l m"},
};

static void check_word(const char *msg, const char *what, const struct admin_word *w,
                       const char *want)
{
    if (!want) {
        if (w->p)
            fail_msg("%s: %s '%.*s', none expected", msg, what, (int)w->len, w->p);
        return;
    }
    if (!w->p || w->len != strlen(want) || memcmp(w->p, want, w->len) != 0)
        fail_msg("%s: %s '%.*s', expected '%s'", msg, what, w->p ? (int)w->len : 0,
                 w->p ? w->p : "", want);
}

static void test_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        struct admin_stmt st;
        struct admin_args a;
        char msg[160];
        bool got;

        snprintf(msg, sizeof(msg), "case %zu: '%s' ~ '%s'", i, c->sql, c->pattern);
        admin_stmt_split(c->sql, &st);
        got = admin_stmt_match(c->pattern, &st, &a);
        if (got != c->match)
            fail_msg("%s: %s", msg, got ? "matched" : "did not match");
        if (!got)
            continue;
        check_word(msg, "argument", &a.arg[0], c->arg0);
        assert_int_equal(a.n, c->arg0 ? 1 : 0);
        check_word(msg, "rest", &a.rest, c->rest);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Session variable sets (proxy/varset.c): the SET statement that replays a
 * session's tracked variables on another backend, value by value: numbers
 * bare, plain strings quoted, strings with a quote, backslash or control
 * byte as _utf8mb4 X'..' (valid under any sql_mode), removed variables back
 * to DEFAULT. No sockets. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "proxy/proxy_int.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void set(struct varset *vs, const char *name, const char *value)
{
    assert_int_equal(varset_set(vs, name, strlen(name), value, strlen(value)), 0);
}

/* The SET that turns have into want, NUL-terminated in out. */
static int diff(const struct varset *want, const struct varset *have, char *out, size_t cap)
{
    struct codec_buf sql;
    codec_buf_init(&sql);
    int n = varset_diff_sql(want, have, &sql);
    assert_true(n >= 0);
    assert_true(sql.len < cap);
    memcpy(out, sql.data ? (const char *)sql.data : "", sql.len);
    out[sql.len] = '\0';
    codec_buf_free(&sql);
    return n;
}

struct value_case {
    const char *value;
    const char *literal; /* how the SET writes it */
};

static const struct value_case values[] = {
    {"42", "42"},
    {"-1", "-1"},
    {"77.000000", "77.000000"},
    {"NULL", "NULL"},
    {"STRICT_TRANS_TABLES,NO_ZERO_DATE", "'STRICT_TRANS_TABLES,NO_ZERO_DATE'"},
    {"+03:00", "'+03:00'"},
    {"", "''"},
    {"caf\xc3\xa9", "'caf\xc3\xa9'"},
    /* A backslash would be an escape unless NO_BACKSLASH_ESCAPES, a quote
     * ends the literal: both go in hex, which no sql_mode reads otherwise. */
    {"a\\b", "_utf8mb4 X'615C62'"},
    {"it's", "_utf8mb4 X'69742773'"},
    {"a\\'b", "_utf8mb4 X'615C2762'"},
    {"\\", "_utf8mb4 X'5C'"},
    {"line\nbreak", "_utf8mb4 X'6C696E650A627265616B'"},
    {"\\N", "_utf8mb4 X'5C4E'"},
};

static void test_value_literals(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(values); i++) {
        struct varset want, have;
        char sql[256], expect[256];
        varset_init(&want);
        varset_init(&have);
        set(&want, "v", values[i].value);
        assert_int_equal(diff(&want, &have, sql, sizeof(sql)), 1);
        snprintf(expect, sizeof(expect), "SET @@session.v=%s", values[i].literal);
        if (strcmp(sql, expect) != 0)
            fail_msg("value '%s': got %s, expected %s", values[i].value, sql, expect);
        varset_free(&want);
        varset_free(&have);
    }
}

/* Only what differs is sent; a variable the backend has and the session
 * does not goes back to DEFAULT. */
/* A name with a NUL inside is refused; the set is unchanged. */
static void test_set_errors(void **state)
{
    (void)state;
    struct varset vs;
    varset_init(&vs);
    assert_int_equal(varset_set(&vs, "a\0b", 3, "1", 1), PROXY_EINVAL);
    assert_int_equal(vs.n, 0);
    assert_int_equal(varset_set(&vs, "ab", 2, "1", 1), 0);
    assert_int_equal(varset_set(&vs, "ab\0", 3, "2", 1), PROXY_EINVAL);
    assert_string_equal(varset_get(&vs, "ab"), "1");
    varset_free(&vs);
}

static void test_diff(void **state)
{
    (void)state;
    struct varset want, have;
    char sql[512];
    varset_init(&want);
    varset_init(&have);
    set(&want, "time_zone", "+03:00");
    set(&want, "sql_mode", "NO_BACKSLASH_ESCAPES");
    set(&want, "default_master_connection", "x\\y'z");
    set(&have, "time_zone", "+03:00");
    set(&have, "sql_mode", "TRADITIONAL");
    set(&have, "max_statement_time", "77.000000");
    assert_int_equal(diff(&want, &have, sql, sizeof(sql)), 3);
    assert_string_equal(sql, "SET @@session.default_master_connection=_utf8mb4 X'785C79277A', "
                             "@@session.max_statement_time=DEFAULT, "
                             "@@session.sql_mode='NO_BACKSLASH_ESCAPES'");
    assert_int_equal(varset_copy(&have, &want), 0);
    assert_true(varset_equal(&have, &want));
    assert_int_equal(diff(&want, &have, sql, sizeof(sql)), 0);
    assert_string_equal(sql, "");
    assert_string_equal(varset_get(&have, "default_master_connection"), "x\\y'z");
    varset_free(&want);
    varset_free(&have);
}

/* A handshake's collation id, as MariaDB 10.11 reads it: (id, character
 * set, collation), NULL for an id the server does not know. */
struct id_case {
    unsigned id;
    const char *charset;
    const char *collation;
};

static const struct id_case ids[] = {
    {8, "latin1", "latin1_swedish_ci"},
    {5, "latin1", "latin1_german1_ci"},
    {26, "cp1250", "cp1250_general_ci"}, /* once answered utf8mb4 */
    {7, "koi8r", "koi8r_general_ci"},
    {13, "sjis", "sjis_japanese_ci"},
    {33, "utf8mb3", "utf8mb3_general_ci"},
    {45, "utf8mb4", "utf8mb4_general_ci"},
    {63, "binary", "binary"},
    {1, "big5", "big5_chinese_ci"}, /* first of the table */
    {224, "utf8mb4", "utf8mb4_unicode_ci"},
    {608, "utf8mb4", "utf8mb4_croatian_ci"},    /* COM_CHANGE_USER only */
    {2048, "utf8mb3", "utf8mb3_uca1400_ai_ci"}, /* UCA 14.0, no SHOW COLLATION id */
    {0, NULL, NULL},                            /* none */
    {255, NULL, NULL},                          /* MySQL 8's utf8mb4_0900_ai_ci */
    {2047, NULL, NULL},                         /* a gap */
    {65535, NULL, NULL},
};

static void test_collation_ids(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(ids); i++) {
        const struct collation *c = collation_by_id(ids[i].id);
        if (!ids[i].charset) {
            assert_null(c);
            continue;
        }
        assert_non_null(c);
        assert_int_equal(c->id, ids[i].id);
        assert_string_equal(c->charset, ids[i].charset);
        assert_string_equal(c->name, ids[i].collation);
        assert_true(collation_client_ok(c));
    }
    /* The parser reads one byte per ASCII character: these are refused. */
    static const unsigned refused[] = {17, 35, 54, 56, 60, 101};
    for (size_t i = 0; i < N(refused); i++) {
        assert_non_null(collation_by_id(refused[i]));
        assert_false(collation_client_ok(collation_by_id(refused[i])));
    }
    assert_string_equal(collation_default_of("cp1250", 6), "cp1250_general_ci");
    assert_string_equal(collation_default_of("ujis", 4), "ujis_japanese_ci");
    assert_string_equal(collation_default_of("utf8mb4xx", 7), "utf8mb4_general_ci");
    assert_null(collation_default_of("utf8", 4)); /* servers report utf8mb3 */
    assert_null(collation_default_of("nosuch", 6));
}

/* The four variables a handshake id sets; an unknown id sets none, so the
 * prelude's diff sends DEFAULT (the server's own default) for each. */
static void test_set_charset(void **state)
{
    (void)state;
    struct varset vs, have;
    char sql[512];
    varset_init(&vs);
    varset_init(&have);
    assert_int_equal(varset_set_charset(&vs, 26), 0);
    assert_int_equal(vs.n, 4);
    assert_string_equal(varset_get(&vs, "character_set_client"), "cp1250");
    assert_string_equal(varset_get(&vs, "character_set_connection"), "cp1250");
    assert_string_equal(varset_get(&vs, "character_set_results"), "cp1250");
    assert_string_equal(varset_get(&vs, "collation_connection"), "cp1250_general_ci");
    assert_int_equal(varset_set_charset(&have, 45), 0);
    assert_int_equal(diff(&vs, &have, sql, sizeof(sql)), 4);
    assert_string_equal(sql, "SET @@session.character_set_client='cp1250', "
                             "@@session.character_set_connection='cp1250', "
                             "@@session.character_set_results='cp1250', "
                             "@@session.collation_connection='cp1250_general_ci'");
    varset_free(&vs);
    assert_int_equal(varset_set_charset(&vs, 255), 0);
    assert_int_equal(vs.n, 0);
    assert_int_equal(diff(&vs, &have, sql, sizeof(sql)), 4);
    assert_string_equal(sql, "SET @@session.character_set_client=DEFAULT, "
                             "@@session.character_set_connection=DEFAULT, "
                             "@@session.character_set_results=DEFAULT, "
                             "@@session.collation_connection=DEFAULT");
    varset_free(&vs);
    varset_free(&have);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_literals), cmocka_unit_test(test_diff),
        cmocka_unit_test(test_set_errors),     cmocka_unit_test(test_collation_ids),
        cmocka_unit_test(test_set_charset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

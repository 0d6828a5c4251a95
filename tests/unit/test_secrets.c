/* Masking of secrets in statement text (router/secrets.c): a table of
 * statements and what an operator may see of them, the cut at the output
 * bound, and the digests of the same statements, which must hold no
 * literal at all. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
/* clang-format on */

#include "router/router.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct mask_case {
    const char *sql;
    const char *shown;
};

static const struct mask_case cases[] = {
    /* Nothing secret: copied as it is, comments and odd bytes included. */
    {"SELECT 1, 'a' FROM t WHERE x = \"b\" -- c\n", "SELECT 1, 'a' FROM t WHERE x = \"b\" -- c\n"},
    {"INSERT INTO users (name, pw_hash) VALUES ('bob', 'x')",
     "INSERT INTO users (name, pw_hash) VALUES ('bob', 'x')"},
    {"SELECT 'caf\xc3\xa9' /* note */", "SELECT 'caf\xc3\xa9' /* note */"},
    /* Account statements. */
    {"CREATE USER 'bob'@'%' IDENTIFIED BY 'topsecret'",
     "CREATE USER 'bob'@'%' IDENTIFIED BY '***'"},
    {"create user bob identified by \"top'secret\"", "create user bob identified by '***'"},
    {"ALTER USER bob IDENTIFIED BY 'it''s \\'secret'", "ALTER USER bob IDENTIFIED BY '***'"},
    {"CREATE USER a IDENTIFIED BY 'one', b@localhost IDENTIFIED BY 'two'",
     "CREATE USER a IDENTIFIED BY '***', b@localhost IDENTIFIED BY '***'"},
    {"GRANT ALL ON *.* TO bob IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'",
     "GRANT ALL ON *.* TO bob IDENTIFIED BY PASSWORD '***'"},
    {"CREATE USER bob IDENTIFIED VIA ed25519 USING PASSWORD('topsecret')",
     "CREATE USER bob IDENTIFIED VIA ed25519 USING PASSWORD('***')"},
    {"CREATE USER bob IDENTIFIED VIA mysql_native_password USING '*2470C0C0' OR unix_socket",
     "CREATE USER bob IDENTIFIED VIA mysql_native_password USING '***' OR unix_socket"},
    {"CREATE USER bob IDENTIFIED WITH caching_sha2_password BY 'pw'",
     "CREATE USER bob IDENTIFIED WITH caching_sha2_password BY '***'"},
    {"SET PASSWORD = 'topsecret'", "SET PASSWORD = '***'"},
    {"SET PASSWORD = PASSWORD('topsecret')", "SET PASSWORD = PASSWORD('***')"},
    {"SET PASSWORD FOR 'bob'@'%' = PASSWORD('topsecret')",
     "SET PASSWORD FOR 'bob'@'%' = PASSWORD('***')"},
    {"SET PASSWORD FOR bob = 'topsecret'", "SET PASSWORD FOR bob = '***'"},
    /* Functions and other places passwords go. */
    {"SELECT SLEEP(3), PASSWORD('topsecret')", "SELECT SLEEP(3), PASSWORD('***')"},
    {"SELECT OLD_PASSWORD ( 'x' ), 'visible'", "SELECT OLD_PASSWORD ( '***' ), 'visible'"},
    {"SELECT AES_ENCRYPT(data, 'key1'), AES_DECRYPT(c, CONCAT('k', 2)) FROM t",
     "SELECT AES_ENCRYPT(data, '***'), AES_DECRYPT(c, CONCAT('***', ***)) FROM t"},
    {"CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD = 'replpw', MASTER_PORT=3306",
     "CHANGE MASTER TO MASTER_HOST='db1', MASTER_PASSWORD = '***', MASTER_PORT=3306"},
    {"CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'u', PASSWORD 'p', PORT 3306)",
     "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'u', PASSWORD '***', PORT 3306)"},
    {"UPDATE accounts SET password = 'hash', name = 'n'",
     "UPDATE accounts SET password = '***', name = 'n'"},
    {"SELECT PASSWORD(12345)", "SELECT PASSWORD(***)"},
    /* Executable comments run: read as SQL. */
    {"/*!80000 ALTER USER bob IDENTIFIED BY 'pw' */",
     "/*!80000 ALTER USER bob IDENTIFIED BY '***' */"},
    /* A statement ends its context; an unterminated secret is still masked. */
    {"ALTER USER a IDENTIFIED BY 'x'; SELECT 'shown'",
     "ALTER USER a IDENTIFIED BY '***'; SELECT 'shown'"},
    {"ALTER USER a IDENTIFIED BY 'unterminated", "ALTER USER a IDENTIFIED BY '***'"},
    {"SELECT PASSWORD('x') AS p, 'after'", "SELECT PASSWORD('***') AS p, 'after'"},
};

static void test_mask_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        char out[512];
        size_t n = router_mask_secrets(cases[i].sql, strlen(cases[i].sql), out, sizeof(out));
        if (strcmp(out, cases[i].shown) != 0 || n != strlen(out))
            fail_msg("'%s': got '%s' (%zu), expected '%s'", cases[i].sql, out, n, cases[i].shown);
    }
}

/* No statement of the table keeps a literal in its digest, secret or not. */
static void test_digests_hold_no_secret(void **state)
{
    (void)state;
    static const char *const secrets[] = {"topsecret", "replpw", "key1",  "2470C0C0", "'pw'",
                                          "'p'",       "'hash'", "'one'", "'two'"};
    for (size_t i = 0; i < N(cases); i++) {
        char d[512];
        uint64_t h;
        router_digest(cases[i].sql, strlen(cases[i].sql), d, sizeof(d), 0, &h);
        for (size_t k = 0; k < N(secrets); k++)
            if (strstr(d, secrets[k]))
                fail_msg("digest of '%s' is '%s'", cases[i].sql, d);
    }
}

/* The output bound: never a partial UTF-8 character, never a secret byte. */
static void test_cut(void **state)
{
    (void)state;
    char out[16];
    const char *q = "SELECT PASSWORD('topsecret')";
    for (size_t cap = 1; cap <= sizeof(out); cap++) {
        size_t n = router_mask_secrets(q, strlen(q), out, cap);
        assert_true(n < cap);
        assert_int_equal(strlen(out), n);
        assert_null(strstr(out, "t'"));
        assert_memory_equal(out, "SELECT PASSWORD('***')", n);
    }
    assert_int_equal(router_mask_secrets("SELECT\xc3\xa9", 8, out, 8), 6);
    assert_string_equal(out, "SELECT");
    assert_int_equal(router_mask_secrets("abcd\xe2\x82\xac", 7, out, 7), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(router_mask_secrets("ab\xe2\x82\xac", 5, out, 6), 5);
    assert_int_equal(router_mask_secrets("x", 1, NULL, 0), 0);
    assert_int_equal(router_mask_secrets("", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_table),
        cmocka_unit_test(test_digests_hold_no_secret),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

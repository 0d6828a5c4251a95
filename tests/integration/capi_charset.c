/*
 * capi_client's "charset_latin1" check: a Connector/C application that announces latin1 in
 * its handshake and sends no SET NAMES gets latin1 character sets (as on a direct
 * connection), stores 'cafe' with an e acute as the one latin1 byte E9, keeps latin1 across
 * COM_CHANGE_USER (which carries the character set again) and gets it back from
 * COM_RESET_CONNECTION after a SET NAMES.
 */
#include "capi_client.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void run(MYSQL *m, const char *sql)
{
    CHECK(mysql_query(m, sql) == 0, "'%s': %u %s", sql, mysql_errno(m), mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

/* The first column of the only row of sql, in buf. */
static void value(MYSQL *m, const char *sql, char *buf, size_t len)
{
    CHECK(mysql_query(m, sql) == 0, "'%s': %u %s", sql, mysql_errno(m), mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    CHECK(r, "'%s': no result", sql);
    MYSQL_ROW row = mysql_fetch_row(r);
    CHECK(row && row[0], "'%s': no row", sql);
    snprintf(buf, len, "%s", row[0]);
    mysql_free_result(r);
}

static void expect_latin1(MYSQL *m, const char *when)
{
    char buf[256];
    value(m,
          "SELECT CONCAT_WS(',', @@character_set_client, @@character_set_connection, "
          "@@character_set_results, @@collation_connection)",
          buf, sizeof buf);
    CHECK(strcmp(buf, "latin1,latin1,latin1,latin1_swedish_ci") == 0, "%s: %s", when, buf);
}

void check_charset_latin1(void)
{
    MYSQL *m = open_conn_charset("latin1");
    const char *user2, *pass2, *db;
    char t[64], sql[256], buf[64];
    expect_latin1(m, "after connect");
    snprintf(t, sizeof t, "capi_cs_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE TABLE %s (v VARCHAR(10) CHARACTER SET latin1)", t);
    run(m, sql);
    snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ('caf\xe9')", t);
    run(m, sql);
    snprintf(sql, sizeof sql, "SELECT CONCAT(HEX(v), v) FROM %s", t);
    value(m, sql, buf, sizeof buf);
    CHECK(strcmp(buf, "636166E9caf\xe9") == 0, "stored and read back as '%s'", buf);
    snprintf(sql, sizeof sql, "DROP TABLE %s", t);
    run(m, sql);
    capi_second_user(&user2, &pass2, &db);
    CHECK(mysql_change_user(m, user2, pass2, db) == 0, "change_user: %u %s", mysql_errno(m),
          mysql_error(m));
    expect_latin1(m, "after change_user");
    run(m, "SET NAMES utf8mb4");
    value(m, "SELECT @@character_set_client", buf, sizeof buf);
    CHECK(strcmp(buf, "utf8mb4") == 0, "after SET NAMES: %s", buf);
    CHECK(mysql_reset_connection(m) == 0, "reset_connection: %u %s", mysql_errno(m),
          mysql_error(m));
    expect_latin1(m, "after reset_connection");
    mysql_close(m);
}

/*
 * capi_client: checks what a libmysqlclient (MariaDB Connector/C) application sees through
 * Sluice, text protocol and prepared statements.
 *
 *   capi_client HOST PORT USER PASSWORD DB USER2 PASSWORD2 [CHECK...]
 *
 * Runs the named checks (all when none are named), each on a fresh connection; "session"
 * takes the arguments after it as steps of its own (capi_session.c). Prints
 * "ok CHECK" after each check that passed, and on the first failure prints
 * "FAIL CHECK: what went wrong" and exits 1. Exit 2 is a usage error. Every network call has
 * a read/write timeout, so the program cannot hang forever.
 */
#include "capi_client.h"

#include <errmsg.h>
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_host, *g_user, *g_pass, *g_db, *g_user2, *g_pass2;
static unsigned int g_port;
static const char *g_check = "?";
static char g_sfx[32];
static const char *g_charset = "utf8mb4"; /* what connections announce in the handshake */

void fail(const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: ", g_check);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

static const char *fetch_rc_name(int rc)
{
    return rc == 0                      ? "row"
           : rc == 1                    ? "error"
           : rc == MYSQL_NO_DATA        ? "MYSQL_NO_DATA"
           : rc == MYSQL_DATA_TRUNCATED ? "MYSQL_DATA_TRUNCATED"
                                        : "?";
}

static MYSQL *open_conn_as(const char *user, const char *pass, int expect_ok)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int timeout = 10, rw_timeout = 60, proto = MYSQL_PROTOCOL_TCP, local = 1;
    CHECK(m, "mysql_init failed");
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &local);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, g_charset);
    if (!mysql_real_connect(m, g_host, user, pass, g_db, g_port, NULL, CLIENT_MULTI_RESULTS)) {
        if (!expect_ok)
            return m;
        fail("connect as %s to %s:%u failed: %u (%s) %s", user, g_host, g_port, mysql_errno(m),
             mysql_sqlstate(m), mysql_error(m));
    }
    return m;
}

MYSQL *open_conn(void)
{
    return open_conn_as(g_user, g_pass, 1);
}

MYSQL *open_conn_charset(const char *charset)
{
    g_charset = charset;
    MYSQL *m = open_conn_as(g_user, g_pass, 1);
    g_charset = "utf8mb4";
    return m;
}

void capi_second_user(const char **user, const char **pass, const char **db)
{
    *user = g_user2;
    *pass = g_pass2;
    *db = g_db;
}

/* Run a statement and discard any results; fail on error. */
static void exec(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        fail("'%s' failed: %u %s", sql, mysql_errno(m), mysql_error(m));
    for (;;) {
        if (mysql_field_count(m) != 0) {
            MYSQL_RES *r = mysql_store_result(m);
            if (!r)
                fail("'%s': store_result failed: %u %s", sql, mysql_errno(m), mysql_error(m));
            mysql_free_result(r);
        }
        if (!mysql_more_results(m) || mysql_next_result(m) != 0)
            break;
    }
    if (mysql_errno(m))
        fail("'%s' failed in a later result: %u %s", sql, mysql_errno(m), mysql_error(m));
}

static void execf(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void execf(MYSQL *m, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    exec(m, sql);
}

/* Run a statement expecting error code err; fail otherwise. */
static void expect_error(MYSQL *m, const char *sql, unsigned int err)
{
    if (mysql_query(m, sql) == 0) {
        MYSQL_RES *r = mysql_store_result(m);
        if (r)
            mysql_free_result(r);
        fail("'%s' succeeded, expected error %u", sql, err);
    }
    CHECK(mysql_errno(m) == err, "'%s': expected error %u, got %u %s", sql, err, mysql_errno(m),
          mysql_error(m));
}

/* First column of the only row, as a string in buf ("NULL" for NULL). */
static const char *scalar(MYSQL *m, const char *sql, char *buf, size_t len)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    if (mysql_query(m, sql))
        fail("'%s' failed: %u %s", sql, mysql_errno(m), mysql_error(m));
    r = mysql_store_result(m);
    CHECK(r, "'%s': no result set: %u %s", sql, mysql_errno(m), mysql_error(m));
    CHECK(mysql_num_rows(r) == 1, "'%s': %llu rows, expected 1", sql,
          (unsigned long long)mysql_num_rows(r));
    row = mysql_fetch_row(r);
    snprintf(buf, len, "%s", row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    return buf;
}

static void expect_scalar(MYSQL *m, const char *sql, const char *want)
{
    char buf[512];
    scalar(m, sql, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "'%s' returned '%s', expected '%s'", sql, buf, want);
}

static MYSQL_STMT *prepare(MYSQL *m, const char *sql)
{
    MYSQL_STMT *s = mysql_stmt_init(m);
    CHECK(s, "mysql_stmt_init failed: %s", mysql_error(m));
    if (mysql_stmt_prepare(s, sql, strlen(sql)))
        fail("prepare '%s' failed: %u %s", sql, mysql_stmt_errno(s), mysql_stmt_error(s));
    return s;
}

static MYSQL_STMT *preparef(MYSQL *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static MYSQL_STMT *preparef(MYSQL *m, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return prepare(m, sql);
}

static void stmt_exec(MYSQL_STMT *s, const char *what)
{
    if (mysql_stmt_execute(s))
        fail("execute %s failed: %u %s", what, mysql_stmt_errno(s), mysql_stmt_error(s));
}

/* Binds buf, of type and cap bytes (0: fixed-size types, or a parameter), whose length
 * is *len when len is not NULL. */
static void bind_buf(MYSQL_BIND *b, enum enum_field_types type, void *buf, unsigned long cap,
                     unsigned long *len)
{
    memset(b, 0, sizeof *b);
    b->buffer_type = type;
    b->buffer = buf;
    b->buffer_length = cap;
    b->length = len;
}

static void bind_long(MYSQL_BIND *b, int *v)
{
    bind_buf(b, MYSQL_TYPE_LONG, v, 0, NULL);
}

static void bind_longlong(MYSQL_BIND *b, long long *v)
{
    bind_buf(b, MYSQL_TYPE_LONGLONG, v, 0, NULL);
}

static void bind_string(MYSQL_BIND *b, char *buf, unsigned long *len)
{
    bind_buf(b, MYSQL_TYPE_STRING, buf, 0, len);
}

/* A DATETIME value for a parameter. */
static MYSQL_TIME datetime(unsigned int year, unsigned int month, unsigned int day,
                           unsigned int hour, unsigned int minute, unsigned int second)
{
    MYSQL_TIME t = {.year = year,
                    .month = month,
                    .day = day,
                    .hour = hour,
                    .minute = minute,
                    .second = second,
                    .time_type = MYSQL_TIMESTAMP_DATETIME};
    return t;
}

/* Creates table capi_<name>_<suffix> (its name into t) of (id INT PRIMARY KEY, v vtype)
 * and prepares an INSERT into it, id bound to *id and v to vbuf (*vlen bytes) in pb. */
static MYSQL_STMT *id_v_insert(MYSQL *m, char t[64], const char *name, const char *vtype,
                               MYSQL_BIND pb[2], int *id, char *vbuf, unsigned long *vlen)
{
    MYSQL_STMT *s;
    snprintf(t, 64, "capi_%s_%s", name, g_sfx);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY, v %s)", t, vtype);
    s = preparef(m, "INSERT INTO %s VALUES (?, ?)", t);
    bind_long(&pb[0], id);
    bind_string(&pb[1], vbuf, vlen);
    CHECK(mysql_stmt_bind_param(s, pb) == 0, "bind");
    return s;
}

/* Execute a statement with one INT parameter whose result is one BIGINT column; return it. */
static long long exec_int_int(MYSQL_STMT *s, int in, const char *what)
{
    MYSQL_BIND pb, rb;
    long long out = -1;
    my_bool is_null = 0;
    int rc;
    bind_long(&pb, &in);
    CHECK(mysql_stmt_bind_param(s, &pb) == 0, "%s: bind_param: %s", what, mysql_stmt_error(s));
    stmt_exec(s, what);
    bind_longlong(&rb, &out);
    rb.is_null = &is_null;
    CHECK(mysql_stmt_bind_result(s, &rb) == 0, "%s: bind_result: %s", what, mysql_stmt_error(s));
    rc = mysql_stmt_fetch(s);
    CHECK(rc == 0, "%s: fetch returned %d (%s): %u %s", what, rc, fetch_rc_name(rc),
          mysql_stmt_errno(s), mysql_stmt_error(s));
    CHECK(!is_null, "%s: NULL result", what);
    CHECK(mysql_stmt_fetch(s) == MYSQL_NO_DATA, "%s: more than one row", what);
    mysql_stmt_free_result(s);
    return out;
}

/* ------------------------------------------------------------------------------------- */

static void check_bad_password(void)
{
    char wrong[256];
    MYSQL *m;
    snprintf(wrong, sizeof wrong, "%s-wrong", g_pass);
    m = open_conn_as(g_user, wrong, 0);
    CHECK(mysql_errno(m) == 1045, "wrong password: expected error 1045, got %u %s", mysql_errno(m),
          mysql_error(m));
    CHECK(strcmp(mysql_sqlstate(m), "28000") == 0, "wrong password: SQLSTATE %s, expected 28000",
          mysql_sqlstate(m));
    mysql_close(m);
    m = open_conn();
    expect_scalar(m, "SELECT 1", "1");
    mysql_close(m);
}

static void check_text_query(void)
{
    MYSQL *m = open_conn();
    MYSQL_RES *r;
    MYSQL_ROW row;
    unsigned long *len;
    char t[64];
    unsigned long long count = 0, sum = 0;

    snprintf(t, sizeof t, "capi_text_%s", g_sfx);
    expect_scalar(m, "SELECT 1", "1");
    expect_scalar(m, "SELECT DATABASE()", g_db);
    execf(m, "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20), n INT NULL)", t);
    execf(m, "INSERT INTO %s (v, n) VALUES ('a', 1), ('b\\0c', NULL)", t);
    CHECK(mysql_affected_rows(m) == 2, "affected rows %llu, expected 2",
          (unsigned long long)mysql_affected_rows(m));
    CHECK(mysql_insert_id(m) == 1, "insert id %llu, expected 1",
          (unsigned long long)mysql_insert_id(m));
    CHECK(mysql_query(m, "SELECT id, v, n FROM capi_text_x") != 0, "missing table accepted");
    CHECK(mysql_errno(m) == 1146, "expected 1146, got %u", mysql_errno(m));
    {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT id, v, n FROM %s ORDER BY id", t);
        CHECK(mysql_query(m, sql) == 0, "select: %s", mysql_error(m));
    }
    r = mysql_store_result(m);
    CHECK(r, "store_result: %s", mysql_error(m));
    CHECK(mysql_num_rows(r) == 2 && mysql_num_fields(r) == 3, "%llu rows %u fields",
          (unsigned long long)mysql_num_rows(r), mysql_num_fields(r));
    CHECK(strcmp(mysql_fetch_field_direct(r, 1)->name, "v") == 0, "column name %s",
          mysql_fetch_field_direct(r, 1)->name);
    row = mysql_fetch_row(r);
    CHECK(strcmp(row[0], "1") == 0 && strcmp(row[1], "a") == 0 && strcmp(row[2], "1") == 0,
          "row 1 wrong");
    row = mysql_fetch_row(r);
    len = mysql_fetch_lengths(r);
    CHECK(len[1] == 3 && memcmp(row[1], "b\0c", 3) == 0, "row 2 binary string wrong");
    CHECK(row[2] == NULL, "row 2 n not NULL");
    mysql_free_result(r);

    /* Unbuffered (streamed) result. */
    CHECK(mysql_query(m, "SELECT seq FROM seq_1_to_50000") == 0, "seq: %s", mysql_error(m));
    r = mysql_use_result(m);
    CHECK(r, "use_result: %s", mysql_error(m));
    while ((row = mysql_fetch_row(r))) {
        count++;
        sum += strtoull(row[0], NULL, 10);
    }
    CHECK(mysql_errno(m) == 0, "streaming failed: %s", mysql_error(m));
    mysql_free_result(r);
    CHECK(count == 50000 && sum == 50000ULL * 50001 / 2, "streamed %llu rows sum %llu", count, sum);
    execf(m, "DROP TABLE %s", t);
    expect_scalar(m, "SELECT 'still usable'", "still usable");
    mysql_close(m);
}

static void check_stmt_types(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *ins, *sel;
    MYSQL_BIND pb[6], rb[5];
    char t[64], sql[512];
    int id, iv;
    char sv[64];
    unsigned long slen, blen;
    double dv;
    MYSQL_TIME tv;
    unsigned char bv[300];
    my_bool nulls[6] = {0};
    /* results */
    int r_i;
    char r_s[128];
    double r_d;
    MYSQL_TIME r_t;
    unsigned char r_b[512];
    unsigned long r_slen, r_blen;
    my_bool r_null[5], r_err[5];
    const char *utf = "h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80";
    int i, round;

    snprintf(t, sizeof t, "capi_types_%s", g_sfx);
    execf(m,
          "CREATE TABLE %s (id INT PRIMARY KEY, i INT, s VARCHAR(64), d DOUBLE, "
          "dt DATETIME, b BLOB) DEFAULT CHARSET=utf8mb4",
          t);
    ins = preparef(m, "INSERT INTO %s VALUES (?, ?, ?, ?, ?, ?)", t);
    CHECK(mysql_stmt_param_count(ins) == 6, "param count %lu", mysql_stmt_param_count(ins));

    for (i = 0; i < 300; i++)
        bv[i] = (unsigned char)(i * 7);
    memset(pb, 0, sizeof pb);
    bind_long(&pb[0], &id);
    bind_long(&pb[1], &iv);
    bind_string(&pb[2], sv, &slen);
    bind_buf(&pb[3], MYSQL_TYPE_DOUBLE, &dv, 0, NULL);
    bind_buf(&pb[4], MYSQL_TYPE_DATETIME, &tv, 0, NULL);
    bind_buf(&pb[5], MYSQL_TYPE_BLOB, bv, 0, &blen);
    for (i = 1; i < 6; i++)
        pb[i].is_null = &nulls[i];
    CHECK(mysql_stmt_bind_param(ins, pb) == 0, "bind_param: %s", mysql_stmt_error(ins));

    /* Row 1: values. */
    id = 1;
    iv = -42;
    snprintf(sv, sizeof sv, "%s", utf);
    slen = strlen(sv);
    dv = 3.25;
    tv = datetime(2024, 2, 29, 13, 14, 15);
    blen = sizeof bv;
    stmt_exec(ins, "insert row 1");
    CHECK(mysql_stmt_affected_rows(ins) == 1, "affected rows %llu",
          (unsigned long long)mysql_stmt_affected_rows(ins));
    /* Row 2: all NULL. */
    id = 2;
    for (i = 1; i < 6; i++)
        nulls[i] = 1;
    stmt_exec(ins, "insert row 2 (NULLs)");
    /* Row 3: same statement again, other values, through MYSQL_TYPE_NULL for i. */
    id = 3;
    for (i = 1; i < 6; i++)
        nulls[i] = 0;
    pb[1].buffer_type = MYSQL_TYPE_NULL;
    CHECK(mysql_stmt_bind_param(ins, pb) == 0, "rebind: %s", mysql_stmt_error(ins));
    snprintf(sv, sizeof sv, "third");
    slen = 5;
    dv = -1e-3;
    tv = datetime(1999, 12, 31, 23, 59, 59);
    blen = 0;
    stmt_exec(ins, "insert row 3");
    CHECK(mysql_stmt_close(ins) == 0, "close insert");

    expect_scalar(m, "SELECT 1", "1");
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE i IS NULL", t);
    expect_scalar(m, sql, "2");

    sel = preparef(m, "SELECT i, s, d, dt, b FROM %s WHERE id = ?", t);
    CHECK(mysql_stmt_param_count(sel) == 1 && mysql_stmt_field_count(sel) == 5,
          "select: %lu params %u fields", mysql_stmt_param_count(sel), mysql_stmt_field_count(sel));
    memset(rb, 0, sizeof rb);
    bind_long(&rb[0], &r_i);
    bind_buf(&rb[1], MYSQL_TYPE_STRING, r_s, sizeof r_s, &r_slen);
    bind_buf(&rb[2], MYSQL_TYPE_DOUBLE, &r_d, 0, NULL);
    bind_buf(&rb[3], MYSQL_TYPE_DATETIME, &r_t, 0, NULL);
    bind_buf(&rb[4], MYSQL_TYPE_BLOB, r_b, sizeof r_b, &r_blen);
    for (i = 0; i < 5; i++) {
        rb[i].is_null = &r_null[i];
        rb[i].error = &r_err[i];
    }
    for (round = 1; round <= 3; round++) {
        MYSQL_BIND kb;
        int key = round;
        int rc;
        bind_long(&kb, &key);
        CHECK(mysql_stmt_bind_param(sel, &kb) == 0, "bind key");
        stmt_exec(sel, "select by id");
        CHECK(mysql_stmt_bind_result(sel, rb) == 0, "bind_result: %s", mysql_stmt_error(sel));
        CHECK(mysql_stmt_store_result(sel) == 0, "store_result: %s", mysql_stmt_error(sel));
        CHECK(mysql_stmt_num_rows(sel) == 1, "row %d: %llu rows (expected 1)", round,
              (unsigned long long)mysql_stmt_num_rows(sel));
        memset(r_err, 0, sizeof r_err);
        memset(r_null, 0, sizeof r_null);
        rc = mysql_stmt_fetch(sel);
        CHECK(rc == 0, "row %d: fetch returned %d (truncation flags %d%d%d%d%d): %s", round, rc,
              r_err[0], r_err[1], r_err[2], r_err[3], r_err[4], mysql_stmt_error(sel));
        if (round == 1) {
            CHECK(!r_null[0] && r_i == -42, "row 1 INT %d", r_i);
            CHECK(!r_null[1] && r_slen == strlen(utf) && memcmp(r_s, utf, r_slen) == 0,
                  "row 1 VARCHAR wrong (len %lu)", r_slen);
            CHECK(!r_null[2] && r_d == 3.25, "row 1 DOUBLE %g", r_d);
            CHECK(!r_null[3] && r_t.year == 2024 && r_t.month == 2 && r_t.day == 29 &&
                      r_t.hour == 13 && r_t.minute == 14 && r_t.second == 15,
                  "row 1 DATETIME %u-%u-%u %u:%u:%u", r_t.year, r_t.month, r_t.day, r_t.hour,
                  r_t.minute, r_t.second);
            CHECK(!r_null[4] && r_blen == sizeof bv && memcmp(r_b, bv, sizeof bv) == 0,
                  "row 1 BLOB wrong (len %lu)", r_blen);
        } else if (round == 2) {
            for (i = 0; i < 5; i++)
                CHECK(r_null[i], "row 2 column %d not NULL", i);
        } else {
            CHECK(r_null[0], "row 3 i not NULL");
            CHECK(!r_null[1] && r_slen == 5 && memcmp(r_s, "third", 5) == 0, "row 3 s");
            CHECK(!r_null[2] && r_d == -1e-3, "row 3 DOUBLE %g", r_d);
            CHECK(r_t.year == 1999 && r_t.second == 59, "row 3 DATETIME");
            CHECK(!r_null[4] && r_blen == 0, "row 3 BLOB not empty (%lu)", r_blen);
        }
        CHECK(mysql_stmt_fetch(sel) == MYSQL_NO_DATA, "row %d: extra row", round);
        mysql_stmt_free_result(sel);
    }
    CHECK(mysql_stmt_close(sel) == 0, "close select");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

static void check_stmt_many(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *ins, *sel;
    MYSQL_BIND pb[2];
    char t[64], sql[256], vbuf[32];
    unsigned long vlen;
    int id;
    int i;

    ins = id_v_insert(m, t, "many", "VARCHAR(20)", pb, &id, vbuf, &vlen);
    for (i = 1; i <= 1000; i++) {
        id = i;
        vlen = (unsigned long)snprintf(vbuf, sizeof vbuf, "v%d", i);
        stmt_exec(ins, "insert");
        CHECK(mysql_stmt_affected_rows(ins) == 1, "execution %d: affected %llu", i,
              (unsigned long long)mysql_stmt_affected_rows(ins));
    }
    CHECK(mysql_stmt_close(ins) == 0, "close insert");
    snprintf(sql, sizeof sql, "SELECT COUNT(*), SUM(id) FROM %s", t);
    {
        MYSQL_RES *r;
        MYSQL_ROW row;
        CHECK(mysql_query(m, sql) == 0, "count: %s", mysql_error(m));
        r = mysql_store_result(m);
        row = mysql_fetch_row(r);
        CHECK(strcmp(row[0], "1000") == 0 && strcmp(row[1], "500500") == 0, "count %s sum %s",
              row[0], row[1]);
        mysql_free_result(r);
    }
    /* A SELECT statement executed 1,000 times, each result checked. */
    sel = preparef(m, "SELECT CHAR_LENGTH(v) + ? FROM %s WHERE id = ?", t);
    for (i = 1; i <= 1000; i++) {
        MYSQL_BIND kb[2], rb;
        int add = 1000000, key = i;
        long long out = 0;
        int rc;
        bind_long(&kb[0], &add);
        bind_long(&kb[1], &key);
        CHECK(mysql_stmt_bind_param(sel, kb) == 0, "bind");
        stmt_exec(sel, "select");
        bind_longlong(&rb, &out);
        CHECK(mysql_stmt_bind_result(sel, &rb) == 0, "bind_result");
        rc = mysql_stmt_fetch(sel);
        CHECK(rc == 0, "execution %d: fetch returned %d (%s): %u %s", i, rc, fetch_rc_name(rc),
              mysql_stmt_errno(sel), mysql_stmt_error(sel));
        CHECK(out == 1000000 + 1 +
                         (i < 10     ? 1
                          : i < 100  ? 2
                          : i < 1000 ? 3
                                     : 4),
              "execution %d: got %lld", i, out);
        CHECK(mysql_stmt_fetch(sel) == MYSQL_NO_DATA, "execution %d: extra row", i);
    }
    CHECK(mysql_stmt_close(sel) == 0, "close select");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

/* Keep one statement open, prepare/execute/close 300 others (more than any per-backend
 * statement cache), then execute the first again. */
static void check_stmt_reprepare(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *first = prepare(m, "SELECT ? + 1000");
    int i;
    CHECK(exec_int_int(first, 1, "first") == 1001, "first statement wrong result");
    for (i = 0; i < 300; i++) {
        char sql[64];
        MYSQL_STMT *s;
        long long got;
        snprintf(sql, sizeof sql, "SELECT ? + %d", i * 10);
        s = prepare(m, sql);
        got = exec_int_int(s, 7, sql);
        CHECK(got == 7 + i * 10, "'%s' returned %lld", sql, got);
        CHECK(mysql_stmt_close(s) == 0, "close '%s'", sql);
    }
    CHECK(exec_int_int(first, 5, "first again") == 1005, "first statement after 300 others");
    CHECK(exec_int_int(first, 6, "first again") == 1006, "first statement after 300 others");
    CHECK(mysql_stmt_close(first) == 0, "close first");
    /* Executing a closed statement id must fail cleanly, not crash or hang. */
    expect_scalar(m, "SELECT 'after'", "after");
    mysql_close(m);
}

static void check_stmt_errors(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *s = mysql_stmt_init(m);
    const char *bad1 = "SELECT * FROM no_such_table_capi";
    const char *bad2 = "SELEC ?";
    CHECK(mysql_stmt_prepare(s, bad1, strlen(bad1)) != 0, "prepare of missing table succeeded");
    CHECK(mysql_stmt_errno(s) == 1146, "prepare missing table: %u %s", mysql_stmt_errno(s),
          mysql_stmt_error(s));
    CHECK(mysql_stmt_prepare(s, bad2, strlen(bad2)) != 0, "prepare of bad SQL succeeded");
    CHECK(mysql_stmt_errno(s) == 1064, "prepare bad SQL: %u %s", mysql_stmt_errno(s),
          mysql_stmt_error(s));
    mysql_stmt_close(s);
    s = prepare(m, "SELECT ? * 2");
    CHECK(exec_int_int(s, 21, "after errors") == 42, "statement after errors");
    mysql_stmt_close(s);
    /* Execution error: duplicate key from a prepared INSERT. */
    {
        char t[64], sql[128];
        int k = 1;
        MYSQL_BIND b;
        snprintf(t, sizeof t, "capi_err_%s", g_sfx);
        execf(m, "CREATE TABLE %s (id INT PRIMARY KEY)", t);
        s = preparef(m, "INSERT INTO %s VALUES (?)", t);
        bind_long(&b, &k);
        mysql_stmt_bind_param(s, &b);
        stmt_exec(s, "first insert");
        CHECK(mysql_stmt_execute(s) != 0, "duplicate insert succeeded");
        CHECK(mysql_stmt_errno(s) == 1062, "duplicate: %u %s", mysql_stmt_errno(s),
              mysql_stmt_error(s));
        k = 2;
        stmt_exec(s, "insert after error");
        mysql_stmt_close(s);
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", t);
        expect_scalar(m, sql, "2");
        execf(m, "DROP TABLE %s", t);
    }
    mysql_close(m);
}

static void check_long_data(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *s;
    MYSQL_BIND pb[2];
    char t[64], sql[256];
    int id = 1;
    enum { CHUNK = 300000, NCHUNK = 3 };
    unsigned char *data = malloc(CHUNK * NCHUNK);
    int i;

    CHECK(data, "malloc");
    for (i = 0; i < CHUNK * NCHUNK; i++)
        data[i] = (unsigned char)((i * 31 + 7) ^ (i >> 9));
    snprintf(t, sizeof t, "capi_long_%s", g_sfx);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY, b LONGBLOB, s TEXT)", t);
    s = preparef(m, "INSERT INTO %s VALUES (?, ?, ?)", t);
    memset(pb, 0, sizeof pb);
    pb[0].buffer_type = MYSQL_TYPE_LONG;
    pb[0].buffer = &id;
    pb[1].buffer_type = MYSQL_TYPE_LONG_BLOB;
    {
        MYSQL_BIND all[3];
        memcpy(all, pb, sizeof pb);
        memset(&all[2], 0, sizeof all[2]);
        all[2].buffer_type = MYSQL_TYPE_STRING;
        CHECK(mysql_stmt_bind_param(s, all) == 0, "bind: %s", mysql_stmt_error(s));
    }
    for (i = 0; i < NCHUNK; i++)
        CHECK(mysql_stmt_send_long_data(s, 1, (const char *)data + i * CHUNK, CHUNK) == 0,
              "send_long_data chunk %d: %s", i, mysql_stmt_error(s));
    CHECK(mysql_stmt_send_long_data(s, 2, "text ", 5) == 0, "send_long_data text");
    CHECK(mysql_stmt_send_long_data(s, 2, "in two parts", 12) == 0, "send_long_data text");
    stmt_exec(s, "insert with long data");
    /* Second execution: long data is per execution. */
    id = 2;
    CHECK(mysql_stmt_send_long_data(s, 1, "xyz", 3) == 0, "send_long_data 2");
    CHECK(mysql_stmt_send_long_data(s, 2, "second", 6) == 0, "send_long_data 2 text");
    stmt_exec(s, "second insert with long data");
    mysql_stmt_close(s);

    snprintf(sql, sizeof sql, "SELECT b, s FROM %s ORDER BY id", t);
    CHECK(mysql_query(m, sql) == 0, "select: %s", mysql_error(m));
    {
        MYSQL_RES *r = mysql_store_result(m);
        MYSQL_ROW row = mysql_fetch_row(r);
        unsigned long *len = mysql_fetch_lengths(r);
        CHECK(len[0] == CHUNK * NCHUNK, "blob length %lu, expected %d", len[0], CHUNK * NCHUNK);
        CHECK(memcmp(row[0], data, CHUNK * NCHUNK) == 0, "blob content differs");
        CHECK(strcmp(row[1], "text in two parts") == 0, "text '%s'", row[1]);
        row = mysql_fetch_row(r);
        len = mysql_fetch_lengths(r);
        CHECK(len[0] == 3 && memcmp(row[0], "xyz", 3) == 0, "second blob wrong");
        CHECK(strcmp(row[1], "second") == 0, "second text '%s'", row[1]);
        mysql_free_result(r);
    }
    execf(m, "DROP TABLE %s", t);
    free(data);
    mysql_close(m);
}

static void check_stmt_reset(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *s;
    MYSQL_BIND pb[2];
    char t[64], sql[256], vbuf[16] = "short";
    unsigned long vlen = 5;
    int id = 1;
    int i, rc;

    s = id_v_insert(m, t, "reset", "TEXT", pb, &id, vbuf, &vlen);
    CHECK(mysql_stmt_send_long_data(s, 1, "DISCARDED", 9) == 0, "send_long_data");
    CHECK(mysql_stmt_reset(s) == 0, "reset: %s", mysql_stmt_error(s));
    stmt_exec(s, "insert after reset");
    mysql_stmt_close(s);
    snprintf(sql, sizeof sql, "SELECT v FROM %s WHERE id = 1", t);
    expect_scalar(m, sql, "short");

    /* Reset in the middle of reading a result, then execute again from the start. */
    s = prepare(m, "SELECT seq FROM seq_1_to_10 WHERE seq > ?");
    for (i = 0; i < 2; i++) {
        MYSQL_BIND kb, rb;
        int k = 0;
        long long out = 0, count = 0;
        bind_long(&kb, &k);
        mysql_stmt_bind_param(s, &kb);
        stmt_exec(s, "select");
        bind_longlong(&rb, &out);
        mysql_stmt_bind_result(s, &rb);
        if (i == 0) {
            rc = mysql_stmt_fetch(s);
            CHECK(rc == 0 && out == 1, "first fetch returned %d (%s), value %lld: %s", rc,
                  fetch_rc_name(rc), out, mysql_stmt_error(s));
            rc = mysql_stmt_fetch(s);
            CHECK(rc == 0 && out == 2, "second fetch returned %d (%s), value %lld: %s", rc,
                  fetch_rc_name(rc), out, mysql_stmt_error(s));
            CHECK(mysql_stmt_reset(s) == 0, "reset mid-result: %s", mysql_stmt_error(s));
            continue;
        }
        while ((rc = mysql_stmt_fetch(s)) == 0)
            count++;
        CHECK(rc == MYSQL_NO_DATA, "fetch after reset ended with %d: %s", rc, mysql_stmt_error(s));
        CHECK(count == 10 && out == 10, "after reset: %lld rows, last %lld", count, out);
    }
    mysql_stmt_close(s);
    expect_scalar(m, "SELECT 'usable'", "usable");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

static void check_cursor(void)
{
    MYSQL *m = open_conn();
    MYSQL_STMT *s;
    MYSQL_BIND rb;
    char t[64];
    unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 10;
    long long v = 0, count = 0, sum = 0;
    int rc;

    snprintf(t, sizeof t, "capi_cursor_%s", g_sfx);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY)", t);
    execf(m, "INSERT INTO %s SELECT seq FROM seq_1_to_1000", t);
    s = preparef(m, "SELECT id FROM %s ORDER BY id", t);
    CHECK(mysql_stmt_attr_set(s, STMT_ATTR_CURSOR_TYPE, &type) == 0, "cursor type");
    CHECK(mysql_stmt_attr_set(s, STMT_ATTR_PREFETCH_ROWS, &prefetch) == 0, "prefetch");
    stmt_exec(s, "cursor select");
    bind_longlong(&rb, &v);
    CHECK(mysql_stmt_bind_result(s, &rb) == 0, "bind_result");
    while ((rc = mysql_stmt_fetch(s)) == 0) {
        count++;
        sum += v;
        CHECK(v == count, "row %lld has id %lld", count, v);
        if (count == 500) {
            /* Other statements on the same connection while the cursor is open. */
            expect_scalar(m, "SELECT 'between fetches'", "between fetches");
            execf(m, "DELETE FROM %s WHERE id = 1000", t); /* cursor is a snapshot */
        }
    }
    CHECK(rc == MYSQL_NO_DATA, "fetch ended with %d: %u %s", rc, mysql_stmt_errno(s),
          mysql_stmt_error(s));
    CHECK(count == 1000 && sum == 500500, "cursor gave %lld rows, sum %lld", count, sum);
    /* Execute the same cursor statement again. */
    stmt_exec(s, "cursor select again");
    count = 0;
    while ((rc = mysql_stmt_fetch(s)) == 0)
        count++;
    CHECK(rc == MYSQL_NO_DATA && count == 999, "second cursor: %lld rows (rc %d)", count, rc);
    CHECK(mysql_stmt_close(s) == 0, "close");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

static void check_change_user(void)
{
    MYSQL *m = open_conn();
    char buf[256], want[256];
    MYSQL_STMT *s;

    exec(m, "SET @before_change = 1");
    if (mysql_change_user(m, g_user2, g_pass2, g_db))
        fail("change_user to %s: %u %s", g_user2, mysql_errno(m), mysql_error(m));
    scalar(m, "SELECT CURRENT_USER()", buf, sizeof buf);
    snprintf(want, sizeof want, "%s@", g_user2);
    CHECK(strncmp(buf, want, strlen(want)) == 0, "CURRENT_USER() is %s after change to %s", buf,
          g_user2);
    expect_scalar(m, "SELECT @before_change", "NULL");
    expect_scalar(m, "SELECT DATABASE()", g_db);
    s = prepare(m, "SELECT ? + 1");
    CHECK(exec_int_int(s, 1, "stmt as user2") == 2, "prepared statement as user2");
    mysql_stmt_close(s);
    if (mysql_change_user(m, g_user, g_pass, "sbtest"))
        fail("change_user back to %s: %u %s", g_user, mysql_errno(m), mysql_error(m));
    scalar(m, "SELECT CURRENT_USER()", buf, sizeof buf);
    snprintf(want, sizeof want, "%s@", g_user);
    CHECK(strncmp(buf, want, strlen(want)) == 0, "CURRENT_USER() is %s after change back", buf);
    expect_scalar(m, "SELECT DATABASE()", "sbtest");
    expect_scalar(m, "SELECT 1", "1");
    mysql_close(m);
}

static void check_reset_connection(void)
{
    MYSQL *m = open_conn();
    char t[64], sql[256], buf[512], gmode[512];

    snprintf(t, sizeof t, "capi_rc_%s", g_sfx);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY) ENGINE=InnoDB", t);
    exec(m, "SET @r = 7");
    exec(m, "SET SESSION sql_mode = 'ANSI_QUOTES'");
    execf(m, "CREATE TEMPORARY TABLE tmp_%s (i INT)", t);
    exec(m, "START TRANSACTION");
    execf(m, "INSERT INTO %s VALUES (1)", t);
    expect_scalar(m, "SELECT @r", "7");
    CHECK(mysql_reset_connection(m) == 0, "reset_connection: %u %s", mysql_errno(m),
          mysql_error(m));
    expect_scalar(m, "SELECT @r", "NULL");
    scalar(m, "SELECT @@SESSION.sql_mode", buf, sizeof buf);
    scalar(m, "SELECT @@GLOBAL.sql_mode", gmode, sizeof gmode);
    CHECK(strcmp(buf, gmode) == 0, "sql_mode after reset is '%s', global '%s'", buf, gmode);
    snprintf(sql, sizeof sql, "SELECT * FROM tmp_%s", t);
    expect_error(m, sql, 1146);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", t);
    expect_scalar(m, sql, "0"); /* the open transaction was rolled back */
    expect_scalar(m, "SELECT DATABASE()", g_db);
    expect_scalar(m, "SELECT @@autocommit", "1");
    exec(m, "SET @r = 8");
    expect_scalar(m, "SELECT @r", "8");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

static void check_ping(void)
{
    MYSQL *m = open_conn();
    int i;
    exec(m, "SET @p = 1");
    for (i = 0; i < 5; i++)
        CHECK(mysql_ping(m) == 0, "ping %d: %u %s", i, mysql_errno(m), mysql_error(m));
    expect_scalar(m, "SELECT @p", "1");
    mysql_close(m);
}

static void check_multi_statement(void)
{
    MYSQL *m = open_conn();
    char t[64], sql[512];
    int n = 0, status;
    const char *want[] = {"1", "2two", NULL, "3"};

    snprintf(t, sizeof t, "capi_multi_%s", g_sfx);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY)", t);
    CHECK(mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON) == 0,
          "MULTI_STATEMENTS_ON: %s", mysql_error(m));
    snprintf(sql, sizeof sql, "SELECT 1; SELECT 2, 'two'; INSERT INTO %s VALUES (1), (2); SELECT 3",
             t);
    CHECK(mysql_query(m, sql) == 0, "multi query: %s", mysql_error(m));
    do {
        MYSQL_RES *r = mysql_store_result(m);
        CHECK(n < 4, "more than 4 results");
        if (want[n]) {
            MYSQL_ROW row;
            char got[64];
            CHECK(r, "result %d: no result set: %s", n, mysql_error(m));
            row = mysql_fetch_row(r);
            snprintf(got, sizeof got, "%s%s", row[0], mysql_num_fields(r) > 1 ? row[1] : "");
            CHECK(strcmp(got, want[n]) == 0, "result %d is '%s', expected '%s'", n, got, want[n]);
            mysql_free_result(r);
        } else {
            CHECK(!r && mysql_field_count(m) == 0, "result %d: expected no result set", n);
            CHECK(mysql_affected_rows(m) == 2, "INSERT affected %llu",
                  (unsigned long long)mysql_affected_rows(m));
        }
        n++;
    } while ((status = mysql_next_result(m)) == 0);
    CHECK(status == -1, "next_result error: %u %s", mysql_errno(m), mysql_error(m));
    CHECK(n == 4, "got %d results, expected 4", n);

    /* An error in the middle ends the batch with that error. */
    CHECK(mysql_query(m, "SELECT 1; SELECT * FROM no_such_table_capi_multi; SELECT 3") == 0,
          "first statement failed: %s", mysql_error(m));
    mysql_free_result(mysql_store_result(m));
    status = mysql_next_result(m);
    CHECK(status > 0 && mysql_errno(m) == 1146,
          "expected 1146 from the second statement, "
          "got status %d errno %u",
          status, mysql_errno(m));
    expect_scalar(m, "SELECT 'after error'", "after error");

    CHECK(mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_OFF) == 0,
          "MULTI_STATEMENTS_OFF: %s", mysql_error(m));
    expect_error(m, "SELECT 1; SELECT 2", 1064);
    expect_scalar(m, "SELECT 5", "5");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

static void check_local_infile(void)
{
    MYSQL *m = open_conn();
    char t[64], path[256], sql[512];
    FILE *f;
    int i;

    snprintf(t, sizeof t, "capi_load_%s", g_sfx);
    snprintf(path, sizeof path, "/tmp/capi_load_%s.tsv", g_sfx);
    f = fopen(path, "w");
    CHECK(f, "cannot write %s", path);
    for (i = 1; i <= 1000; i++)
        fprintf(f, "%d\tname-%d\n", i, i);
    fclose(f);
    execf(m, "CREATE TABLE %s (id INT PRIMARY KEY, name VARCHAR(20))", t);
    snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE '%s' INTO TABLE %s (id, name)", path, t);
    if (mysql_query(m, sql)) {
        unlink(path);
        fail("LOAD DATA LOCAL: %u %s", mysql_errno(m), mysql_error(m));
    }
    unlink(path);
    CHECK(mysql_affected_rows(m) == 1000, "LOAD DATA affected %llu rows",
          (unsigned long long)mysql_affected_rows(m));
    snprintf(sql, sizeof sql, "SELECT CONCAT(COUNT(*), ' ', SUM(id), ' ', MAX(name)) FROM %s", t);
    expect_scalar(m, sql, "1000 500500 name-999");
    /* A file that does not exist: the client reports it and the session goes on. */
    snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE '/nonexistent/capi_%s' INTO TABLE %s", g_sfx,
             t);
    CHECK(mysql_query(m, sql) != 0, "LOAD DATA of a missing file succeeded");
    expect_scalar(m, "SELECT 'after load'", "after load");
    execf(m, "DROP TABLE %s", t);
    mysql_close(m);
}

/* ------------------------------------------------------------------------------------- */
/* ------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    void (*fn)(void);
} checks[] = {
    {"bad_password", check_bad_password},
    {"text_query", check_text_query},
    {"stmt_types", check_stmt_types},
    {"stmt_many", check_stmt_many},
    {"stmt_reprepare", check_stmt_reprepare},
    {"stmt_errors", check_stmt_errors},
    {"long_data", check_long_data},
    {"stmt_reset", check_stmt_reset},
    {"cursor", check_cursor},
    {"change_user", check_change_user},
    {"reset_connection", check_reset_connection},
    {"charset_latin1", check_charset_latin1},
    {"ping", check_ping},
    {"multi_statement", check_multi_statement},
    {"local_infile", check_local_infile},
    {"session", check_session}, /* takes the remaining arguments as its steps */
};

int main(int argc, char **argv)
{
    size_t i, n = sizeof checks / sizeof checks[0];
    int a;

    if (argc < 8) {
        fprintf(stderr,
                "usage: %s HOST PORT USER PASSWORD DB USER2 PASSWORD2 [CHECK...]\n"
                "checks:",
                argv[0]);
        for (i = 0; i < n; i++)
            fprintf(stderr, " %s", checks[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    g_host = argv[1];
    g_port = (unsigned int)atoi(argv[2]);
    g_user = argv[3];
    g_pass = argv[4];
    g_db = argv[5];
    g_user2 = argv[6];
    g_pass2 = argv[7];
    snprintf(g_sfx, sizeof g_sfx, "%d_%ld", (int)getpid(), (long)(time(NULL) % 100000));
    if (mysql_library_init(0, NULL, NULL)) {
        fprintf(stderr, "mysql_library_init failed\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 8) {
        for (i = 0; i < n; i++) {
            if (checks[i].fn == check_session)
                continue;
            g_check = checks[i].name;
            checks[i].fn();
            printf("ok %s\n", g_check);
        }
    }
    for (a = 8; a < argc; a++) {
        for (i = 0; i < n; i++)
            if (strcmp(argv[a], checks[i].name) == 0)
                break;
        if (i == n) {
            fprintf(stderr, "unknown check '%s'\n", argv[a]);
            return 2;
        }
        if (checks[i].fn == check_session) {
            capi_session_steps(argv + a + 1, argc - a - 1);
            a = argc;
        }
        g_check = checks[i].name;
        checks[i].fn();
        printf("ok %s\n", g_check);
    }
    mysql_library_end();
    return 0;
}

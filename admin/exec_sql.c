/*
 * Plain SQL on the admin interface: a statement no command pattern matches
 * goes to SQLite as it is (exec.c). admin_exec_sql() prepares it under the
 * authorizer (sandbox.c), which keeps runtime_* and the stats tables
 * read-only and the admin tables in place, refuses what would leave SQLite,
 * and notes which stats tables the statement reads: those are refilled
 * (stats_tables.c) after the prepare and before the first step. Rows are
 * copied into the result as text; a statement without columns answers OK with
 * the number of rows it changed.
 *
 * Failures answer as MySQL would: 1227/42000 "Access denied; ..." for the
 * sandbox's refusals, 1064/42000 for syntax errors, 1105/HY000 "<first
 * keyword>: <message>" for the rest. SQLite's messages pass through
 * admin_safe_sqlite_msg() and statements are quoted only through
 * admin_excerpt(): a literal may be a password.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first keyword, upper-cased, to say which statement failed. */
static void kind_of(const char *sql, char *out, size_t outlen)
{
    size_t n = 0;

    while (isalpha((unsigned char)sql[n]) && n + 1 < outlen && n < 16) {
        out[n] = (char)toupper((unsigned char)sql[n]);
        n++;
    }
    out[n] = '\0';
    if (n == 0)
        snprintf(out, outlen, "SQL");
}

static bool is_syntax_error(const char *msg)
{
    return strncmp(msg, "near \"", 6) == 0 || strncmp(msg, "unrecognized token", 18) == 0 ||
           strstr(msg, "syntax error") || strcmp(msg, "incomplete input") == 0;
}

static int sql_error(struct admin_exec *ex, const char *sql)
{
    const char *msg = admin_safe_sqlite_msg(sqlite3_errmsg(ex->store->db));
    char kind[20], ex_text[ADMIN_EXCERPT_MAX + 8];

    if (!ex->store->deny_reason[0])
        (void)admin_sandbox_unknown_function(ex->store, msg);
    if (ex->store->deny_access)
        return admin_exec_fail(ex, ER_SPECIFIC_ACCESS_DENIED_ERROR, "42000", "Access denied; %s",
                               ex->store->deny_reason);
    if (ex->store->deny_reason[0])
        msg = ex->store->deny_reason;
    if (is_syntax_error(msg)) {
        admin_excerpt(sql, ex_text, sizeof(ex_text));
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000",
                               "You have an error in your SQL syntax near '%s': %s", ex_text, msg);
    }
    kind_of(sql, kind, sizeof(kind));
    return admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s: %s", kind, msg);
}

/* Copies one row of stmt into the result; values as text, NULL stays NULL. */
static int copy_row(struct admin_exec *ex, sqlite3_stmt *stmt)
{
    char **row = admin_result_new_row(ex->res);

    if (!row)
        return admin_exec_oom(ex);
    for (size_t c = 0; c < ex->res->ncols; c++) {
        const unsigned char *t;

        if (sqlite3_column_type(stmt, (int)c) == SQLITE_NULL)
            continue;
        t = sqlite3_column_text(stmt, (int)c);
        if (!t ||
            !(row[c] = admin_dup_n((const char *)t, (size_t)sqlite3_column_bytes(stmt, (int)c))))
            return admin_exec_oom(ex);
    }
    return 0;
}

/* Starts a result set named after stmt's columns. */
static int stmt_columns(struct admin_exec *ex, sqlite3_stmt *stmt, int ncols)
{
    const char **names = malloc((size_t)ncols * sizeof(*names));
    int rc;

    if (!names)
        return admin_exec_oom(ex);
    for (int c = 0; c < ncols; c++)
        names[c] = sqlite3_column_name(stmt, c);
    rc = admin_exec_columns(ex, (size_t)ncols, names);
    free(names);
    return rc;
}

/* Steps a prepared statement to the end; a statement with columns gives a
 * result set (possibly empty), any other the number of rows it changed. */
static int step_all(struct admin_exec *ex, sqlite3_stmt *stmt, const char *sql)
{
    sqlite3 *db = ex->store->db;
    sqlite3_int64 before = sqlite3_total_changes64(db);
    int ncols = sqlite3_column_count(stmt), src, rc = 0;

    if (ncols > 0)
        rc = stmt_columns(ex, stmt, ncols);
    while (rc == 0 && (src = sqlite3_step(stmt)) == SQLITE_ROW)
        if (ncols > 0)
            rc = copy_row(ex, stmt);
    if (rc != 0)
        return rc;
    if (src != SQLITE_DONE)
        return sql_error(ex, sql);
    if (ncols == 0)
        return admin_exec_ok(ex, (uint64_t)(sqlite3_total_changes64(db) - before));
    return 0;
}

/* Refills the stats tables a prepared statement reads, before its first step.
 * The authorizer is off meanwhile: the refresh writes tables it refuses to
 * operators. Inserting rows does not expire the prepared statement (only a
 * schema change would), so it then reads the fresh rows. EXPLAIN only shows
 * a plan, so it must not reset the digest counters. */
static int refresh_stats(struct admin_exec *ex, sqlite3_stmt *stmt, const char *sql)
{
    struct admin_store *store = ex->store;
    unsigned mask = store->stats_read;
    char err[sizeof(ex->res->err_msg)], kind[20];
    int rc;

    store->stats_read = 0;
    if (mask == 0 || sqlite3_stmt_isexplain(stmt))
        return 0;
    sqlite3_set_authorizer(store->db, NULL, NULL);
    rc = admin_stats_refresh(store, mask, err, sizeof(err));
    sqlite3_set_authorizer(store->db, admin_sandbox_authorizer, store);
    if (rc == ADMIN_ENOMEM)
        return admin_exec_oom(ex);
    if (rc != 0) {
        kind_of(sql, kind, sizeof(kind));
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s: %s", kind, err);
    }
    return rc;
}

/* Runs the SQLite statement at sql; *tail receives where the next begins. */
int admin_exec_sql(struct admin_exec *ex, const char *sql, const char **tail)
{
    sqlite3 *db = ex->store->db;
    sqlite3_stmt *stmt = NULL;
    int rc;

    ex->store->deny_reason[0] = '\0';
    ex->store->deny_access = false;
    ex->store->stats_read = 0;
    if (admin_sandbox_statement(ex->store, sql)) {
        /* Not prepared, so no tail: the refusal ends the string anyway. */
        rc = sql_error(ex, sql);
        goto out;
    }
    /* Kept for the steps too: SQLite re-prepares, and re-authorizes, after a
     * schema change; SQL that SQLite runs inside a step (a pragma's table
     * function) is authorized as well. */
    sqlite3_set_authorizer(db, admin_sandbox_authorizer, ex->store);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, tail) != SQLITE_OK)
        rc = sql_error(ex, sql);
    else if (!stmt)
        rc = admin_exec_ok(ex, 0); /* only a comment */
    else if ((rc = refresh_stats(ex, stmt, sql)) == 0)
        rc = step_all(ex, stmt, sql);
    sqlite3_finalize(stmt);
    sqlite3_set_authorizer(db, NULL, NULL);
out:
    ex->store->deny_reason[0] = '\0';
    ex->store->deny_access = false;
    ex->store->stats_read = 0;
    return rc;
}

/* Runs an internal query (no authorizer needed: it only reads), binding
 * param to ?1 if not NULL. sql is from sqlite3_mprintf and freed here. */
int admin_exec_query(struct admin_exec *ex, char *sql, const char *param)
{
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (!sql)
        return admin_exec_oom(ex);
    if (sqlite3_prepare_v2(ex->store->db, sql, -1, &stmt, NULL) != SQLITE_OK ||
        (param && sqlite3_bind_text(stmt, 1, param, -1, SQLITE_TRANSIENT) != SQLITE_OK))
        rc = sql_error(ex, sql);
    else
        rc = step_all(ex, stmt, sql);
    sqlite3_finalize(stmt);
    sqlite3_free(sql);
    return rc;
}

/* SQLite's spelling of MySQL's START TRANSACTION. */
int admin_cmd_begin(struct admin_exec *ex, const struct admin_args *a)
{
    (void)a;
    return admin_exec_sql(ex, "BEGIN", NULL);
}

/*
 * The admin SQL interface: admin_execute() runs what an operator types into
 * the mariadb client connected to the admin port, and describes the outcome
 * in a struct admin_result for proxy/ to encode.
 *
 * The input may hold several statements. Each one, in order:
 *   1. is delimited: up to the next ';' outside quotes and comments;
 *   2. is cut into words and matched against the command table below
 *      (pgbouncer's src/admin.c style: pattern -> handler). Pattern words
 *      match case-insensitively; "?" takes one word as an argument and "X*"
 *      a word starting with X plus the rest of the statement. LOAD and SAVE go
 *      on to a second pair of tables, modules x directions, that name the
 *      layer copy to run;
 *   3. anything else goes to SQLite as it is (SQLite finds its own end), with
 *      an authorizer that keeps runtime_* and the stats tables read-only and
 *      the admin tables in place, and notes which stats tables the statement
 *      reads: those are refilled (stats_tables.c) after the prepare and
 *      before the first step. Its rows are copied into the result as text.
 * The first error stops the string; otherwise the last statement's result
 * is returned, as ProxySQL does.
 *
 * EXPLAIN QUERY RULES [FROM MEMORY|RUNTIME] FOR '<query>' [USER '<user>']
 * [SCHEMA '<schema>'] [CLIENT '<address>'] shows how the rules would route a
 * query without running it (router_explain()). Literals are MySQL's: ' or
 * ", the quote doubled or backslash-escaped inside. The rules are the
 * runtime snapshot's, or with FROM MEMORY those in mysql_query_rules now,
 * compiled for this statement (a compile error is the answer). The session
 * facts are what a client of USER would have: the runtime's mysql_users
 * default_hostgroup (0 without USER or for an unknown user) and, without
 * SCHEMA, its default_schema; no CLIENT is a client without an address (a
 * unix socket). One row per rule considered, in evaluation order:
 *   step                   1, 2, ...
 *   rule_id, flag_in       the rule's
 *   outcome                'matched', or 'skipped: <why>' with why one of
 *                          flagIN, username, schemaname, client_addr,
 *                          digest, match_digest, match_pattern (did not
 *                          match) or match_digest (negated), match_pattern
 *                          (negated) (matched, but negate_match_pattern)
 *   destination_hostgroup, apply, flag_out, error_msg, OK_msg
 *                          a matched rule's actions (NULL where it has none;
 *                          all NULL for a skipped rule)
 *   text_after             the text after a matched rule that rewrote it
 *   digest, digest_text    NULL
 * then a last row: step n+1, rule_id and flag_in NULL, outcome 'decision',
 * destination_hostgroup where the query goes, flag_out the final flag,
 * text_after the text it would run as, error_msg and OK_msg the decision's,
 * digest the query's as 0x and 16 hex digits and digest_text its digest
 * text. Hit counters do not move.
 *
 * SHOW CONFIG VERSIONS, ROLLBACK <module> TO VERSION n and DIFF <module>
 * are parsed and run by versions.c (see the top of that file) and answered
 * here; FORCE after LOAD ... TO RUNTIME turns failing rule tests
 * (ruletests.c) into warnings. Warnings of a statement travel in
 * res->warnings; SHOW WARNINGS answers those of the previous statement of
 * the same string, while the caller keeps them across strings per session.
 *
 * Error numbers follow MySQL: 1064/42000 for syntax and unknown commands,
 * 1105/HY000 for SQLite and validation errors (the message starts with the
 * statement's first keyword, or names the command), 1227/42000 "Access
 * denied; ..." for what would leave SQLite (ATTACH, VACUUM, load_extension()
 * and the other refusals of sandbox.c). Messages quote user text
 * only through admin_excerpt(), which stops at the first quote, and SQLite's
 * own messages through admin_safe_sqlite_msg(): a literal may be a password.
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SYSVARS 16

/* Result building. */

static void clear_rows(struct admin_result *res)
{
    for (size_t r = 0; r < res->nrows; r++) {
        for (size_t c = 0; c < res->ncols; c++)
            free(res->rows[r][c]);
        free(res->rows[r]);
    }
    free(res->rows);
    for (size_t c = 0; c < res->ncols; c++)
        free(res->col_names[c]);
    free(res->col_names);
    res->rows = NULL;
    res->col_names = NULL;
    res->nrows = res->ncols = res->rows_cap = 0;
}

/* Resets res for the next statement; a snapshot loaded by an earlier one is
 * kept, since its runtime_* rows are already written. Warnings are the last
 * statement's, as in MySQL. */
void admin_result_reset(struct admin_result *res)
{
    struct admin_config *keep = res->new_runtime;

    clear_rows(res);
    free(res->warnings);
    memset(res, 0, sizeof(*res));
    res->new_runtime = keep;
}

void admin_result_free(struct admin_result *res)
{
    if (!res)
        return;
    clear_rows(res);
    free(res->warnings);
    admin_config_unref(res->new_runtime);
    memset(res, 0, sizeof(*res));
}

int admin_exec_fail(struct admin_exec *ex, uint16_t code, const char *sqlstate, const char *fmt,
                    ...)
{
    struct admin_result *res = ex->res;
    va_list ap;

    clear_rows(res);
    res->kind = ADMIN_RES_ERROR;
    res->err_code = code;
    snprintf(res->err_sqlstate, sizeof(res->err_sqlstate), "%s", sqlstate);
    va_start(ap, fmt);
    vsnprintf(res->err_msg, sizeof(res->err_msg), fmt, ap);
    va_end(ap);
    return ADMIN_ESQL;
}

int admin_exec_oom(struct admin_exec *ex)
{
    admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "out of memory");
    return ADMIN_ENOMEM;
}

int admin_exec_ok(struct admin_exec *ex, uint64_t affected)
{
    clear_rows(ex->res);
    ex->res->kind = ADMIN_RES_OK;
    ex->res->affected_rows = affected;
    return 0;
}

char *admin_dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Starts a result set with these column names. */
int admin_exec_columns(struct admin_exec *ex, size_t n, const char *const *names)
{
    struct admin_result *res = ex->res;

    clear_rows(res);
    res->kind = ADMIN_RES_ROWS;
    res->col_names = calloc(n ? n : 1, sizeof(*res->col_names));
    if (!res->col_names)
        return admin_exec_oom(ex);
    for (size_t c = 0; c < n; c++) {
        res->col_names[c] = strdup(names[c] ? names[c] : "");
        /* Counted as it goes so a failure frees what was made. */
        if (!res->col_names[c])
            return admin_exec_oom(ex);
        res->ncols = c + 1;
    }
    return 0;
}

/* Appends an empty row (all NULL) and returns it, or NULL on OOM. */
char **admin_result_new_row(struct admin_result *res)
{
    char **row;

    if (res->nrows == res->rows_cap) {
        size_t cap = res->rows_cap ? res->rows_cap * 2 : 16;
        char ***rows = realloc(res->rows, cap * sizeof(*rows));

        if (!rows)
            return NULL;
        res->rows = rows;
        res->rows_cap = cap;
    }
    row = calloc(res->ncols ? res->ncols : 1, sizeof(*row));
    if (row)
        res->rows[res->nrows++] = row;
    return row;
}

/* Appends a row of NUL-terminated values (NULL: SQL NULL). */
int admin_exec_add_row(struct admin_exec *ex, const char *const *values)
{
    char **row = admin_result_new_row(ex->res);

    if (!row)
        return admin_exec_oom(ex);
    for (size_t c = 0; c < ex->res->ncols; c++)
        if (values[c] && !(row[c] = strdup(values[c])))
            return admin_exec_oom(ex);
    return 0;
}

void admin_result_warn(struct admin_result *res, uint16_t code, const char *fmt, ...)
{
    struct admin_warning *w;
    va_list ap;

    if (!res)
        return;
    if (res->n_warnings < ADMIN_MAX_WARNINGS) {
        /* Allocated whole at the first warning: the bound is small. */
        if (!res->warnings)
            res->warnings = calloc(ADMIN_MAX_WARNINGS, sizeof(*res->warnings));
        if (res->warnings) {
            w = &res->warnings[res->n_warnings];
            w->code = code;
            va_start(ap, fmt);
            vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
            va_end(ap);
        }
    }
    res->n_warnings++;
}

bool admin_is_show_warnings(const char *sql, size_t len)
{
    static const char *const words[] = {"SHOW", "WARNINGS"};
    const char *p = sql, *end = sql + len;

    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(words[i]);

        while (p < end && isspace((unsigned char)*p))
            p++;
        if ((size_t)(end - p) < n || strncasecmp(p, words[i], n) != 0)
            return false;
        p += n;
        if (p < end && !isspace((unsigned char)*p) && *p != ';')
            return false;
    }
    while (p < end && (isspace((unsigned char)*p) || *p == ';'))
        p++;
    return p == end;
}

static int warning_rows(struct admin_exec *ex, const struct admin_warning *w, size_t n)
{
    static const char *const names[] = {"Level", "Code", "Message"};
    char code[8];
    int rc;

    rc = admin_exec_columns(ex, 3, names);
    for (size_t i = 0; rc == 0 && w && i < n && i < ADMIN_MAX_WARNINGS; i++) {
        const char *row[] = {"Warning", code, w[i].msg};

        snprintf(code, sizeof(code), "%u", (unsigned)w[i].code);
        rc = admin_exec_add_row(ex, row);
    }
    return rc;
}

int admin_warnings_result(const struct admin_warning *w, size_t n, struct admin_result *res)
{
    struct admin_exec ex = {.res = res};

    if (!res)
        return ADMIN_EINVAL;
    memset(res, 0, sizeof(*res));
    return warning_rows(&ex, w, n);
}

/* Plain SQL. */

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

/* Refuses writes to the stats tables: their rows are replaced at every read,
 * so a write would only mislead. */
static int deny_stats_write(struct admin_store *store, const char *table)
{
    snprintf(store->deny_reason, sizeof(store->deny_reason),
             "%s is read-only: it is computed when queried", table);
    return SQLITE_DENY;
}

/* Refuses, while an operator's statement is prepared, what would break the
 * layers: writing runtime_* (they must show what is live, and LOAD of another
 * module rebuilds the snapshot from them) or the stats tables, triggers on
 * the stats tables (they would fire on every refresh), dropping or altering
 * the admin tables; and, through sandbox.c, what would leave SQLite (SQL
 * functions and pragmas outside its allow-lists, attaching other files,
 * virtual tables). Also notes the stats tables of
 * main the statement reads (SQLITE_READ comes for every column read, and once
 * with an empty column for count(*)), so admin_exec_sql() refreshes exactly those. */
static int authorize(void *arg, int action, const char *a1, const char *a2, const char *db,
                     const char *trigger)
{
    struct admin_store *store = arg;
    const char *table = action == SQLITE_ALTER_TABLE ? a2 : a1;
    bool runtime = false;

    (void)trigger;
    switch (action) {
    case SQLITE_READ:
        /* SQLite passes no schema for the count(*) case; main is the only
         * schema with stats tables, so that can only be main or a temp table
         * of the same name, and refreshing needlessly is harmless. */
        if (a1 && (!db || strcmp(db, "main") == 0))
            store->stats_read |= admin_stats_table(a1);
        return SQLITE_OK;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        if (table && admin_stats_table(table))
            return deny_stats_write(store, table);
        if (table && admin_monitor_table(table)) {
            snprintf(store->deny_reason, sizeof(store->deny_reason),
                     "%s is read-only: the monitor writes it", table);
            return SQLITE_DENY;
        }
        if (table && admin_versions_table(table)) {
            snprintf(store->deny_reason, sizeof(store->deny_reason),
                     "%s is read-only: LOAD ... TO RUNTIME records versions, ROLLBACK restores "
                     "them",
                     table);
            return SQLITE_DENY;
        }
        if (!table || !admin_table_known(table, &runtime) || !runtime)
            return SQLITE_OK;
        snprintf(store->deny_reason, sizeof(store->deny_reason),
                 "%s is read-only: it shows the runtime; change %s and LOAD it TO RUNTIME", table,
                 table + 8);
        return SQLITE_DENY;
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TRIGGER:
        if (!a2 ||
            (!admin_stats_table(a2) && !admin_monitor_table(a2) && !admin_versions_table(a2)))
            return SQLITE_OK;
        /* A trigger on the versions would let SQL change what is read-only. */
        snprintf(store->deny_reason, sizeof(store->deny_reason),
                 "%s is %s and cannot have triggers", a2,
                 admin_versions_table(a2) ? "written by LOAD only" : "computed when queried");
        return SQLITE_DENY;
    case SQLITE_DROP_TABLE:
    case SQLITE_ALTER_TABLE:
        if (!table || (!admin_table_known(table, NULL) && !admin_stats_table(table) &&
                       !admin_monitor_table(table) && !admin_versions_table(table)))
            return SQLITE_OK;
        snprintf(store->deny_reason, sizeof(store->deny_reason),
                 "%s is an admin table and cannot be dropped or altered", table);
        return SQLITE_DENY;
    case SQLITE_FUNCTION:
    case SQLITE_PRAGMA:
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
        return admin_sandbox_authorize(store, action, a1, a2);
    default:
        return SQLITE_OK;
    }
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
    sqlite3_set_authorizer(store->db, authorize, store);
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
    sqlite3_set_authorizer(db, authorize, ex->store);
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

/* SQL functions MySQL tools call: SELECT DATABASE(), USER(), VERSION(). */

static const char *server_version(const struct admin_config *runtime)
{
    return runtime ? runtime->server_version : admin_global_default("mysql-server_version");
}

static void fn_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, sqlite3_user_data(ctx), -1, SQLITE_TRANSIENT);
}

/* Registers the functions once per store; VERSION() reads store->version,
 * refreshed by every admin_execute() from the published snapshot. */
int admin_exec_functions(struct admin_exec *ex)
{
    static const struct {
        const char *name;
        const char *value; /* NULL: the store's version buffer */
    } fns[] = {
        /* The admin interface has no accounts in SQL; which admin user logged
         * in is known to proxy/, not here. */
        {"database", "main"},
        {"schema", "main"},
        {"user", "admin@localhost"},
        {"current_user", "admin@localhost"},
        {"session_user", "admin@localhost"},
        {"system_user", "admin@localhost"},
        {"version", NULL},
    };
    struct admin_store *store = ex->store;
    int rc = SQLITE_OK;

    snprintf(store->version, sizeof(store->version), "%s", server_version(ex->runtime));
    if (store->functions_ready)
        return 0;
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]) && rc == SQLITE_OK; i++)
        rc = sqlite3_create_function(store->db, fns[i].name, 0, SQLITE_UTF8,
                                     (void *)(fns[i].value ? fns[i].value : store->version),
                                     fn_text, NULL, NULL);
    if (rc != SQLITE_OK)
        return admin_exec_oom(ex);
    store->functions_ready = true;
    return 0;
}

/* Commands. */

/* Copies a word without surrounding backquotes or double quotes. */
static void unquote(const struct admin_word *w, char *out, size_t outlen)
{
    size_t n = 0;

    for (size_t i = 0; i < w->len && n + 1 < outlen; i++)
        if (w->p[i] != '`' && w->p[i] != '"')
            out[n++] = w->p[i];
    out[n] = '\0';
}

/* "main" or "disk" in canonical case, or NULL. */
static const char *schema_name(const char *name)
{
    if (strcasecmp(name, "main") == 0)
        return "main";
    if (strcasecmp(name, "disk") == 0)
        return "disk";
    return NULL;
}

static int unknown_db(struct admin_exec *ex, const char *name)
{
    return admin_exec_fail(ex, ER_BAD_DB_ERROR, "42000", "Unknown database '%.64s' (main or disk)",
                           name);
}

int admin_cmd_show_databases(struct admin_exec *ex, const struct admin_args *a)
{
    static const char *const names[] = {"Database"};
    static const char *const main_row[] = {"main"}, *const disk_row[] = {"disk"};
    int rc;

    (void)a;
    rc = admin_exec_columns(ex, 1, names);
    if (rc == 0)
        rc = admin_exec_add_row(ex, main_row);
    if (rc == 0)
        rc = admin_exec_add_row(ex, disk_row);
    return rc;
}

/* Column "tables", as ProxySQL's admin answers; sqlite_* tables are hidden. */
int admin_cmd_show_tables(struct admin_exec *ex, const struct admin_args *a)
{
    char name[72];
    const char *schema = "main";

    if (a->n == 1) {
        unquote(&a->arg[0], name, sizeof(name));
        schema = schema_name(name);
        if (!schema)
            return unknown_db(ex, name);
    }
    return admin_exec_query(ex,
                            sqlite3_mprintf("SELECT name AS tables FROM %s.sqlite_master"
                                            " WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%%'"
                                            " ESCAPE '\\' ORDER BY name",
                                            schema),
                            NULL);
}

int admin_cmd_show_create(struct admin_exec *ex, const struct admin_args *a)
{
    char name[72];
    const char *schema = "main", *table = name, *dot;
    int rc;

    unquote(&a->arg[0], name, sizeof(name));
    dot = strchr(name, '.');
    if (dot) {
        name[dot - name] = '\0';
        schema = schema_name(name);
        if (!schema)
            return unknown_db(ex, name);
        table = dot + 1;
    }
    rc = admin_exec_query(ex,
                          sqlite3_mprintf("SELECT name AS \"Table\", sql AS \"Create Table\""
                                          " FROM %s.sqlite_master WHERE type IN ('table', 'view')"
                                          " AND name = ?1",
                                          schema),
                          table);
    if (rc == 0 && ex->res->nrows == 0)
        return admin_exec_fail(ex, ER_NO_SUCH_TABLE, "42S02", "Table '%s.%.64s' doesn't exist",
                               schema, table);
    return rc;
}

/* SET is accepted and ignored: the admin session has no variables, and the
 * mariadb client and connectors send SET NAMES and SET autocommit. */
int admin_cmd_ignore(struct admin_exec *ex, const struct admin_args *a)
{
    (void)a;
    return admin_exec_ok(ex, 0);
}

int admin_cmd_use(struct admin_exec *ex, const struct admin_args *a)
{
    char name[72];

    unquote(&a->arg[0], name, sizeof(name));
    /* Unqualified names always mean main; disk is reached as disk.<table>. */
    if (strcasecmp(name, "main") != 0)
        return unknown_db(ex, name);
    return admin_exec_ok(ex, 0);
}

/* SQLite's spelling of MySQL's START TRANSACTION. */
int admin_cmd_begin(struct admin_exec *ex, const struct admin_args *a)
{
    (void)a;
    return admin_exec_sql(ex, "BEGIN", NULL);
}

/* System variables MySQL clients and connectors read on connect. */
static const char *sysvar(const struct admin_exec *ex, const char *name)
{
    static const struct {
        const char *name;
        const char *value;
    } vars[] = {
        {"version_comment", "Sluice admin"},
        {"autocommit", "1"},
        {"character_set_client", "utf8mb4"},
        {"character_set_connection", "utf8mb4"},
        {"character_set_results", "utf8mb4"},
        {"character_set_server", "utf8mb4"},
        {"character_set_database", "utf8mb4"},
        {"collation_connection", "utf8mb4_general_ci"},
        {"collation_server", "utf8mb4_general_ci"},
        {"collation_database", "utf8mb4_general_ci"},
        {"max_allowed_packet", "67108864"},
        {"sql_mode", ""},
        {"lower_case_table_names", "0"},
        {"time_zone", "SYSTEM"},
        {"system_time_zone", "UTC"},
        {"tx_isolation", "SERIALIZABLE"}, /* SQLite's only level */
        {"transaction_isolation", "SERIALIZABLE"},
        {"tx_read_only", "0"},
        {"transaction_read_only", "0"},
        {"wait_timeout", "28800"},
        {"interactive_timeout", "28800"},
        {"net_write_timeout", "60"},
        {"auto_increment_increment", "1"},
        {"license", "MIT"},
    };
    static const char *const scopes[] = {"session.", "global.", "local."};

    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
        if (strncasecmp(name, scopes[i], strlen(scopes[i])) == 0)
            name += strlen(scopes[i]);
    if (strcasecmp(name, "version") == 0)
        return server_version(ex->runtime);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (strcasecmp(name, vars[i].name) == 0)
            return vars[i].value;
    return NULL;
}

const char *admin_skip_space(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '$';
}

/* Parses "@@a [, @@b ...] [LIMIT n]" into item names (without "@@"). */
static bool parse_sysvars(const char *p, const char *end, struct admin_word *items, size_t *n,
                          long *limit)
{
    *n = 0;
    *limit = -1;
    for (;;) {
        const char *s;

        p = admin_skip_space(p, end);
        if (end - p < 3 || p[0] != '@' || p[1] != '@' || *n == MAX_SYSVARS)
            return false;
        s = p + 2;
        for (p = s; p < end && is_name_char(*p); p++)
            ;
        if (p == s)
            return false;
        items[(*n)++] = (struct admin_word){s, (size_t)(p - s)};
        p = admin_skip_space(p, end);
        if (p == end || *p != ',')
            break;
        p++;
    }
    if (end - p > 5 && strncasecmp(p, "LIMIT", 5) == 0 && isspace((unsigned char)p[5])) {
        char *num_end;

        p = admin_skip_space(p + 5, end);
        if (p == end || !isdigit((unsigned char)*p))
            return false;
        *limit = strtol(p, &num_end, 10);
        p = num_end;
    }
    return admin_skip_space(p, end) == end;
}

/* SELECT @@version_comment LIMIT 1 and friends: one row (none for LIMIT 0),
 * one column per variable, named as written. */
int admin_cmd_sysvars(struct admin_exec *ex, const struct admin_args *a)
{
    struct admin_word items[MAX_SYSVARS];
    char names[MAX_SYSVARS][72];
    const char *cols[MAX_SYSVARS], *vals[MAX_SYSVARS];
    size_t n;
    long limit;
    int rc;

    if (!parse_sysvars(a->rest.p, a->rest.p + a->rest.len, items, &n, &limit))
        return admin_exec_fail(
            ex, ER_PARSE_ERROR, "42000",
            "You have an error in your SQL syntax: the admin interface answers only "
            "SELECT @@variable[, @@variable...] [LIMIT n]");
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof(names[i]), "@@%.*s", (int)items[i].len, items[i].p);
        cols[i] = names[i];
        vals[i] = sysvar(ex, names[i] + 2);
        if (!vals[i])
            return admin_exec_fail(ex, ER_UNKNOWN_SYSTEM_VARIABLE, "HY000",
                                   "Unknown system variable '%s'", names[i] + 2);
    }
    rc = admin_exec_columns(ex, n, cols);
    if (rc == 0 && limit != 0)
        rc = admin_exec_add_row(ex, vals);
    return rc;
}

/* LOAD and SAVE: verb, module, direction. */

enum action {
    MEMORY_TO_RUNTIME, /* build, validate, copy to runtime_*, publish */
    MEMORY_TO_DISK,    /* copy main.<table> to disk.<table> */
    DISK_TO_MEMORY,    /* copy disk.<table> to main.<table> */
    RUNTIME_TO_MEMORY, /* copy main.runtime_<table> to main.<table> */
};

static const struct {
    const char *words;
    unsigned mod;
} modules[] = {
    {"MYSQL SERVERS", ADMIN_MOD_SERVERS},           {"MYSQL USERS", ADMIN_MOD_USERS},
    {"MYSQL QUERY RULES", ADMIN_MOD_RULES},         {"MYSQL VARIABLES", ADMIN_MOD_VARIABLES},
    {"ADMIN VARIABLES", ADMIN_MOD_ADMIN_VARIABLES},
};

/* ProxySQL's spellings, aliases included (RUN for RUNTIME, MEM for MEMORY). */
static const struct {
    const char *verb;
    const char *words;
    enum action action;
} directions[] = {
    {"LOAD", "TO RUNTIME", MEMORY_TO_RUNTIME},   {"LOAD", "TO RUN", MEMORY_TO_RUNTIME},
    {"LOAD", "FROM MEMORY", MEMORY_TO_RUNTIME},  {"LOAD", "FROM MEM", MEMORY_TO_RUNTIME},
    {"LOAD", "FROM DISK", DISK_TO_MEMORY},       {"LOAD", "TO MEMORY", DISK_TO_MEMORY},
    {"LOAD", "TO MEM", DISK_TO_MEMORY},          {"SAVE", "TO DISK", MEMORY_TO_DISK},
    {"SAVE", "FROM MEMORY", MEMORY_TO_DISK},     {"SAVE", "FROM MEM", MEMORY_TO_DISK},
    {"SAVE", "FROM RUNTIME", RUNTIME_TO_MEMORY}, {"SAVE", "FROM RUN", RUNTIME_TO_MEMORY},
    {"SAVE", "TO MEMORY", RUNTIME_TO_MEMORY},    {"SAVE", "TO MEM", RUNTIME_TO_MEMORY},
};

bool admin_stmt_match(const char *pattern, const struct admin_stmt *st, struct admin_args *a);

/* Loads mod to runtime, or with version > 0 rolls it back to that version
 * first (ROLLBACK ... TO VERSION). */
static int load_to_runtime(struct admin_exec *ex, unsigned mod, unsigned flags, int64_t version)
{
    struct admin_config *cfg = NULL;
    char err[sizeof(ex->res->err_msg)];
    int rc;

    /* A snapshot published from uncommitted rows would outlive a ROLLBACK
     * that restores the runtime_* tables under it. */
    if (!sqlite3_get_autocommit(ex->store->db))
        return admin_exec_fail(ex, ER_CANT_DO_THIS_DURING_AN_TRANSACTION, "25000",
                               "%s is not allowed inside a transaction: COMMIT or ROLLBACK first",
                               version > 0 ? "ROLLBACK ... TO VERSION" : "LOAD ... TO RUNTIME");
    if (version > 0)
        rc = admin_versions_rollback(ex->store, mod, version, flags, ex->res, &cfg, err,
                                     sizeof(err));
    else
        rc = admin_layer_to_runtime(ex->store, mod, flags, ex->res, &cfg, err, sizeof(err));
    if (rc == ADMIN_ENOMEM)
        return admin_exec_oom(ex);
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s", err);
        return rc;
    }
    admin_config_unref(ex->res->new_runtime);
    ex->res->new_runtime = cfg;
    return admin_exec_ok(ex, 0);
}

static int run_action(struct admin_exec *ex, unsigned mod, enum action action, bool force)
{
    static const struct {
        enum admin_layer from, to;
    } copies[] = {
        [MEMORY_TO_DISK] = {ADMIN_LAYER_MEMORY, ADMIN_LAYER_DISK},
        [DISK_TO_MEMORY] = {ADMIN_LAYER_DISK, ADMIN_LAYER_MEMORY},
        [RUNTIME_TO_MEMORY] = {ADMIN_LAYER_RUNTIME, ADMIN_LAYER_MEMORY},
    };
    char err[sizeof(ex->res->err_msg)];
    uint64_t rows = 0;
    int rc;

    if (action == MEMORY_TO_RUNTIME)
        return load_to_runtime(ex, mod, force ? ADMIN_LOAD_FORCE : 0, 0);
    if (force)
        return admin_exec_fail(
            ex, ER_PARSE_ERROR, "42000",
            "You have an error in your SQL syntax: FORCE is only for LOAD ... TO RUNTIME");
    rc = admin_layer_copy(ex->store->db, mod, copies[action].from, copies[action].to, &rows, err,
                          sizeof(err));
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "%s", err);
        return rc;
    }
    /* The rows copied, so an operator sees at once whether a SAVE took. */
    return admin_exec_ok(ex, rows);
}

static bool word_is(const struct admin_word *w, const char *s)
{
    return w->len == strlen(s) && strncasecmp(w->p, s, w->len) == 0;
}

int admin_cmd_layer(struct admin_exec *ex, const struct admin_args *a)
{
    char pattern[64], text[ADMIN_EXCERPT_MAX + 8];
    struct admin_stmt st = *ex->stmt;
    struct admin_args unused;
    bool force = false;

    (void)a;
    /* LOAD ... TO RUNTIME FORCE: the command without its last word. */
    if (st.n > 2 && !st.overflow && word_is(&st.w[st.n - 1], "FORCE")) {
        force = true;
        st.n--;
        st.end = st.w[st.n - 1].p + st.w[st.n - 1].len;
    }
    for (size_t d = 0; d < sizeof(directions) / sizeof(directions[0]); d++) {
        for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
            snprintf(pattern, sizeof(pattern), "%s %s %s", directions[d].verb, modules[m].words,
                     directions[d].words);
            if (admin_stmt_match(pattern, &st, &unused))
                return run_action(ex, modules[m].mod, directions[d].action, force);
        }
    }
    admin_excerpt(ex->stmt->start, text, sizeof(text));
    return admin_exec_fail(ex, ER_PARSE_ERROR, "42000",
                           "You have an error in your SQL syntax near '%s': unknown command; use "
                           "LOAD|SAVE MYSQL SERVERS|USERS|QUERY RULES|VARIABLES or ADMIN VARIABLES "
                           "TO|FROM RUNTIME|MEMORY|DISK",
                           text);
}

/* SHOW CONFIG VERSIONS [FOR <module>], ROLLBACK <module> TO VERSION n
 * [FORCE], DIFF <module> [<side> [<side>]]: parsed and run by versions.c,
 * answered here. */

static const char versions_usage[] =
    "You have an error in your SQL syntax: use SHOW CONFIG VERSIONS [FOR <module>], ROLLBACK "
    "<module> TO VERSION n [FORCE] or DIFF <module> [MEMORY|RUNTIME|DISK|VERSION n "
    "[MEMORY|RUNTIME|DISK|VERSION n]], <module> one of MYSQL SERVERS, MYSQL USERS, MYSQL "
    "QUERY RULES, MYSQL VARIABLES, ADMIN VARIABLES";

/* A missing version would compare as empty: DIFF says so instead. */
static int diff_version_exists(struct admin_exec *ex, unsigned mod, int64_t version)
{
    int rc = admin_exec_query(ex,
                              sqlite3_mprintf("SELECT 1 FROM main.mysql_config_versions"
                                              " WHERE version = %lld AND module = ?1",
                                              (long long)version),
                              admin_module_name(mod));

    if (rc == 0 && ex->res->nrows == 0)
        return admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000",
                               "DIFF: there is no version %lld of %s", (long long)version,
                               admin_module_name(mod));
    return rc;
}

int admin_cmd_versions(struct admin_exec *ex, const struct admin_args *a)
{
    struct admin_version_cmd cmd;
    char *sql;
    int rc;

    (void)a;
    if (admin_version_cmd_parse(ex->stmt->start, (size_t)(ex->stmt->end - ex->stmt->start), &cmd) !=
        0)
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", versions_usage);
    switch (cmd.kind) {
    case ADMIN_VCMD_SHOW:
        return admin_exec_query(
            ex,
            sqlite3_mprintf("SELECT version, module, loaded_at, checksum, \"rows\""
                            " FROM main.mysql_config_versions%s ORDER BY version",
                            cmd.mod ? " WHERE module = ?1" : ""),
            cmd.mod ? admin_module_name(cmd.mod) : NULL);
    case ADMIN_VCMD_ROLLBACK:
        return load_to_runtime(ex, cmd.mod, cmd.force ? ADMIN_LOAD_FORCE : 0, cmd.version);
    case ADMIN_VCMD_DIFF:
        for (size_t k = 0; k < 2; k++)
            if (cmd.sides[k].version > 0 &&
                (rc = diff_version_exists(ex, cmd.mod, cmd.sides[k].version)) != 0)
                return rc;
        sql = admin_diff_sql(ex->store->db, cmd.mod, &cmd.sides[0], &cmd.sides[1]);
        return sql ? admin_exec_query(ex, sql, NULL) : admin_exec_oom(ex);
    }
    return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", versions_usage);
}

/* The warnings of the previous statement of the same string; a session's
 * earlier strings are the caller's (admin_is_show_warnings). As in MySQL,
 * they stay the current warnings afterwards. */
int admin_cmd_show_warnings(struct admin_exec *ex, const struct admin_args *a)
{
    int rc;

    (void)a;
    rc = warning_rows(ex, ex->prev_warnings, ex->n_prev_warnings);
    if (rc == 0) {
        ex->res->warnings = ex->prev_warnings;
        ex->res->n_warnings = ex->n_prev_warnings;
        ex->prev_warnings = NULL;
        ex->n_prev_warnings = 0;
    }
    return rc;
}

/* EXPLAIN QUERY RULES [FROM MEMORY|RUNTIME] FOR '<query>' [USER '<user>']
 * [SCHEMA '<schema>'] [CLIENT '<addr>']: which rules a query meets and what
 * is decided, without running it (router_explain()). */

/* As proxy/worker.c's scratch, so that a rewrite that would overflow there
 * overflows here too. */
#define EXPLAIN_REWRITE_CAP 65536

static const char explain_usage[] =
    "You have an error in your SQL syntax: use EXPLAIN QUERY RULES [FROM MEMORY|RUNTIME] "
    "FOR '<query>' [USER '<user>'] [SCHEMA '<schema>'] [CLIENT '<address>']";

/* What the statement asks; the strings are malloc'd (NULL: not given). */
struct explain_req {
    bool from_memory;
    char *query;
    size_t query_len;
    char *user;
    char *schema;
    char *client;
};

/* Consumes keyword kw (case-insensitive, a whole word) at *p. */
static bool take_keyword(const char **p, const char *end, const char *kw)
{
    const char *s = admin_skip_space(*p, end);
    size_t n = strlen(kw);

    if ((size_t)(end - s) < n || strncasecmp(s, kw, n) != 0 ||
        (s + n < end && (isalnum((unsigned char)s[n]) || s[n] == '_')))
        return false;
    *p = s + n;
    return true;
}

/* MySQL's backslash escapes in string literals; \% and \_ keep their
 * backslash, as in MySQL (they only mean something to LIKE). */
static size_t unescape(char c, char *out)
{
    static const char from[] = "ntrbZ", to[] = "\n\t\r\b\x1a";
    const char *f = strchr(from, c);

    if (c == '%' || c == '_') {
        out[0] = '\\';
        out[1] = c;
        return 2;
    }
    out[0] = f && c ? to[f - from] : c;
    return 1;
}

/* Decodes the quoted literal at *p ('...' or "...", the quote doubled or
 * backslash-escaped inside) into a malloc'd string. False on a missing or
 * unterminated literal, a \0 escape (the admin protocol and the result
 * cells are NUL-terminated) or no memory (*oom set). */
static bool take_literal(const char **p, const char *end, char **out, size_t *outlen, bool *oom)
{
    const char *s = admin_skip_space(*p, end);
    char q, *buf;
    size_t n = 0;

    if (s == end || (*s != '\'' && *s != '"'))
        return false;
    q = *s++;
    /* The decoded text is never longer than the literal. */
    buf = malloc((size_t)(end - s) + 1);
    if (!buf) {
        *oom = true;
        return false;
    }
    for (; s < end; s++) {
        if (*s == '\\' && s + 1 < end) {
            if (*++s == '0')
                break;
            n += unescape(*s, buf + n);
        } else if (*s != q) {
            buf[n++] = *s;
        } else if (s + 1 < end && s[1] == q) {
            buf[n++] = *s++;
        } else {
            buf[n] = '\0';
            *out = buf;
            *outlen = n;
            *p = s + 1;
            return true;
        }
    }
    free(buf);
    return false;
}

static void explain_req_free(struct explain_req *req)
{
    free(req->query);
    free(req->user);
    free(req->schema);
    free(req->client);
}

/* Parses what follows EXPLAIN QUERY RULES; USER, SCHEMA and CLIENT come in
 * any order, each at most once. Returns 0, or a result already failed. */
static int parse_explain(struct admin_exec *ex, const struct admin_word *rest,
                         struct explain_req *req)
{
    const char *p = rest->p, *end = rest->p + rest->len;
    bool oom = false;

    if (!p)
        return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    if (take_keyword(&p, end, "FROM")) {
        if (take_keyword(&p, end, "MEMORY") || take_keyword(&p, end, "MEM"))
            req->from_memory = true;
        else if (!take_keyword(&p, end, "RUNTIME") && !take_keyword(&p, end, "RUN"))
            return admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    }
    if (!take_keyword(&p, end, "FOR") || !take_literal(&p, end, &req->query, &req->query_len, &oom))
        return oom ? admin_exec_oom(ex)
                   : admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    while (admin_skip_space(p, end) < end) {
        char **slot = NULL;
        size_t unused;

        if (take_keyword(&p, end, "USER"))
            slot = &req->user;
        else if (take_keyword(&p, end, "SCHEMA"))
            slot = &req->schema;
        else if (take_keyword(&p, end, "CLIENT"))
            slot = &req->client;
        if (!slot || *slot || !take_literal(&p, end, slot, &unused, &oom))
            return oom ? admin_exec_oom(ex)
                       : admin_exec_fail(ex, ER_PARSE_ERROR, "42000", "%s", explain_usage);
    }
    return 0;
}

/* The result set router_explain()'s steps are written into. */
struct explain_out {
    struct admin_exec *ex;
    int rc; /* the first failure; later steps are ignored */
};

enum {
    EX_STEP,
    EX_RULE_ID,
    EX_FLAG_IN,
    EX_OUTCOME,
    EX_HOSTGROUP,
    EX_APPLY,
    EX_FLAG_OUT,
    EX_TEXT_AFTER,
    EX_ERROR_MSG,
    EX_OK_MSG,
    EX_DIGEST,
    EX_DIGEST_TEXT,
    EX_CACHE_TTL,
    EX_TIMEOUT,
    EX_RETRIES,
    EX_DELAY,
    EX_MULTIPLEX,
    EX_NCOLS,
};

static const char *const explain_cols[EX_NCOLS] = {
    [EX_STEP] = "step",
    [EX_RULE_ID] = "rule_id",
    [EX_FLAG_IN] = "flag_in",
    [EX_OUTCOME] = "outcome",
    [EX_HOSTGROUP] = "destination_hostgroup",
    [EX_APPLY] = "apply",
    [EX_FLAG_OUT] = "flag_out",
    [EX_TEXT_AFTER] = "text_after",
    [EX_ERROR_MSG] = "error_msg",
    [EX_OK_MSG] = "OK_msg",
    [EX_DIGEST] = "digest",
    [EX_DIGEST_TEXT] = "digest_text",
    [EX_CACHE_TTL] = "cache_ttl",
    [EX_TIMEOUT] = "timeout",
    [EX_RETRIES] = "retries",
    [EX_DELAY] = "delay",
    [EX_MULTIPLEX] = "multiplex",
};

/* Sets a cell to n bytes of s (NULL: leaves SQL NULL). False on OOM. */
static bool put(char **row, int col, const char *s, size_t n)
{
    return !s || (row[col] = admin_dup_n(s, n)) != NULL;
}

static bool put_str(char **row, int col, const char *s)
{
    return put(row, col, s, s ? strlen(s) : 0);
}

/* An integer cell; negative values are the router's "none", SQL NULL. */
static bool put_int(char **row, int col, long long v, bool null_if_negative)
{
    char buf[24];

    if (null_if_negative && v < 0)
        return true;
    snprintf(buf, sizeof(buf), "%lld", v);
    return put_str(row, col, buf);
}

static void explain_step(void *arg, const struct router_explain_step *st)
{
    struct explain_out *o = arg;
    bool final = st->outcome == ROUTER_EXPLAIN_DECISION;
    bool matched =
        st->outcome == ROUTER_EXPLAIN_MATCHED || st->outcome == ROUTER_EXPLAIN_FAIL_CLOSED;
    char **row, hex[24];
    bool ok;

    if (o->rc != 0)
        return;
    row = admin_result_new_row(o->ex->res);
    if (!row) {
        o->rc = admin_exec_oom(o->ex);
        return;
    }
    ok = put_int(row, EX_STEP, (long long)st->index + 1, false) &&
         put_str(row, EX_OUTCOME, router_explain_outcome_str(st->outcome));
    if (!final)
        ok = ok && put_int(row, EX_RULE_ID, st->rule_id, false) &&
             put_int(row, EX_FLAG_IN, st->flag_in, false);
    if (matched)
        ok = ok && put_int(row, EX_HOSTGROUP, st->destination_hostgroup, true) &&
             put_int(row, EX_APPLY, st->apply, false) &&
             put_int(row, EX_FLAG_OUT, st->flag_out, true);
    /* The final row always shows the text the query would run as; a rule
     * row only when that rule changed it. */
    if (matched || final)
        ok = ok &&
             put(row, EX_TEXT_AFTER, st->rewritten || final ? st->text : NULL, st->text_len) &&
             put_str(row, EX_ERROR_MSG, st->error_msg) && put_str(row, EX_OK_MSG, st->ok_msg) &&
             put_int(row, EX_CACHE_TTL, st->cache_ttl, true) &&
             put_int(row, EX_TIMEOUT, st->timeout_ms, true) &&
             put_int(row, EX_RETRIES, st->retries, true) &&
             put_int(row, EX_DELAY, st->delay_ms, true) &&
             put_int(row, EX_MULTIPLEX, st->multiplex, true);
    if (final) {
        /* ProxySQL's spelling of a digest, as in stats_mysql_query_digest. */
        snprintf(hex, sizeof(hex), "0x%016" PRIX64, st->digest);
        ok = ok && put_int(row, EX_HOSTGROUP, st->destination_hostgroup, false) &&
             put_int(row, EX_FLAG_OUT, st->flag, false) && put_str(row, EX_DIGEST, hex) &&
             put(row, EX_DIGEST_TEXT, st->digest_text, st->digest_text_len);
    }
    if (!ok)
        o->rc = admin_exec_oom(o->ex);
}

/* The rules to explain with: the runtime snapshot's (borrowed), or MEMORY's
 * compiled now into *own, which the caller frees. */
static int explain_rules(struct admin_exec *ex, bool from_memory, const struct router_rules **rules,
                         struct router_rules **own)
{
    struct admin_config tmp = {0};
    char err[sizeof(ex->res->err_msg) - 16];
    int rc;

    *own = NULL;
    if (!from_memory) {
        *rules = ex->runtime ? ex->runtime->rules : NULL;
        return 0;
    }
    /* admin_load_rules() only sets tmp.rules; nothing else of a snapshot
     * is needed to compile. */
    rc = admin_load_rules(ex->store->db, "main.", &tmp, err, sizeof(err));
    if (rc == ADMIN_ENOMEM)
        return admin_exec_oom(ex);
    if (rc != 0) {
        admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000", "EXPLAIN: %s", err);
        return rc;
    }
    *rules = *own = tmp.rules;
    return 0;
}

int admin_cmd_explain(struct admin_exec *ex, const struct admin_args *a)
{
    struct explain_req req = {0};
    struct explain_out o = {.ex = ex};
    const struct router_rules *rules = NULL;
    struct router_rules *own = NULL;
    struct router_scratch *scratch = NULL;
    struct router_decision d;
    int rc;

    rc = parse_explain(ex, &a->rest, &req);
    if (rc == 0)
        rc = explain_rules(ex, req.from_memory, &rules, &own);
    if (rc != 0)
        goto out;
    /* The session facts a client of this user would have: the runtime's
     * default_hostgroup and, without SCHEMA, its default_schema, as
     * proxy/session.c sets them at login. */
    const struct admin_user *u =
        req.user ? admin_config_user(ex->runtime, req.user, strlen(req.user)) : NULL;
    struct router_facts facts = {
        .user = req.user,
        .schema = req.schema ? req.schema
                  : u        ? u->default_schema
                             : "",
        .client_addr = req.client,
        .default_hostgroup = u ? u->default_hostgroup : 0,
    };
    /* One per call: admin is not on the hot path, and a scratch kept in the
     * store would only save a few allocations per EXPLAIN. */
    scratch = router_scratch_new(EXPLAIN_REWRITE_CAP);
    if (!scratch) {
        rc = admin_exec_oom(ex);
        goto out;
    }
    rc = admin_exec_columns(ex, EX_NCOLS, explain_cols);
    if (rc == 0 &&
        router_explain(rules, scratch, &facts, req.query, req.query_len, explain_step, &o, &d) != 0)
        rc = admin_exec_oom(ex); /* only with a NULL scratch or callback: not here */
    if (rc == 0)
        rc = o.rc;
out:
    router_scratch_free(scratch);
    router_rules_free(own);
    explain_req_free(&req);
    return rc;
}

/* The command table, tried in order before a statement goes to SQLite. */
static const struct command {
    const char *pattern;
    int (*run)(struct admin_exec *ex, const struct admin_args *a);
} commands[] = {
    {"SELECT @@*", admin_cmd_sysvars},
    {"SHOW DATABASES", admin_cmd_show_databases},
    {"SHOW SCHEMAS", admin_cmd_show_databases},
    {"SHOW TABLES", admin_cmd_show_tables},
    {"SHOW TABLES FROM ?", admin_cmd_show_tables},
    {"SHOW TABLES IN ?", admin_cmd_show_tables},
    {"SHOW CREATE TABLE ?", admin_cmd_show_create},
    {"SET *", admin_cmd_ignore},
    {"USE ?", admin_cmd_use},
    {"START TRANSACTION", admin_cmd_begin},
    {"LOAD *", admin_cmd_layer},
    {"SAVE *", admin_cmd_layer},
    {"EXPLAIN QUERY RULES *", admin_cmd_explain},
    {"SHOW CONFIG VERSIONS *", admin_cmd_versions},
    {"ROLLBACK MYSQL*", admin_cmd_versions},
    {"ROLLBACK ADMIN*", admin_cmd_versions},
    {"DIFF *", admin_cmd_versions},
    {"SHOW WARNINGS", admin_cmd_show_warnings},
};

/* Statement splitting and matching. */

/* Returns the ';' that ends the statement at p, or its terminating NUL.
 * With backslash, a backslash inside '...' and "..." escapes the next
 * character, as MySQL reads literals; SQL for SQLite is split without it,
 * since SQLite does not. */
static const char *stmt_end(const char *p, bool backslash)
{
    while (*p && *p != ';') {
        if (*p == '\'' || *p == '"' || *p == '`') {
            char q = *p++;

            /* A doubled quote stays inside the literal: both are skipped. */
            while (*p && *p != q) {
                if (backslash && q != '`' && *p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");

            p = e ? e + 2 : p + strlen(p);
        } else {
            p++;
        }
    }
    return p;
}

static void split_words(struct admin_stmt *st)
{
    const char *p = st->start;

    st->n = 0;
    st->overflow = false;
    for (;;) {
        const char *s;

        while (p < st->end && isspace((unsigned char)*p))
            p++;
        if (p == st->end)
            return;
        for (s = p; p < st->end && !isspace((unsigned char)*p); p++)
            ;
        if (st->n == ADMIN_MAX_WORDS) {
            st->overflow = true;
            return;
        }
        st->w[st->n++] = (struct admin_word){s, (size_t)(p - s)};
    }
}

/* Whether the words of the space-separated phrase start the text at p
 * (case-insensitive; any blanks between words). */
static bool starts_with(const char *p, const char *phrase)
{
    while (*phrase) {
        size_t n = strcspn(phrase, " ");

        if (strncasecmp(p, phrase, n) != 0 || (p[n] && !isspace((unsigned char)p[n])))
            return false;
        p += n;
        phrase += n;
        while (isspace((unsigned char)*p))
            p++;
        while (*phrase == ' ')
            phrase++;
    }
    return true;
}

bool admin_stmt_match(const char *pattern, const struct admin_stmt *st, struct admin_args *a)
{
    const char *p = pattern;
    size_t i = 0;

    memset(a, 0, sizeof(*a));
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t plen = sp ? (size_t)(sp - p) : strlen(p);

        if (i == st->n)
            return plen == 1 && *p == '*' && !sp;
        if (p[plen - 1] == '*') {
            /* "X*": this word starts with X; capture it and the rest. */
            if (st->w[i].len < plen - 1 || strncasecmp(st->w[i].p, p, plen - 1) != 0)
                return false;
            a->rest = (struct admin_word){st->w[i].p, (size_t)(st->end - st->w[i].p)};
            return true;
        }
        if (plen == 1 && *p == '?') {
            if (a->n == ADMIN_MAX_ARGS)
                return false;
            a->arg[a->n++] = st->w[i];
        } else if (st->w[i].len != plen || strncasecmp(st->w[i].p, p, plen) != 0) {
            return false;
        }
        i++;
        p = sp ? sp + 1 : p + plen;
    }
    return i == st->n && !st->overflow;
}

/* Runs the statement at p; *next receives where the following one starts. */
static int run_statement(struct admin_exec *ex, const char *p, const char **next)
{
    struct admin_stmt st = {.start = p};
    struct admin_args a;

    /* The query in EXPLAIN QUERY RULES is a MySQL literal (the operator
     * copies it from an application), so there a \' does not end it. */
    st.end = stmt_end(p, starts_with(p, "EXPLAIN QUERY RULES"));
    split_words(&st);
    ex->stmt = &st;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (admin_stmt_match(commands[i].pattern, &st, &a)) {
            *next = *st.end ? st.end + 1 : st.end;
            return commands[i].run(ex, &a);
        }
    }
    *next = NULL;
    return admin_exec_sql(ex, p, next);
}

int admin_execute(struct admin_store *store, const struct admin_config *runtime, const char *sql,
                  size_t len, struct admin_result *res)
{
    struct admin_exec ex = {.store = store, .runtime = runtime, .res = res};
    char *buf = NULL;
    const char *p, *next;
    bool ran = false;
    int rc;

    if (!res)
        return ADMIN_EINVAL;
    memset(res, 0, sizeof(*res));
    if (!store || !store->db || (!sql && len))
        return admin_exec_fail(&ex, ER_UNKNOWN_ERROR, "HY000", "no admin store");
    /* SQLite would stop at a NUL and silently run only the first part. */
    if (len && memchr(sql, '\0', len))
        return admin_exec_fail(&ex, ER_PARSE_ERROR, "42000", "statement contains a NUL byte");
    buf = admin_dup_n(len ? sql : "", len);
    if (!buf)
        return admin_exec_oom(&ex);
    rc = admin_exec_functions(&ex);
    for (p = buf; rc == 0 && *(p = admin_skip_blank(p));) {
        if (*p == ';') {
            p++; /* an empty statement between two ';' */
            continue;
        }
        free(ex.prev_warnings);
        ex.prev_warnings = res->warnings;
        ex.n_prev_warnings = res->n_warnings;
        res->warnings = NULL;
        res->n_warnings = 0;
        admin_result_reset(res);
        ran = true;
        rc = run_statement(&ex, p, &next);
        if (!next || next == p)
            break;
        p = next;
    }
    if (rc == 0 && !ran)
        rc = admin_exec_fail(&ex, ER_EMPTY_QUERY, "42000", "Query was empty");
    free(ex.prev_warnings);
    free(buf);
    return rc;
}

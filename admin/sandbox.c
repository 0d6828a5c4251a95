/*
 * Keeping admin SQL inside SQLite. Whoever holds admin credentials can send
 * any SQL the admin interface passes to SQLite (exec_sql.c), so neither that SQL
 * nor a schema it leaves behind may reach the file system or native code.
 *
 * Two layers, because either alone has gaps:
 *   1. admin_sandbox_db() sets the connection up when the store opens it:
 *      defensive mode (no writable_schema, no journal_mode=OFF, no writes to
 *      shadow tables), no fts3_tokenizer() with a pointer argument (a known
 *      code-execution primitive), no extension loading, and at most one
 *      attached database: disk. These hold for every statement,
 *      the store's own included.
 *   2. admin_sandbox_authorizer(), the SQLite authorizer exec_sql.c installs
 *      while an operator's statement is prepared and run, refuses with a
 *      clear message what an operator has no need for: SQL functions outside an
 *      allow-list, pragmas outside a read-only allow-list, ATTACH, DETACH
 *      and virtual tables. admin_sandbox_statement() refuses VACUUM before
 *      SQLite sees it (SQLite does not authorize VACUUM itself; at run time
 *      it attaches its target file, which ATTACH's refusal would also stop,
 *      but with a message about ATTACH).
 *
 * Refusals set store->deny_reason and store->deny_access; exec_sql.c answers
 * them with MySQL's error 1227 (ER_SPECIFIC_ACCESS_DENIED_ERROR), SQLSTATE
 * 42000, "Access denied; <reason>". The store's own statements run without
 * the authorizer (exec_sql.c installs it only around an operator's
 * statement), so they may use any pragma or function.
 *
 * The same authorizer also guards the layers, which is not about escaping:
 * it refuses writes to runtime_* (they must show what is live, and LOAD of
 * another module rebuilds the snapshot from them), to the stats, monitor and
 * version tables, triggers on those, and dropping or altering any admin
 * table. Those refusals set only deny_reason: an ordinary error (1105). It
 * also notes the stats tables of main the statement reads (SQLITE_READ comes
 * for every column read, and once with an empty column for count(*)), so
 * exec_sql.c refreshes exactly those.
 */
#include "admin/admin_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* What operators use in SELECTs and UPDATEs: SQLite's core, date, JSON and
 * a few math functions, window functions, and exec_show.c's DATABASE(), USER()
 * and VERSION() for the mariadb client. Left out on purpose: zeroblob and
 * randomblob (a gigabyte for the asking), sqlite_compileoption_*, the FTS
 * auxiliary functions, and everything that touches files or native code. */
static const char *const allowed_functions[] = {
    /* aggregates and window functions */
    "avg", "count", "group_concat", "max", "min", "sum", "total", "row_number", "rank",
    "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead", "first_value", "last_value",
    "nth_value",
    /* core scalar functions (LIKE and GLOB call like and glob) */
    "abs", "changes", "char", "coalesce", "format", "glob", "hex", "ifnull", "iif", "instr",
    "last_insert_rowid", "length", "like", "likelihood", "likely", "lower", "ltrim", "nullif",
    "printf", "quote", "random", "replace", "round", "rtrim", "sign", "soundex", "sqlite_version",
    "substr", "substring", "total_changes", "trim", "typeof", "unicode", "unlikely", "upper",
    /* date and time */
    "date", "datetime", "julianday", "strftime", "time", "unixepoch",
    /* math */
    "ceil", "ceiling", "floor", "mod", "pow", "power", "sqrt",
    /* JSON (-> and ->> are operators that call functions of those names) */
    "json", "json_array", "json_array_length", "json_extract", "json_insert", "json_object",
    "json_patch", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
    "json_valid", "json_group_array", "json_group_object", "->", "->>",
    /* exec_show.c's functions for MySQL clients */
    "database", "schema", "user", "current_user", "session_user", "system_user", "version"};

/* Functions that reach files or native code. Some exist only in the sqlite3
 * shell (writefile, readfile, edit); naming them lets a "no such function"
 * error say they are refused rather than merely missing. */
static const char *const escape_functions[] = {"load_extension", "fts3_tokenizer", "writefile",
                                               "readfile", "edit"};

/* Pragmas that only describe the schema or check the store. Everything else
 * is refused, reads included: several pragmas act even without an argument
 * (optimize, shrink_memory, wal_checkpoint, incremental_vacuum). */
static const char *const allowed_pragmas[] = {
    "table_info",    "table_xinfo",    "table_list",       "index_list",
    "index_info",    "index_xinfo",    "foreign_key_list", "foreign_key_check",
    "database_list", "collation_list", "integrity_check",  "quick_check"};

static bool in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], name) == 0)
            return true;
    return false;
}

__attribute__((format(printf, 2, 3))) static int deny(struct admin_store *store, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(store->deny_reason, sizeof(store->deny_reason), fmt, ap);
    va_end(ap);
    store->deny_access = true;
    return SQLITE_DENY;
}

/* One sqlite3_db_config() switch, read back: a setting SQLite ignored must
 * fail the open rather than leave the store unprotected. */
static int set_flag(sqlite3 *db, int op, int want, const char *what, char *errbuf, size_t errlen)
{
    int now = -1;

    if (sqlite3_db_config(db, op, want, &now) != SQLITE_OK || now != want) {
        admin_set_error(errbuf, errlen, "cannot set %s on the admin store", what);
        return ADMIN_EIO;
    }
    return 0;
}

int admin_sandbox_db(sqlite3 *db, char *errbuf, size_t errlen)
{
    int rc;

    rc = set_flag(db, SQLITE_DBCONFIG_DEFENSIVE, 1, "SQLITE_DBCONFIG_DEFENSIVE", errbuf, errlen);
    if (rc == 0)
        rc = set_flag(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0,
                      "SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER", errbuf, errlen);
    if (rc == 0)
        rc = set_flag(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0,
                      "SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION", errbuf, errlen);
    /* SQLITE_DBCONFIG_TRUSTED_SCHEMA stays on: the admin tables check
     * their JSON columns with json_valid(), which SQLite 3.40 (Debian 12)
     * does not mark innocuous, so an untrusted schema would refuse every
     * INSERT into them. What it would add is covered anyway: load_extension()
     * and fts3_tokenizer() are SQLITE_DIRECTONLY (never run from a view or
     * trigger), and operators cannot create virtual tables. */
    if (rc != 0)
        return rc;
    /* Also turns off load_extension() in SQL, which the flag above already
     * did; kept so the intent does not hang on one switch. */
    if (sqlite3_enable_load_extension(db, 0) != SQLITE_OK) {
        admin_set_error(errbuf, errlen, "cannot turn off extension loading on the admin store");
        return ADMIN_EIO;
    }
    /* disk is the only database ever attached; any other ATTACH (VACUUM
     * INTO attaches its target) fails even without the authorizer. */
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 1);
    return 0;
}

/* The authorizer's part for SQL functions, pragmas, ATTACH, DETACH and
 * virtual tables: what would leave SQLite. */
static int authorize_escape(struct admin_store *store, int action, const char *a1, const char *a2)
{
    switch (action) {
    case SQLITE_FUNCTION:
        /* a2 is the function's name. */
        if (a2 && in_list(allowed_functions, NELEM(allowed_functions), a2))
            return SQLITE_OK;
        return deny(store, "function %.64s() is not allowed on the admin interface", a2 ? a2 : "?");
    case SQLITE_PRAGMA:
        /* a1 is the pragma's name, a2 its argument. */
        if (a1 && in_list(allowed_pragmas, NELEM(allowed_pragmas), a1))
            return SQLITE_OK;
        return deny(store,
                    "PRAGMA %.40s is not allowed on the admin interface (only schema pragmas "
                    "such as table_info and index_list are)",
                    a1 ? a1 : "?");
    case SQLITE_ATTACH:
        return deny(store, "ATTACH is not allowed on the admin interface (schema disk is the "
                           "store file)");
    case SQLITE_DETACH:
        return deny(store, "DETACH is not allowed on the admin interface (schema disk is the "
                           "store file)");
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
        return deny(store, "virtual tables are not allowed on the admin interface");
    default:
        return SQLITE_OK;
    }
}

/* The authorizer of operator statements. */

/* Refuses what would break the layers rather than leave SQLite: answered as
 * an ordinary error (1105), so deny_access stays false. */
__attribute__((format(printf, 2, 3))) static int refuse(struct admin_store *store, const char *fmt,
                                                        ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(store->deny_reason, sizeof(store->deny_reason), fmt, ap);
    va_end(ap);
    return SQLITE_DENY;
}

/* INSERT, UPDATE or DELETE on table: refused on the tables others write
 * (the stats tables, whose rows are replaced at every read, the monitor log,
 * the versions) and on runtime_*, which must show what is live. */
static int authorize_write(struct admin_store *store, const char *table)
{
    bool runtime = false;

    if (!table)
        return SQLITE_OK;
    if (admin_stats_table(table))
        return refuse(store, "%s is read-only: it is computed when queried", table);
    if (admin_monitor_table(table))
        return refuse(store, "%s is read-only: the monitor writes it", table);
    if (admin_versions_table(table))
        return refuse(store,
                      "%s is read-only: LOAD ... TO RUNTIME records versions, ROLLBACK restores "
                      "them",
                      table);
    if (!admin_table_known(table, &runtime) || !runtime)
        return SQLITE_OK;
    return refuse(store, "%s is read-only: it shows the runtime; change %s and LOAD it TO RUNTIME",
                  table, table + 8);
}

/* A trigger on the stats or monitor tables would fire on every refresh; one
 * on the versions would let SQL change what is read-only. */
static int authorize_trigger(struct admin_store *store, const char *table)
{
    if (!table ||
        (!admin_stats_table(table) && !admin_monitor_table(table) && !admin_versions_table(table)))
        return SQLITE_OK;
    return refuse(store, "%s is %s and cannot have triggers", table,
                  admin_versions_table(table) ? "written by LOAD only" : "computed when queried");
}

/* DROP TABLE or ALTER TABLE of any table admin code relies on. */
static int authorize_drop(struct admin_store *store, const char *table)
{
    if (!table || (!admin_table_known(table, NULL) && !admin_stats_table(table) &&
                   !admin_monitor_table(table) && !admin_versions_table(table)))
        return SQLITE_OK;
    return refuse(store, "%s is an admin table and cannot be dropped or altered", table);
}

int admin_sandbox_authorizer(void *arg, int action, const char *a1, const char *a2, const char *db,
                             const char *trigger)
{
    struct admin_store *store = arg;

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
        return authorize_write(store, a1);
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TRIGGER:
        return authorize_trigger(store, a2);
    case SQLITE_DROP_TABLE:
        return authorize_drop(store, a1);
    case SQLITE_ALTER_TABLE:
        return authorize_drop(store, a2);
    case SQLITE_FUNCTION:
    case SQLITE_PRAGMA:
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
        return authorize_escape(store, action, a1, a2);
    default:
        return SQLITE_OK;
    }
}

/* Is the statement at p, after blanks and comments, one starting with kw? */
static bool starts_with_word(const char *p, const char *kw)
{
    size_t n = strlen(kw);
    char c;

    p = admin_skip_blank(p);
    if (strncasecmp(p, kw, n) != 0)
        return false;
    c = p[n];
    return !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
             (c >= 'A' && c <= 'Z'));
}

bool admin_sandbox_statement(struct admin_store *store, const char *sql)
{
    if (!starts_with_word(sql, "VACUUM"))
        return false;
    deny(store, "VACUUM is not allowed on the admin interface");
    return true;
}

bool admin_sandbox_unknown_function(struct admin_store *store, const char *msg)
{
    static const char prefix[] = "no such function: ";

    if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0)
        return false;
    msg += sizeof(prefix) - 1;
    if (!in_list(escape_functions, NELEM(escape_functions), msg))
        return false;
    deny(store, "function %.64s() is not allowed on the admin interface", msg);
    return true;
}

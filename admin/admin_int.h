/*
 * Admin module internals shared by store.c (opening the store, the one-time
 * config script), layers.c (table definitions and copies between MEMORY,
 * RUNTIME and DISK), config.c, globals.c and rules.c (the snapshot built
 * from the tables), exec*.c (the admin statements), stats_tables.c (the stats
 * tables computed when queried), versions.c (configuration versions,
 * ROLLBACK and DIFF) and ruletests.c (rule tests and lint at LOAD). Nothing
 * outside admin/ should include this.
 */
#ifndef SLUICE_ADMIN_ADMIN_INT_H
#define SLUICE_ADMIN_ADMIN_INT_H

#include "admin/admin.h"

#include <sqlite3.h>
#include <stdarg.h>

/* How much of a failing statement is quoted in an error message. */
#define ADMIN_EXCERPT_MAX 60

struct admin_store {
    sqlite3 *db; /* MEMORY as main, DISK attached as disk; one thread only */
    char *path;  /* datadir/sluice.db, malloc'd */
    /* Set by the authorizer when it refuses a statement, so the error can say
     * why instead of SQLite's bare "not authorized". */
    char deny_reason[160];
    /* The refusal keeps SQL inside SQLite (sandbox.c): answered as MySQL's
     * 1227 "Access denied; ..." rather than 1105. */
    bool deny_access;
    /* What SQL's VERSION() answers: a copy, since the snapshot it comes
     * from may be freed while the function stays registered. */
    char version[64];
    bool functions_ready;         /* DATABASE(), USER()... registered (exec_show.c) */
    struct admin_sources sources; /* what the stats tables show (stats_tables.c) */
    /* ADMIN_STATS_* bits of the stats tables the statement being prepared
     * reads, noted by the authorizer (sandbox.c). */
    unsigned stats_read;
};

/* The layers; each maps to a table-name prefix (see admin_layer_prefix). */
enum admin_layer {
    ADMIN_LAYER_MEMORY,  /* main.<table> */
    ADMIN_LAYER_RUNTIME, /* main.runtime_<table> */
    ADMIN_LAYER_DISK,    /* disk.<table> */
};

/* Formats a message into errbuf; a NULL errbuf or zero errlen is ignored so
 * callers need not check. Never pass a password as an argument. */
void admin_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns a pointer past blanks and SQL comments (-- and block comments). */
const char *admin_skip_blank(const char *p);

/* Copies the start of a statement into out (at most ADMIN_EXCERPT_MAX
 * characters plus "..."), on one line, stopping at the first quote so no
 * literal (possibly a password) is ever quoted. */
void admin_excerpt(const char *stmt, char *out, size_t outlen);

/* SQLite echoes the offending token in syntax errors; when that token is a
 * string literal it may be a password, so this returns a description
 * instead. Other messages are returned unchanged. */
const char *admin_safe_sqlite_msg(const char *msg);

/* Inserts the default global_variables rows that are missing (INSERT OR
 * IGNORE) into MEMORY, so a config script only overrides what it names and a
 * store created by an older version gains new variables on open. The defaults
 * live in globals.c next to their parsers so the two cannot drift apart.
 * Returns 0 or ADMIN_ESQL with a message in errbuf. Defined in globals.c. */
int admin_globals_prefill(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The built-in default of a global variable, or NULL if unknown (globals.c). */
const char *admin_global_default(const char *name);

/* The name of the i-th known global variable, or NULL past the last, for
 * walking them all (globals.c). */
const char *admin_global_at(size_t i);

/* Checks value as the variable name's parser at LOAD ... TO RUNTIME would
 * (the type and bounds of that one variable). Returns 0, ADMIN_EINVAL with a
 * message (a secret's value is never quoted), or ADMIN_ENOMEM (globals.c). */
int admin_global_check(const char *name, const char *value, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Seeds every global variable of cfg with its default, then applies the
 * mysql-* rows of <mysql_from>global_variables and the admin-* rows of
 * <admin_from>global_variables (prefixes "main." or "main.runtime_"), and
 * checks the variables against each other. Returns 0 or ADMIN_E* with a
 * message (globals.c). */
int admin_globals_load(sqlite3 *db, const char *mysql_from, const char *admin_from,
                       struct admin_config *cfg, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads active rows of <prefix>mysql_query_rules (prefix "main." or
 * "main.runtime_") and compiles them into cfg->rules (rules.c). Returns 0 or
 * ADMIN_E* with a message. */
int admin_load_rules(sqlite3 *db, const char *prefix, struct admin_config *cfg, char *errbuf,
                     size_t errlen) __attribute__((warn_unused_result));

/* Table-name prefix of a layer: "main.", "main.runtime_" or "disk.". */
const char *admin_layer_prefix(enum admin_layer layer);

/* Creates the admin tables of a layer if they do not exist (layers.c). */
int admin_layer_create(sqlite3 *db, enum admin_layer layer, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Replaces the tables of the modules in mods in layer `to` by those of layer
 * `from`, inside one savepoint (all or nothing). global_variables is copied
 * whole when both variable modules are in mods, else only the rows of the
 * module's prefix. Adds the number of rows copied to *rows if not NULL.
 * After a copy into MEMORY the missing default variables are filled in
 * again. Returns 0 or ADMIN_ESQL with a message (layers.c). */
int admin_layer_copy(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                     uint64_t *rows, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* How admin_layer_to_runtime() treats the checks of the candidate. */
#define ADMIN_LOAD_FORCE 0x01u   /* failing rule tests become warnings */
#define ADMIN_LOAD_STARTUP 0x02u /* no tests or lint; a version only if changed */

/* LOAD <mods> TO RUNTIME: builds a snapshot with mods from MEMORY and the
 * rest from runtime_*, runs the rule tests and lint on it
 * (admin_rule_checks), and only if it validates and the tests pass (or
 * flags has ADMIN_LOAD_FORCE) copies mods' MEMORY tables to runtime_* and
 * records a version of each module (admin_versions_record); all inside one
 * savepoint. Warnings go to res (NULL: dropped). Returns 0 and the snapshot
 * in *out, or a negative code with nothing changed (layers.c). */
int admin_layer_to_runtime(struct admin_store *store, unsigned mods, unsigned flags,
                           struct admin_result *res, struct admin_config **out, char *errbuf,
                           size_t errlen) __attribute__((warn_unused_result));

/* A table a module owns, for code that walks a module's rows generically
 * (versions.c): its name, its primary key columns ("a,b") and the SQL
 * condition selecting the module's rows in it. */
struct admin_mod_table {
    const char *name;
    const char *key;
    const char *where;
};

/* Fills out with the tables of module mod (one ADMIN_MOD_* bit), in a fixed
 * order; returns how many (at most max) (layers.c). */
size_t admin_module_tables(unsigned mod, struct admin_mod_table *out, size_t max);

/* "MYSQL QUERY RULES" etc., or NULL for anything but one module bit (layers.c). */
const char *admin_module_name(unsigned mod);

/* Appends a warning to res (NULL: ignored); past ADMIN_MAX_WARNINGS only
 * the count grows. Quietly counts a warning it has no memory for (exec_result.c). */
void admin_result_warn(struct admin_result *res, uint16_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Configuration versions (versions.c): mysql_config_versions and
 * mysql_config_version_rows, in MEMORY and DISK. Each module keeps its
 * newest ADMIN_VERSIONS_KEEP versions. */
#define ADMIN_VERSIONS_KEEP 50

/* Creates the version tables in schema "main" or "disk" if missing. */
int admin_versions_create(sqlite3 *db, const char *schema, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* True for the version tables' names: read-only for operators. */
bool admin_versions_table(const char *name);

/* Records a version of each module in mods from its runtime_* rows, and
 * prunes each module to its newest ADMIN_VERSIONS_KEEP versions. With
 * only_if_changed, a module whose checksum equals its newest version's is
 * skipped. Runs in the caller's savepoint. Returns 0 or ADMIN_E*. */
int admin_versions_record(sqlite3 *db, unsigned mods, bool only_if_changed, char *errbuf,
                          size_t errlen) __attribute__((warn_unused_result));

/* Merges the versions of mods from one of MEMORY/DISK into the other
 * (versions never change, so a merge loses nothing), then prunes. Other
 * layer pairs do nothing. Returns 0 or ADMIN_E*. */
int admin_versions_copy(sqlite3 *db, unsigned mods, enum admin_layer from, enum admin_layer to,
                        char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* ROLLBACK <mod> TO VERSION version: restores that version's rows into
 * MEMORY and loads the module to runtime (recording a new version), all or
 * nothing. Not inside an operator's transaction (the caller checks).
 * Returns 0 and *out, or ADMIN_EINVAL (unknown version, another module's),
 * ADMIN_E* with a message. */
int admin_versions_rollback(struct admin_store *store, unsigned mod, int64_t version,
                            unsigned flags, struct admin_result *res, struct admin_config **out,
                            char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* One side of a DIFF: a layer, or a recorded version (layer ignored). */
struct admin_diff_side {
    enum admin_layer layer;
    int64_t version; /* > 0: that version's rows */
};

/* The SQL (sqlite3_mprintf'd; caller frees) of DIFF <mod> a b: rows
 * (change, table_name, row_key, column_name, value_a, value_b). NULL on OOM
 * or when mod is not one module. */
char *admin_diff_sql(sqlite3 *db, unsigned mod, const struct admin_diff_side *a,
                     const struct admin_diff_side *b);

/* A versions command, parsed (versions.c). */
struct admin_version_cmd {
    enum {
        ADMIN_VCMD_SHOW,     /* SHOW CONFIG VERSIONS [FOR <mod>]; mod 0: all */
        ADMIN_VCMD_ROLLBACK, /* ROLLBACK <mod> TO VERSION <version> [FORCE] */
        ADMIN_VCMD_DIFF,     /* DIFF <mod> [<side> [<side>]] */
    } kind;
    unsigned mod;
    int64_t version;
    bool force;
    struct admin_diff_side sides[2]; /* default MEMORY, RUNTIME */
};

/* Parses one of the statements above (len bytes, no ';'; keywords in any
 * case, MEM and RUN as aliases). Returns 0, or ADMIN_EINVAL for anything
 * else. */
int admin_version_cmd_parse(const char *sql, size_t len, struct admin_version_cmd *cmd)
    __attribute__((warn_unused_result));

/* Rule tests and lint at LOAD TO RUNTIME (ruletests.c): with MYSQL QUERY
 * RULES in mods, runs the active rows of main.mysql_query_rules_tests
 * through cfg's rules; with it or MYSQL SERVERS in mods, lints the rules
 * against cfg's servers. Lint and (with ADMIN_LOAD_FORCE) failing tests go
 * to res as warnings; without FORCE failing tests return ADMIN_EINVAL with
 * a message listing them. Returns 0 or ADMIN_E*. */
int admin_rule_checks(sqlite3 *db, unsigned mods, unsigned flags, const struct admin_config *cfg,
                      struct admin_result *res, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The stats tables a statement reads, as ADMIN_STATS_* bits (stats_tables.c). */
#define ADMIN_STATS_DIGEST 0x01u          /* stats_mysql_query_digest */
#define ADMIN_STATS_DIGEST_RESET 0x02u    /* stats_mysql_query_digest_reset */
#define ADMIN_STATS_POOL 0x04u            /* stats_mysql_connection_pool */
#define ADMIN_STATS_ADVISOR 0x100u        /* stats_mysql_pool_advisor */
#define ADMIN_STATS_PIN_REASONS 0x08u     /* stats_mysql_pin_reasons */
#define ADMIN_STATS_PIN_DIGESTS 0x10u     /* stats_mysql_pin_digests */
#define ADMIN_STATS_MULTIPLEXING 0x20u    /* stats_mysql_multiplexing */
#define ADMIN_STATS_QUERY_RULES 0x200u    /* stats_mysql_query_rules */
#define ADMIN_STATS_GLOBAL 0x400u         /* stats_mysql_global */
#define ADMIN_STATS_COMMANDS 0x800u       /* stats_mysql_commands_counters */
#define ADMIN_STATS_PROCESSLIST 0x1000u   /* stats_mysql_processlist */
#define ADMIN_STATS_HOST_CACHE 0x2000u    /* stats_mysql_client_host_cache */
#define ADMIN_STATS_USERS 0x4000u         /* stats_mysql_users */
#define ADMIN_STATS_ERRORS 0x8000u        /* stats_mysql_errors */
#define ADMIN_STATS_ERRORS_RESET 0x10000u /* stats_mysql_errors_reset */
#define ADMIN_STATS_FREE_CONNS 0x20000u   /* stats_mysql_free_connections */
#define ADMIN_STATS_STMTS 0x40000u        /* stats_mysql_prepared_statements_info */
#define ADMIN_STATS_PROXY                                                                          \
    (ADMIN_STATS_QUERY_RULES | ADMIN_STATS_GLOBAL | ADMIN_STATS_COMMANDS |                         \
     ADMIN_STATS_PROCESSLIST | ADMIN_STATS_HOST_CACHE | ADMIN_STATS_USERS | ADMIN_STATS_ERRORS |   \
     ADMIN_STATS_ERRORS_RESET | ADMIN_STATS_FREE_CONNS | ADMIN_STATS_STMTS)

/* Helpers of the stats tables' refills (stats_tables.c), shared with
 * stats_proxy.c. exec runs sql from sqlite3_mprintf (NULL: out of memory)
 * and frees it; prepare_insert prepares an INSERT of n values into cols
 * (NULL: every column in order); insert_row steps and resets it; clear
 * empties a table. Each returns 0 or a negative ADMIN_E* with errbuf set. */
int admin_stats_exec(sqlite3 *db, char *sql, char *errbuf, size_t errlen, const char *what);
int admin_stats_prepare_insert(sqlite3 *db, const char *table, const char *cols, int n,
                               sqlite3_stmt **out, char *errbuf, size_t errlen);
int admin_stats_insert_row(sqlite3 *db, sqlite3_stmt *ins, const char *table, char *errbuf,
                           size_t errlen);
int admin_stats_clear(sqlite3 *db, const char *table, char *errbuf, size_t errlen);
/* v clamped to SQLite's signed 64-bit integers. */
sqlite3_int64 admin_stats_i64(uint64_t v);

/* Creates the stats tables in MEMORY if they do not exist (stats_tables.c). */
int admin_stats_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* The ADMIN_STATS_* bit of a stats table name (no schema), or 0. */
unsigned admin_stats_table(const char *name);

/* Replaces the rows of the stats tables in mask by the sources' current
 * figures, inside one savepoint (all or nothing; works inside an operator's
 * transaction). ADMIN_STATS_DIGEST_RESET also resets the digest counters,
 * even when writing the rows then fails. Returns 0 or a negative ADMIN_E*
 * code with a message (stats_tables.c). */
int admin_stats_refresh(struct admin_store *store, unsigned mask, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* Creates the table definitions and fills the tables fed by
 * admin_sources.proxy_stats (stats_proxy.c): the ADMIN_STATS_PROXY bits of
 * mask. Same contract as admin_stats_refresh, inside its savepoint. */
int admin_stats_proxy_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
unsigned admin_stats_proxy_table(const char *name);
int admin_stats_proxy_fill(sqlite3 *db, const struct admin_sources *src, unsigned mask,
                           char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The monitor log tables (monitor_log.c): created in MEMORY at open;
 * admin_monitor_table() tells the authorizer which names to protect. */
int admin_monitor_create(sqlite3 *db, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));
bool admin_monitor_table(const char *name);

/* Keeping admin SQL inside SQLite (sandbox.c; see the top of that file). */

/* Sets up a connection of the store: defensive mode, no fts3_tokenizer()
 * pointers, no extension loading, one attached database at most. Returns 0 or ADMIN_EIO with a
 * message if SQLite refuses one. */
int admin_sandbox_db(sqlite3 *db, char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* The SQLite authorizer (sqlite3_set_authorizer(), arg the store) of an
 * operator's statement: returns SQLITE_DENY with store->deny_reason set for
 * what would break the layers, and also store->deny_access for what would
 * leave SQLite; else SQLITE_OK, noting in store->stats_read the stats tables
 * of main the statement reads. */
int admin_sandbox_authorizer(void *store, int action, const char *a1, const char *a2,
                             const char *db, const char *trigger);

/* Refuses, before SQLite prepares it, an operator statement SQLite does not
 * authorize (VACUUM): true with the deny fields set. */
bool admin_sandbox_statement(struct admin_store *store, const char *sql);

/* Given SQLite's message for a failed prepare, true (with the deny fields
 * set) when it is "no such function" for a function that would escape
 * SQLite where it exists (writefile() of the sqlite3 shell...). */
bool admin_sandbox_unknown_function(struct admin_store *store, const char *msg);

/* True if name (in any schema) is one of the admin tables or their runtime_
 * mirrors; *runtime tells which (layers.c). */
bool admin_table_known(const char *name, bool *runtime);

/* The admin statements (exec*.c; see the top of exec.c). */

/* MySQL's error numbers (mysqld_error.h names) for admin results. */
#define ER_UNKNOWN_ERROR 1105
#define ER_PARSE_ERROR 1064
#define ER_EMPTY_QUERY 1065
#define ER_BAD_DB_ERROR 1049
#define ER_NO_SUCH_TABLE 1146
#define ER_CANT_DO_THIS_DURING_AN_TRANSACTION 1179
#define ER_UNKNOWN_SYSTEM_VARIABLE 1193
#define ER_SPECIFIC_ACCESS_DENIED_ERROR 1227

/* More words than any command has; longer statements can only match "*". */
#define ADMIN_MAX_WORDS 12
#define ADMIN_MAX_ARGS 2

/* A piece of the statement text (not NUL-terminated). */
struct admin_word {
    const char *p;
    size_t len;
};

/* One statement, delimited and cut into words. */
struct admin_stmt {
    const char *start, *end; /* without the terminating ';' */
    struct admin_word w[ADMIN_MAX_WORDS];
    size_t n;
    bool overflow; /* more than ADMIN_MAX_WORDS words */
};

/* What a pattern captured. */
struct admin_args {
    struct admin_word arg[ADMIN_MAX_ARGS]; /* "?" words */
    size_t n;
    struct admin_word rest; /* "X*": from that word to the end of the statement */
};

/* One admin_execute() call: what every command handler works with. */
struct admin_exec {
    struct admin_store *store;
    const struct admin_config *runtime; /* borrowed; NULL before the first LOAD */
    struct admin_result *res;
    const struct admin_stmt *stmt; /* the statement being run */
    /* The previous statement's warnings in this string, for a SHOW
     * WARNINGS after it (owned). */
    struct admin_warning *prev_warnings;
    size_t n_prev_warnings;
};

/* Delimits the statement at p (NUL-terminated): up to the next ';' outside
 * quotes and comments, backslash escapes honoured only in EXPLAIN QUERY
 * RULES, whose query is a MySQL literal; then cuts it into blank-separated
 * words (exec.c). st points into p. */
void admin_stmt_split(const char *p, struct admin_stmt *st);

/* Whether the pattern (words separated by one space) matches st: words
 * match case-insensitively, "?" takes one word into a->arg and "X*" a word
 * starting with X, capturing it and the rest of the statement in a->rest
 * (exec.c). */
bool admin_stmt_match(const char *pattern, const struct admin_stmt *st, struct admin_args *a);

/* Returns p advanced past white space, at most to end (exec.c). */
const char *admin_skip_space(const char *p, const char *end);

/* Result building (exec_result.c). Each admin_exec_* below that fails
 * leaves an ERROR result and returns its code. */

/* Makes ex->res an ERROR result with code, sqlstate and the formatted
 * message; returns ADMIN_ESQL. */
int admin_exec_fail(struct admin_exec *ex, uint16_t code, const char *sqlstate, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* An ERROR result "out of memory"; returns ADMIN_ENOMEM. */
int admin_exec_oom(struct admin_exec *ex);

/* Makes ex->res an OK result with affected rows; returns 0. */
int admin_exec_ok(struct admin_exec *ex, uint64_t affected);

/* Starts a result set with these n column names; returns 0 or ADMIN_ENOMEM. */
int admin_exec_columns(struct admin_exec *ex, size_t n, const char *const *names);

/* Appends a row of ncols NUL-terminated values (NULL: SQL NULL), copied. */
int admin_exec_add_row(struct admin_exec *ex, const char *const *values);

/* Appends an empty row (all NULL) to res and returns it, or NULL on OOM. */
char **admin_result_new_row(struct admin_result *res);

/* Empties res for the next statement, keeping a snapshot an earlier one
 * loaded (res->new_runtime) and the proxy actions asked for (res->actions). */
void admin_result_reset(struct admin_result *res);

/* A malloc'd NUL-terminated copy of n bytes of s, or NULL. */
char *admin_dup_n(const char *s, size_t n);

/* Running SQL (exec_sql.c). */

/* Runs the operator's SQLite statement at sql under the authorizer,
 * refilling the stats tables it reads; *tail (if not NULL) receives where
 * the next statement begins. Returns 0 or a negative ADMIN_E* code. */
int admin_exec_sql(struct admin_exec *ex, const char *sql, const char **tail);

/* Runs an internal read-only query, binding param to ?1 if not NULL. sql
 * is from sqlite3_mprintf (NULL: out of memory) and freed here. */
int admin_exec_query(struct admin_exec *ex, char *sql, const char *param);

/* Registers DATABASE(), USER(), VERSION()... once per store and refreshes
 * what VERSION() answers from ex->runtime (exec_show.c). */
int admin_exec_functions(struct admin_exec *ex);

/* ProxySQL's schemas stats and monitor (schemas.c). */

/* Rewrites, in place, stats.<t> and monitor.<t> in [p, end) to main.<t>
 * when <t> is a table of that schema (a stats table, a monitor log), so
 * ProxySQL's qualified names reach main's tables. Literals and comments are
 * left alone; the text keeps its length. */
void admin_schema_rewrite(char *p, const char *end);

/* "main", "disk", "stats" or "monitor" for name in any case, else NULL. */
const char *admin_schema_name(const char *name);

/* SET (exec_set.c). */
enum admin_set_kind {
    ADMIN_SET_SESSION, /* what client libraries send (SET NAMES...): no effect */
    ADMIN_SET_GLOBAL,  /* SET mysql-|admin-|monitor-<name> = <value> */
};
struct admin_set {
    enum admin_set_kind kind;
    char name[96];    /* GLOBAL: as written, without backquotes */
    char value[1024]; /* GLOBAL: unquoted */
};

/* Parses the SET statement sql (len bytes, no ';'). Returns 0, or
 * ADMIN_EINVAL for a malformed global SET (no '=', an unterminated quote,
 * several assignments, a value with blanks unquoted, too long). */
int admin_set_parse(const char *sql, size_t len, struct admin_set *out)
    __attribute__((warn_unused_result));

/* Levenshtein distance of a and b, letters compared case-insensitively. */
size_t admin_edit_distance(const char *a, const char *b);

/* The known global variable closest to name by edit distance (the first of
 * equals), and the canonical spelling of name if it is known (any case),
 * else NULL. */
const char *admin_global_closest(const char *name);
const char *admin_global_known(const char *name);

/* The command handlers of exec.c's table: each runs the statement ex->stmt
 * with what its pattern captured, and returns 0 or a negative ADMIN_E* code
 * with res an ERROR result. */
/* exec_show.c: SELECT @@var, SHOW, USE */
int admin_cmd_sysvars(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_show_databases(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_show_tables(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_show_create(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_use(struct admin_exec *ex, const struct admin_args *a);
/* exec_set.c: SET */
int admin_cmd_set(struct admin_exec *ex, const struct admin_args *a);
/* exec_proxysql.c: SHOW MYSQL STATUS|VARIABLES, PROXYSQL ... */
int admin_cmd_show_mysql(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_proxysql(struct admin_exec *ex, const struct admin_args *a);
/* exec_sql.c: START TRANSACTION */
int admin_cmd_begin(struct admin_exec *ex, const struct admin_args *a);
/* exec_layers.c: LOAD, SAVE, SHOW CONFIG VERSIONS, ROLLBACK ... TO VERSION, DIFF */
int admin_cmd_layer(struct admin_exec *ex, const struct admin_args *a);
int admin_cmd_versions(struct admin_exec *ex, const struct admin_args *a);
/* exec_explain.c: EXPLAIN QUERY RULES */
int admin_cmd_explain(struct admin_exec *ex, const struct admin_args *a);
/* exec_result.c: SHOW WARNINGS */
int admin_cmd_show_warnings(struct admin_exec *ex, const struct admin_args *a);

#endif

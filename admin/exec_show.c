/*
 * What MySQL clients and tools send that SQLite cannot answer as they expect:
 * SHOW DATABASES|SCHEMAS, SHOW TABLES [FROM|IN <db>], SHOW CREATE TABLE, USE,
 * SELECT @@variable[, @@variable...] [LIMIT n], and the SQL functions
 * DATABASE(), USER(), VERSION()... The admin interface has two databases:
 * main (MEMORY, the runtime_* mirrors, the stats and monitor tables) and
 * disk (DISK); unqualified names always mean main. ProxySQL's schema names
 * stats and monitor are shown too and name main's tables (schemas.c).
 */
#include "admin/admin_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The most variables one SELECT @@a, @@b... may name. */
#define MAX_SYSVARS 16

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

/* SHOW, USE and SET. */

/* Copies a word without surrounding backquotes or double quotes. */
static void unquote(const struct admin_word *w, char *out, size_t outlen)
{
    size_t n = 0;

    for (size_t i = 0; i < w->len && n + 1 < outlen; i++)
        if (w->p[i] != '`' && w->p[i] != '"')
            out[n++] = w->p[i];
    out[n] = '\0';
}

static int unknown_db(struct admin_exec *ex, const char *name)
{
    return admin_exec_fail(ex, ER_BAD_DB_ERROR, "42000",
                           "Unknown database '%.64s' (main, disk, stats or monitor)", name);
}

int admin_cmd_show_databases(struct admin_exec *ex, const struct admin_args *a)
{
    static const char *const names[] = {"Database"};
    static const char *const rows[][1] = {{"main"}, {"disk"}, {"stats"}, {"monitor"}};
    int rc;

    (void)a;
    rc = admin_exec_columns(ex, 1, names);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && rc == 0; i++)
        rc = admin_exec_add_row(ex, rows[i]);
    return rc;
}

/* The tables ProxySQL shows in its schemas stats and monitor, which Sluice
 * keeps in main (schemas.c). */
static void schema_tables(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *schema = sqlite3_user_data(ctx);
    const unsigned char *t = sqlite3_value_text(argv[0]);

    (void)argc;
    sqlite3_result_int(ctx,
                       t && (strcmp(schema, "stats") == 0 ? admin_stats_table((const char *)t) != 0
                                                          : admin_monitor_table((const char *)t)));
}

/* Column "tables", as ProxySQL's admin answers; sqlite_* tables are hidden.
 * main lists everything, stats and monitor the tables ProxySQL has there. */
int admin_cmd_show_tables(struct admin_exec *ex, const struct admin_args *a)
{
    char name[72];
    const char *schema = "main", *filter = "";

    if (a->n == 1) {
        unquote(&a->arg[0], name, sizeof(name));
        schema = admin_schema_name(name);
        if (!schema)
            return unknown_db(ex, name);
    }
    if (strcmp(schema, "stats") == 0 || strcmp(schema, "monitor") == 0) {
        /* A function of the store's connection: internal queries run without
         * the authorizer, so it need not be on the allow-list. */
        if (sqlite3_create_function(ex->store->db, "sluice_in_schema", 1, SQLITE_UTF8,
                                    (void *)schema, schema_tables, NULL, NULL) != SQLITE_OK)
            return admin_exec_oom(ex);
        filter = " AND sluice_in_schema(name)";
        schema = "main";
    }
    return admin_exec_query(ex,
                            sqlite3_mprintf("SELECT name AS tables FROM %s.sqlite_master"
                                            " WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%%'"
                                            " ESCAPE '\\'%s ORDER BY name",
                                            schema, filter),
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
        schema = admin_schema_name(name);
        if (!schema)
            return unknown_db(ex, name);
        table = dot + 1;
        /* ProxySQL's stats and monitor tables are kept in main (schemas.c). */
        if (strcmp(schema, "stats") == 0 || strcmp(schema, "monitor") == 0)
            schema = "main";
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

int admin_cmd_use(struct admin_exec *ex, const struct admin_args *a)
{
    char name[72];

    unquote(&a->arg[0], name, sizeof(name));
    /* Unqualified names always mean main; disk is reached as disk.<table>.
     * ProxySQL's stats and monitor tables are in main too, so USE stats
     * changes nothing either. */
    if (!admin_schema_name(name) || strcasecmp(name, "disk") == 0)
        return unknown_db(ex, name);
    return admin_exec_ok(ex, 0);
}

/* SELECT @@variable. */

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

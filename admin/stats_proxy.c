/*
 * The stats tables fed by the proxy's own figures (admin_sources.proxy_stats),
 * with ProxySQL's names and columns:
 *
 *   stats_mysql_query_rules        (rule_id, hits) of the live rule set
 *   stats_mysql_global             (Variable_Name, Variable_Value)
 *   stats_mysql_commands_counters  per statement type: time, count and
 *                                  ProxySQL's twelve latency buckets
 *   stats_mysql_processlist        one row per client session now
 *   stats_mysql_client_host_cache  addresses whose logins failed lately
 *   stats_mysql_users              client sessions per frontend user now
 *   stats_mysql_errors             backend errors relayed to clients and
 *                                  failed backend connects, by key
 *   stats_mysql_errors_reset       the same; reading it resets the counts
 *   stats_mysql_free_connections   the pool's idle backend connections
 *   stats_mysql_prepared_statements_info  per statement text, the client
 *                                  statements and backend connections
 *                                  holding it now
 *
 * admin_stats_refresh() (stats_tables.c) calls admin_stats_proxy_fill()
 * inside its savepoint with the bits of these tables that the statement
 * reads; one proxy_stats call takes exactly those figures (the processlist
 * asks every worker, so it is not gathered for the other tables), then each
 * table is cleared and refilled row by row with one prepared INSERT.
 */
#include "admin/admin_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Clears table and prepares an INSERT of n values in column order. */
static int begin_table(sqlite3 *db, const char *table, int n, sqlite3_stmt **ins, char *errbuf,
                       size_t errlen)
{
    int rc = admin_stats_clear(db, table, errbuf, errlen);
    return rc ? rc : admin_stats_prepare_insert(db, table, NULL, n, ins, errbuf, errlen);
}

/* Binds text, or NULL for an empty string when the column may be NULL. */
static void bind_str(sqlite3_stmt *ins, int col, const char *s, bool empty_is_null)
{
    if (empty_is_null && !s[0])
        sqlite3_bind_null(ins, col);
    else
        sqlite3_bind_text(ins, col, s, -1, SQLITE_TRANSIENT);
}

static size_t count_rules(const struct admin_proxy_stats *ps)
{
    return ps->n_rules;
}

static void bind_rule(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    sqlite3_bind_int(ins, 1, ps->rules[i].rule_id);
    sqlite3_bind_int64(ins, 2, admin_stats_i64(ps->rules[i].hits));
}

static size_t count_globals(const struct admin_proxy_stats *ps)
{
    return ps->n_globals;
}

static void bind_global(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    char value[32];
    /* ProxySQL's Variable_Value is text: the client sees the same. */
    snprintf(value, sizeof(value), "%lld", (long long)ps->globals[i].value);
    bind_str(ins, 1, ps->globals[i].name, false);
    sqlite3_bind_text(ins, 2, value, -1, SQLITE_TRANSIENT);
}

static size_t count_users(const struct admin_proxy_stats *ps)
{
    return ps->n_users;
}

static void bind_user(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    const struct admin_user_conns *u = &ps->users[i];
    bind_str(ins, 1, u->username, false);
    sqlite3_bind_int64(ins, 2, admin_stats_i64(u->frontend_connections));
    sqlite3_bind_int(ins, 3, u->frontend_max_connections);
}

static size_t count_commands(const struct admin_proxy_stats *ps)
{
    return ps->n_commands;
}

static void bind_command(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    const struct admin_command_stats *c = &ps->commands[i];
    bind_str(ins, 1, c->command, false);
    sqlite3_bind_int64(ins, 2, admin_stats_i64(c->total_time_us));
    sqlite3_bind_int64(ins, 3, admin_stats_i64(c->total_cnt));
    for (int b = 0; b < ADMIN_CMD_BUCKETS; b++)
        sqlite3_bind_int64(ins, 4 + b, admin_stats_i64(c->cnt[b]));
}

static size_t count_processes(const struct admin_proxy_stats *ps)
{
    return ps->n_processes;
}

/* Columns left unbound are NULL (admin_stats_insert_row clears them). */
static void bind_process(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    const struct admin_process *p = &ps->processes[i];
    sqlite3_bind_int(ins, 1, p->thread_id);
    sqlite3_bind_int64(ins, 2, p->session_id);
    bind_str(ins, 3, p->user, true);
    bind_str(ins, 4, p->db, true);
    bind_str(ins, 5, p->cli_host, false);
    sqlite3_bind_int(ins, 6, p->cli_port);
    sqlite3_bind_int(ins, 7, p->hostgroup);
    if (p->has_backend) {
        bind_str(ins, 8, p->l_srv_host, true);
        sqlite3_bind_int(ins, 9, p->l_srv_port);
        bind_str(ins, 10, p->srv_host, true);
        sqlite3_bind_int(ins, 11, p->srv_port);
    }
    bind_str(ins, 12, p->command, false);
    sqlite3_bind_int64(ins, 13, p->time_ms);
    if (p->has_info)
        bind_str(ins, 14, p->info, false);
}

static size_t count_hosts(const struct admin_proxy_stats *ps)
{
    return ps->n_hosts;
}

static void bind_host(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    bind_str(ins, 1, ps->hosts[i].client_address, false);
    sqlite3_bind_int64(ins, 2, ps->hosts[i].error_count);
    sqlite3_bind_int64(ins, 3, ps->hosts[i].last_updated);
}

static size_t count_errors(const struct admin_proxy_stats *ps)
{
    return ps->n_errors;
}

static size_t count_errors_reset(const struct admin_proxy_stats *ps)
{
    return ps->n_errors_reset;
}

static void bind_error_row(sqlite3_stmt *ins, const struct admin_mysql_error *e)
{
    sqlite3_bind_int(ins, 1, e->hostgroup);
    bind_str(ins, 2, e->hostname, false);
    sqlite3_bind_int(ins, 3, e->port);
    bind_str(ins, 4, e->username, false);
    bind_str(ins, 5, e->client_address, false);
    bind_str(ins, 6, e->schemaname, false);
    sqlite3_bind_int(ins, 7, e->err_no);
    sqlite3_bind_int64(ins, 8, admin_stats_i64(e->count_star));
    sqlite3_bind_int64(ins, 9, e->first_seen);
    sqlite3_bind_int64(ins, 10, e->last_seen);
    bind_str(ins, 11, e->last_error, false);
}

static void bind_error(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    bind_error_row(ins, &ps->errors[i]);
}

static void bind_error_reset(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    bind_error_row(ins, &ps->errors_reset[i]);
}

static size_t count_free_conns(const struct admin_proxy_stats *ps)
{
    return ps->n_free_conns;
}

/* What Sluice does not track per idle connection (init_connect, time_zone,
 * sql_mode, autocommit, schema, statistics, mysql_info) stays NULL. */
static void bind_free_conn(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    const struct admin_free_conn *c = &ps->free_conns[i];
    sqlite3_bind_int(ins, 1, c->fd);
    sqlite3_bind_int(ins, 2, c->hostgroup);
    bind_str(ins, 3, c->srv_host, false);
    sqlite3_bind_int(ins, 4, c->srv_port);
    bind_str(ins, 5, c->user, false);
    sqlite3_bind_int64(ins, 11, c->idle_ms);
}

static size_t count_stmts(const struct admin_proxy_stats *ps)
{
    return ps->n_stmts;
}

/* global_stmt_id is the row's number in this read: Sluice has no global
 * statement id (a client's ids are its session's, a backend's its own). */
static void bind_stmt(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t i)
{
    const struct admin_prepared_stmt *st = &ps->stmts[i];
    char hex[24];
    snprintf(hex, sizeof(hex), "0x%016" PRIX64, st->digest);
    sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
    sqlite3_bind_int(ins, 2, st->hostgroup);
    bind_str(ins, 3, st->schemaname, false);
    bind_str(ins, 4, st->username, false);
    bind_str(ins, 5, hex, false);
    sqlite3_bind_int64(ins, 6, st->ref_count_client);
    sqlite3_bind_int64(ins, 7, st->ref_count_server);
    sqlite3_bind_int(ins, 8, st->num_columns);
    sqlite3_bind_int(ins, 9, st->num_params);
    bind_str(ins, 10, st->query, false);
}

#define ERRORS_COLUMNS                                                                             \
    "hostgroup INT NOT NULL, hostname VARCHAR NOT NULL, port INT NOT NULL,"                        \
    " username VARCHAR NOT NULL, client_address VARCHAR NOT NULL,"                                 \
    " schemaname VARCHAR NOT NULL, errno INT NOT NULL, count_star INTEGER NOT NULL,"               \
    " first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"                                    \
    " last_error VARCHAR NOT NULL DEFAULT '',"                                                     \
    " PRIMARY KEY (hostgroup, hostname, port, username, client_address, schemaname, errno)"

struct proxy_table {
    const char *name;
    unsigned bit;    /* ADMIN_STATS_* */
    unsigned source; /* ADMIN_PROXY_* it is made from */
    const char *columns;
    int ncols;
    size_t (*count)(const struct admin_proxy_stats *ps);
    void (*bind)(sqlite3_stmt *ins, const struct admin_proxy_stats *ps, size_t row);
};

/* ProxySQL's column lists. The processlist leaves out ProxySQL 2.x's
 * status_flags and extended_info (JSON of internals Sluice does not have). */
static const struct proxy_table proxy_tables[] = {
    {"stats_mysql_query_rules", ADMIN_STATS_QUERY_RULES, ADMIN_PROXY_RULES,
     "rule_id INTEGER PRIMARY KEY, hits INT NOT NULL", 2, count_rules, bind_rule},
    {"stats_mysql_global", ADMIN_STATS_GLOBAL, ADMIN_PROXY_GLOBALS,
     "Variable_Name VARCHAR NOT NULL PRIMARY KEY, Variable_Value VARCHAR NOT NULL", 2,
     count_globals, bind_global},
    {"stats_mysql_commands_counters", ADMIN_STATS_COMMANDS, ADMIN_PROXY_COMMANDS,
     "Command VARCHAR NOT NULL PRIMARY KEY, Total_Time_us INT NOT NULL, Total_cnt INT NOT NULL,"
     " cnt_100us INT NOT NULL, cnt_500us INT NOT NULL, cnt_1ms INT NOT NULL,"
     " cnt_5ms INT NOT NULL, cnt_10ms INT NOT NULL, cnt_50ms INT NOT NULL,"
     " cnt_100ms INT NOT NULL, cnt_500ms INT NOT NULL, cnt_1s INT NOT NULL,"
     " cnt_5s INT NOT NULL, cnt_10s INT NOT NULL, cnt_INFs INT NOT NULL",
     3 + ADMIN_CMD_BUCKETS, count_commands, bind_command},
    {"stats_mysql_processlist", ADMIN_STATS_PROCESSLIST, ADMIN_PROXY_PROCESSES,
     "ThreadID INT NOT NULL, SessionID INTEGER PRIMARY KEY, user VARCHAR, db VARCHAR,"
     " cli_host VARCHAR, cli_port INT, hostgroup INT, l_srv_host VARCHAR, l_srv_port INT,"
     " srv_host VARCHAR, srv_port INT, command VARCHAR, time_ms INT NOT NULL, info VARCHAR",
     14, count_processes, bind_process},
    {"stats_mysql_client_host_cache", ADMIN_STATS_HOST_CACHE, ADMIN_PROXY_HOSTS,
     "client_address VARCHAR NOT NULL PRIMARY KEY, error_count INT NOT NULL,"
     " last_updated BIGINT NOT NULL",
     3, count_hosts, bind_host},
    /* ProxySQL's columns. */
    {"stats_mysql_users", ADMIN_STATS_USERS, ADMIN_PROXY_USERS,
     "username VARCHAR PRIMARY KEY, frontend_connections INT NOT NULL,"
     " frontend_max_connections INT NOT NULL",
     3, count_users, bind_user},
    /* ProxySQL 2.x's columns; the key includes client_address, which
     * ProxySQL also counts apart. */
    {"stats_mysql_errors", ADMIN_STATS_ERRORS, ADMIN_PROXY_ERRORS, ERRORS_COLUMNS, 11, count_errors,
     bind_error},
    {"stats_mysql_errors_reset", ADMIN_STATS_ERRORS_RESET, ADMIN_PROXY_ERRORS_RESET, ERRORS_COLUMNS,
     11, count_errors_reset, bind_error_reset},
    {"stats_mysql_free_connections", ADMIN_STATS_FREE_CONNS, ADMIN_PROXY_FREE_CONNS,
     "fd INT NOT NULL, hostgroup INT NOT NULL, srv_host VARCHAR NOT NULL, srv_port INT NOT NULL,"
     " user VARCHAR NOT NULL, schema VARCHAR, init_connect VARCHAR, time_zone VARCHAR,"
     " sql_mode VARCHAR, autocommit VARCHAR, idle_ms INT, statistics VARCHAR, mysql_info VARCHAR",
     13, count_free_conns, bind_free_conn},
    {"stats_mysql_prepared_statements_info", ADMIN_STATS_STMTS, ADMIN_PROXY_STMTS,
     "global_stmt_id INT NOT NULL PRIMARY KEY, hostgroup INT NOT NULL,"
     " schemaname VARCHAR NOT NULL, username VARCHAR NOT NULL, digest VARCHAR NOT NULL,"
     " ref_count_client INT NOT NULL, ref_count_server INT NOT NULL, num_columns INT NOT NULL,"
     " num_params INT NOT NULL, query VARCHAR NOT NULL",
     10, count_stmts, bind_stmt},
};

#define N_PROXY_TABLES (sizeof(proxy_tables) / sizeof(proxy_tables[0]))

unsigned admin_stats_proxy_table(const char *name)
{
    for (size_t i = 0; i < N_PROXY_TABLES; i++)
        if (strcasecmp(name, proxy_tables[i].name) == 0)
            return proxy_tables[i].bit;
    return 0;
}

int admin_stats_proxy_create(sqlite3 *db, char *errbuf, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; i < N_PROXY_TABLES && rc == 0; i++)
        rc = admin_stats_exec(db,
                              sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.%s (%s)",
                                              proxy_tables[i].name, proxy_tables[i].columns),
                              errbuf, errlen, "cannot create stats tables");
    return rc;
}

/* Clears t's table and inserts its rows, one prepared INSERT for all. */
static int fill(sqlite3 *db, const struct proxy_table *t, const struct admin_proxy_stats *ps,
                char *errbuf, size_t errlen)
{
    sqlite3_stmt *ins = NULL;
    int rc = begin_table(db, t->name, t->ncols, &ins, errbuf, errlen);
    size_t n = t->count(ps);

    for (size_t i = 0; i < n && rc == 0; i++) {
        t->bind(ins, ps, i);
        rc = admin_stats_insert_row(db, ins, t->name, errbuf, errlen);
    }
    sqlite3_finalize(ins);
    return rc;
}

int admin_stats_proxy_fill(sqlite3 *db, const struct admin_sources *src, unsigned mask,
                           char *errbuf, size_t errlen)
{
    struct admin_proxy_stats ps;
    unsigned what = 0;
    int rc = 0;

    memset(&ps, 0, sizeof(ps));
    for (size_t i = 0; i < N_PROXY_TABLES; i++)
        if (mask & proxy_tables[i].bit)
            what |= proxy_tables[i].source;
    if (what == 0)
        return 0;
    if (src->proxy_stats && src->proxy_stats(src->proxy_stats_arg, what, &ps) != 0) {
        admin_set_error(errbuf, errlen, "cannot fill the proxy stats tables: out of memory");
        return ADMIN_ENOMEM;
    }
    for (size_t i = 0; i < N_PROXY_TABLES && rc == 0; i++)
        if (mask & proxy_tables[i].bit)
            rc = fill(db, &proxy_tables[i], &ps, errbuf, errlen);
    if (src->proxy_stats && src->proxy_stats_free)
        src->proxy_stats_free(src->proxy_stats_arg, &ps);
    return rc;
}

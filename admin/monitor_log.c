/*
 * The monitor's check logs and its view of runtime_mysql_servers.
 *
 * ProxySQL keeps mysql_server_{connect,ping,read_only,replication_lag}_log
 * in a `monitor` schema; Sluice has one SQLite connection with main and disk
 * only, so they live in main with ProxySQL's columns. The monitor (on the
 * main thread) appends a row per check and prunes rows older than
 * mysql-monitor_history; operators may read them but the authorizer (sandbox.c)
 * refuses writes, triggers, DROP and ALTER, as for the stats tables.
 *
 * Each write is its own savepoint: outside an operator's transaction that
 * commits at once, inside one it nests (and goes with the operator's
 * ROLLBACK, the price of sharing one connection).
 */
#include "admin/admin_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct log_table {
    const char *name;
    const char *columns;
    const char *insert; /* columns written by admin_monitor_log, in bind order */
};

/* Indexed by enum admin_monitor_check. */
static const struct log_table log_tables[] = {
    {"mysql_server_connect_log",
     "hostname VARCHAR NOT NULL, port INT NOT NULL DEFAULT 3306,"
     " time_start_us INT NOT NULL DEFAULT 0, connect_success_time_us INT DEFAULT 0,"
     " connect_error VARCHAR",
     "hostname, port, time_start_us, connect_success_time_us, connect_error"},
    {"mysql_server_ping_log",
     "hostname VARCHAR NOT NULL, port INT NOT NULL DEFAULT 3306,"
     " time_start_us INT NOT NULL DEFAULT 0, ping_success_time_us INT DEFAULT 0,"
     " ping_error VARCHAR",
     "hostname, port, time_start_us, ping_success_time_us, ping_error"},
    {"mysql_server_read_only_log",
     "hostname VARCHAR NOT NULL, port INT NOT NULL DEFAULT 3306,"
     " time_start_us INT NOT NULL DEFAULT 0, success_time_us INT DEFAULT 0,"
     " read_only INT DEFAULT 1, error VARCHAR",
     "hostname, port, time_start_us, success_time_us, error, read_only"},
    {"mysql_server_replication_lag_log",
     "hostname VARCHAR NOT NULL, port INT NOT NULL DEFAULT 3306,"
     " time_start_us INT NOT NULL DEFAULT 0, success_time_us INT DEFAULT 0,"
     " repl_lag INT DEFAULT 0, error VARCHAR",
     "hostname, port, time_start_us, success_time_us, error, repl_lag"},
};

#define N_LOGS (sizeof(log_tables) / sizeof(log_tables[0]))

bool admin_monitor_table(const char *name)
{
    for (size_t i = 0; i < N_LOGS; i++)
        if (strcasecmp(name, log_tables[i].name) == 0)
            return true;
    return false;
}

int admin_monitor_create(sqlite3 *db, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < N_LOGS; i++) {
        char *sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS main.%s (%s);"
                                    "CREATE INDEX IF NOT EXISTS main.%s_time ON %s (time_start_us)",
                                    log_tables[i].name, log_tables[i].columns, log_tables[i].name,
                                    log_tables[i].name);
        char *err = NULL;
        int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, &err) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            admin_set_error(errbuf, errlen, "cannot create %s: %s", log_tables[i].name,
                            err ? err : "out of memory");
            sqlite3_free(err);
            return ADMIN_ESQL;
        }
    }
    return 0;
}

/* Runs fn inside a savepoint of its own; all or nothing. */
static int in_savepoint(sqlite3 *db, int (*fn)(sqlite3 *, const void *), const void *arg)
{
    if (sqlite3_exec(db, "SAVEPOINT admin_monitor", NULL, NULL, NULL) != SQLITE_OK)
        return ADMIN_ESQL;
    int rc = fn(db, arg);
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK TO admin_monitor", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE admin_monitor", NULL, NULL, NULL);
    return rc;
}

static int step_once(sqlite3 *db, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(db, sql, -1, stmt, NULL) != SQLITE_OK)
        return ADMIN_ESQL;
    return 0;
}

static int log_one(sqlite3 *db, const void *arg)
{
    const struct admin_monitor_entry *e = arg;
    const struct log_table *t = &log_tables[e->check];
    bool has_value = e->check == ADMIN_MONITOR_READ_ONLY || e->check == ADMIN_MONITOR_REPL_LAG;
    sqlite3_stmt *stmt = NULL;
    char sql[256];

    snprintf(sql, sizeof(sql), "INSERT INTO main.%s (%s) VALUES (?,?,?,?,?%s)", t->name, t->insert,
             has_value ? ",?" : "");
    if (step_once(db, sql, &stmt) != 0)
        return ADMIN_ESQL;
    sqlite3_bind_text(stmt, 1, e->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, e->port);
    sqlite3_bind_int64(stmt, 3, e->time_start_us);
    /* ProxySQL writes 0 as the success time of a failed check. */
    sqlite3_bind_int64(stmt, 4, e->error ? 0 : e->success_time_us);
    if (e->error)
        sqlite3_bind_text(stmt, 5, e->error, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, 5);
    if (has_value) {
        if (e->value_null)
            sqlite3_bind_null(stmt, 6);
        else
            sqlite3_bind_int64(stmt, 6, e->value);
    }
    int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : ADMIN_ESQL;
    sqlite3_finalize(stmt);
    return rc;
}

int admin_monitor_log(struct admin_store *store, const struct admin_monitor_entry *e)
{
    if (!store || !e || (size_t)e->check >= N_LOGS || !e->host)
        return ADMIN_EINVAL;
    return in_savepoint(store->db, log_one, e);
}

static int prune(sqlite3 *db, const void *arg)
{
    int64_t before = *(const int64_t *)arg;
    for (size_t i = 0; i < N_LOGS; i++) {
        char *sql = sqlite3_mprintf("DELETE FROM main.%s WHERE time_start_us < %lld",
                                    log_tables[i].name, (long long)before);
        int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
            return ADMIN_ESQL;
    }
    return 0;
}

int admin_monitor_prune(struct admin_store *store, int64_t before_us)
{
    if (!store)
        return ADMIN_EINVAL;
    return in_savepoint(store->db, prune, &before_us);
}

struct server_list {
    const struct admin_server *servers;
    size_t n;
};

static const char *status_name(enum admin_server_status st)
{
    switch (st) {
    case ADMIN_SERVER_SHUNNED:
        return "SHUNNED";
    case ADMIN_SERVER_OFFLINE_SOFT:
        return "OFFLINE_SOFT";
    case ADMIN_SERVER_OFFLINE_HARD:
        return "OFFLINE_HARD";
    default:
        return "ONLINE";
    }
}

static int show_servers(sqlite3 *db, const void *arg)
{
    const struct server_list *l = arg;
    sqlite3_stmt *stmt = NULL;
    int rc = 0;

    if (sqlite3_exec(db, "DELETE FROM main.runtime_mysql_servers", NULL, NULL, NULL) != SQLITE_OK)
        return ADMIN_ESQL;
    if (step_once(db,
                  "INSERT OR REPLACE INTO main.runtime_mysql_servers (hostgroup_id, hostname,"
                  " port, status, weight, max_connections, max_replication_lag, use_ssl, comment)"
                  " VALUES (?,?,?,?,?,?,?,?,?)",
                  &stmt) != 0)
        return ADMIN_ESQL;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        const struct admin_server *s = &l->servers[i];
        sqlite3_bind_int(stmt, 1, s->hostgroup);
        sqlite3_bind_text(stmt, 2, s->host, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 3, s->port);
        sqlite3_bind_text(stmt, 4, status_name(s->status), -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 5, s->weight);
        sqlite3_bind_int(stmt, 6, s->max_connections);
        sqlite3_bind_int(stmt, 7, s->max_replication_lag);
        sqlite3_bind_int(stmt, 8, s->use_ssl ? 1 : 0);
        sqlite3_bind_text(stmt, 9, s->comment, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            rc = ADMIN_ESQL;
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int admin_runtime_servers_show(struct admin_store *store, const struct admin_server *servers,
                               size_t n)
{
    struct server_list l = {servers, n};
    if (!store)
        return ADMIN_EINVAL;
    return in_savepoint(store->db, show_servers, &l);
}

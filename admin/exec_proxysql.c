/*
 * ProxySQL's own admin statements that are not about the layers:
 *   SHOW MYSQL STATUS      stats_mysql_global as (Variable_name, Value)
 *   SHOW MYSQL VARIABLES   the mysql-* rows of global_variables (MEMORY)
 *   PROXYSQL PAUSE         stop accepting new client connections; sessions
 *                          already connected go on
 *   PROXYSQL RESUME        accept them again
 *   PROXYSQL FLUSH QUERY CACHE   empty every worker's query cache
 *   PROXYSQL FLUSH LOGS    reopen the log file (after logrotate moved it)
 * PAUSE, RESUME and FLUSH QUERY CACHE act on the workers, which admin cannot
 * reach (admin never includes proxy): they set admin_result.actions and the
 * admin listener hands them to the proxy once admin_execute() returns. The
 * other PROXYSQL commands (START, STOP, RESTART, SHUTDOWN, KILL...) manage
 * ProxySQL's own process and modules; Sluice is run by its service manager,
 * so they are refused with a message that says so.
 */
#include "admin/admin_int.h"
#include "common/common.h"

#include <string.h>
#include <strings.h>

int admin_cmd_show_mysql(struct admin_exec *ex, const struct admin_args *a)
{
    (void)a;
    /* Through the SQL path, so the authorizer notes the stats table and it
     * is refilled before the read. */
    if (admin_stmt_match("SHOW MYSQL STATUS", ex->stmt, &(struct admin_args){0}))
        return admin_exec_sql(ex,
                              "SELECT Variable_Name AS Variable_name, Variable_Value AS Value"
                              " FROM main.stats_mysql_global",
                              NULL);
    return admin_exec_sql(ex,
                          "SELECT variable_name AS Variable_name, variable_value AS Value"
                          " FROM main.global_variables WHERE variable_name LIKE 'mysql-%'"
                          " ORDER BY variable_name",
                          NULL);
}

static int flush_logs(struct admin_exec *ex)
{
    int rc = log_reopen();

    if (rc < 0)
        return admin_exec_fail(ex, ER_UNKNOWN_ERROR, "HY000",
                               "PROXYSQL FLUSH LOGS: cannot reopen the log file; the old one "
                               "stays in use");
    /* The line lands in the new file: it shows where logging restarted. */
    log_info("admin: PROXYSQL FLUSH LOGS: %s",
             rc ? "log file reopened" : "logging to stderr, nothing to reopen");
    return admin_exec_ok(ex, 0);
}

/* Sets one action for the caller, the last of PAUSE and RESUME winning. */
static int act(struct admin_exec *ex, unsigned action)
{
    if (action & (ADMIN_ACT_PAUSE | ADMIN_ACT_RESUME))
        ex->res->actions &= ~(ADMIN_ACT_PAUSE | ADMIN_ACT_RESUME);
    ex->res->actions |= action;
    return admin_exec_ok(ex, 0);
}

int admin_cmd_proxysql(struct admin_exec *ex, const struct admin_args *a)
{
    struct admin_args unused;
    char text[ADMIN_EXCERPT_MAX + 8];

    (void)a;
    if (admin_stmt_match("PROXYSQL PAUSE", ex->stmt, &unused))
        return act(ex, ADMIN_ACT_PAUSE);
    if (admin_stmt_match("PROXYSQL RESUME", ex->stmt, &unused))
        return act(ex, ADMIN_ACT_RESUME);
    if (admin_stmt_match("PROXYSQL FLUSH QUERY CACHE", ex->stmt, &unused))
        return act(ex, ADMIN_ACT_FLUSH_QCACHE);
    if (admin_stmt_match("PROXYSQL FLUSH LOGS", ex->stmt, &unused))
        return flush_logs(ex);
    admin_excerpt(ex->stmt->start, text, sizeof(text));
    return admin_exec_fail(ex, ER_PARSE_ERROR, "42000",
                           "'%s' is not supported by Sluice: it runs under its service manager "
                           "(systemctl restart sluice); PROXYSQL PAUSE, RESUME, FLUSH QUERY CACHE "
                           "and FLUSH LOGS are (see docs/proxysql-differences.md)",
                           text);
}

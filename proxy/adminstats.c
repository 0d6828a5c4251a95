/*
 * The proxy's answer to admin_sources.proxy_stats: the figures behind
 * stats_mysql_query_rules, stats_mysql_global, stats_mysql_commands_counters
 * stats_mysql_processlist, stats_mysql_client_host_cache, stats_mysql_users,
 * stats_mysql_errors(_reset), stats_mysql_free_connections and
 * stats_mysql_prepared_statements_info, each
 * gathered only when its table is read.
 *
 * stats_mysql_global uses ProxySQL's variable names for what Sluice has:
 *   ProxySQL_Uptime                 seconds since start
 *   Active_Transactions             client sessions inside a transaction now
 *   Client_Connections_aborted      logins refused (access denied), as
 *                                   ProxySQL counts them
 *   Client_Connections_connected    client connections open now
 *   Client_Connections_created      client connections accepted
 *   Questions                       statements (COM_QUERY, COM_STMT_EXECUTE)
 *                                   completed
 *   Server_Connections_aborted      backend connects that failed
 *   Server_Connections_connected    backend connections open now
 *   Server_Connections_created      backend connects that succeeded
 *   Queries_backends_bytes_sent     bytes sent to backends
 *   Queries_backends_bytes_recv     bytes received from backends
 *   MySQL_Thread_Workers            worker threads
 *   Query_Processor_time_nsec       time routing statements (rules, digest)
 * and Sluice's own:
 *   Queue_length                    requests waiting for a backend now
 *   Pinned_sessions                 client sessions keeping their backend
 *                                   connection between statements now
 */
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_GLOBALS 24 /* the add() calls of globals(), with room */

static int rules(struct proxy *p, struct admin_proxy_stats *out)
{
    const struct router_rules *r = p->cfg ? p->cfg->rules : NULL;
    size_t n = r ? router_rules_count(r) : 0;
    out->rules = calloc(n ? n : 1, sizeof(*out->rules));
    if (!out->rules)
        return PROXY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        out->rules[i].rule_id = router_rules_rule_id(r, i);
        out->rules[i].hits = router_rules_hits(r, i);
    }
    out->n_rules = n;
    return 0;
}

static void add(struct admin_proxy_stats *out, const char *name, uint64_t v)
{
    struct admin_global_stat *g = &out->globals[out->n_globals++];
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->value = v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int globals(struct proxy *p, struct admin_proxy_stats *out)
{
    struct stats_counters c;
    struct admin_command_stats cmds[STATS_CMD_TYPES];
    uint64_t questions = 0;
    uint64_t open = 0, ok = 0, err = 0, waiting = 0, sent = 0, recv = 0;

    out->globals = calloc(N_GLOBALS, sizeof(*out->globals));
    if (!out->globals)
        return PROXY_ENOMEM;
    stats_counters_sum(p->stats, &c);
    stats_cmd_sum(p->stats, cmds);
    for (int t = 0; t < STATS_CMD_TYPES; t++)
        questions += cmds[t].total_cnt;
    size_t ns = pool_server_count(p->pool);
    for (size_t i = 0; i < ns; i++) {
        struct pool_server_stats st;
        pool_server_stats(p->pool, i, &st);
        open += st.open > 0 ? (uint64_t)st.open : 0;
        waiting += st.waiting > 0 ? (uint64_t)st.waiting : 0;
        ok += st.created_ok;
        err += st.created_err;
        sent += st.bytes_sent;
        recv += st.bytes_recv;
    }
    add(out, "ProxySQL_Uptime", (clock_now_ns() - stats_start_ns(p->stats)) / 1000000000u);
    add(out, "Active_Transactions", stats_pinned_now(p->stats, STATS_PIN_TRANSACTION));
    add(out, "Client_Connections_aborted", c.auth_failures);
    add(out, "Client_Connections_connected", c.clients_connected);
    add(out, "Client_Connections_created", c.clients_accepted);
    add(out, "Questions", questions);
    add(out, "Server_Connections_aborted", err);
    add(out, "Server_Connections_connected", open);
    add(out, "Server_Connections_created", ok);
    add(out, "Queries_backends_bytes_sent", sent);
    add(out, "Queries_backends_bytes_recv", recv);
    add(out, "MySQL_Thread_Workers", (uint64_t)p->nworkers);
    add(out, "Query_Processor_time_nsec", c.query_processor_ns);
    add(out, "Queue_length", waiting);
    add(out, "Pinned_sessions", stats_pinned_sessions(p->stats));
    /* ProxySQL's names for the query cache, summed over the workers' caches:
     * PROXYSQL FLUSH QUERY CACHE empties the entries and memory. */
    struct proxy_qcache_figures qc;
    proxy_qcache_figures(p, &qc);
    add(out, "Query_Cache_Entries", qc.entries);
    add(out, "Query_Cache_Memory_bytes", qc.bytes);
    add(out, "Query_Cache_count_GET", qc.hits + qc.misses);
    add(out, "Query_Cache_count_GET_OK", qc.hits);
    add(out, "Query_Cache_count_SET", qc.stores);
    add(out, "Query_Cache_Purged", qc.evictions);
    return 0;
}

/* As many rows as the failure table can hold (hostcache.c's HOST_SLOTS). */
#define HOST_ROWS_MAX 4096

static int hosts(struct proxy *p, struct admin_proxy_stats *out)
{
    out->hosts = calloc(HOST_ROWS_MAX, sizeof(*out->hosts));
    if (!out->hosts)
        return PROXY_ENOMEM;
    out->n_hosts = limits_host_failures(p, out->hosts, HOST_ROWS_MAX);
    return 0;
}

/* The frontend users of the runtime (main thread: p->cfg is its own) with
 * their sessions now (limits.c). */
static int users(struct proxy *p, struct admin_proxy_stats *out)
{
    const struct admin_config *cfg = p->cfg;
    if (!cfg || cfg->n_users == 0)
        return 0;
    out->users = calloc(cfg->n_users, sizeof(*out->users));
    if (!out->users)
        return PROXY_ENOMEM;
    for (size_t i = 0; i < cfg->n_users; i++) {
        const struct admin_user *u = &cfg->users[i];
        if (!u->frontend)
            continue;
        struct admin_user_conns *r = &out->users[out->n_users++];
        snprintf(r->username, sizeof(r->username), "%s", u->username);
        r->frontend_connections = (uint64_t)limits_user_count(p, u->username);
        r->frontend_max_connections = u->max_connections;
    }
    return 0;
}

static int commands(struct proxy *p, struct admin_proxy_stats *out)
{
    out->commands = calloc(STATS_CMD_TYPES, sizeof(*out->commands));
    if (!out->commands)
        return PROXY_ENOMEM;
    stats_cmd_sum(p->stats, out->commands);
    out->n_commands = STATS_CMD_TYPES;
    return 0;
}

/* The pool's idle connections (as of each worker's last tick). */
static int free_conns(struct proxy *p, struct admin_proxy_stats *out)
{
    struct pool_idle_conn *idle;
    size_t n;
    if (pool_idle_conns(p->pool, &idle, &n) != 0)
        return PROXY_ENOMEM;
    out->free_conns = calloc(n ? n : 1, sizeof(*out->free_conns));
    if (!out->free_conns) {
        free(idle);
        return PROXY_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct admin_free_conn *c = &out->free_conns[i];
        c->fd = idle[i].fd;
        c->hostgroup = idle[i].hostgroup;
        snprintf(c->srv_host, sizeof(c->srv_host), "%s", idle[i].host);
        c->srv_port = idle[i].port;
        snprintf(c->user, sizeof(c->user), "%s", idle[i].user);
        c->idle_ms = idle[i].idle_ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)idle[i].idle_ms;
    }
    out->n_free_conns = n;
    free(idle);
    return 0;
}

/* stats_mysql_errors, then stats_mysql_errors_reset: read together, the
 * first shows the counts that the second then resets. */
static int errors(struct proxy *p, unsigned what, struct admin_proxy_stats *out)
{
    int rc = 0;
    if (what & ADMIN_PROXY_ERRORS)
        rc = stats_errors_rows(p->stats, false, &out->errors, &out->n_errors);
    if (rc == 0 && (what & ADMIN_PROXY_ERRORS_RESET))
        rc = stats_errors_rows(p->stats, true, &out->errors_reset, &out->n_errors_reset);
    return rc == 0 ? 0 : PROXY_ENOMEM;
}

int proxy_admin_stats(void *proxy, unsigned what, struct admin_proxy_stats *out)
{
    struct proxy *p = proxy;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (what & ADMIN_PROXY_RULES)
        rc = rules(p, out);
    if (rc == 0 && (what & ADMIN_PROXY_GLOBALS))
        rc = globals(p, out);
    if (rc == 0 && (what & ADMIN_PROXY_COMMANDS))
        rc = commands(p, out);
    if (rc == 0 && (what & ADMIN_PROXY_PROCESSES))
        rc = stats_plist_rows(p->stats, &out->processes, &out->n_processes) == 0 ? 0 : PROXY_ENOMEM;
    if (rc == 0 && (what & ADMIN_PROXY_HOSTS))
        rc = hosts(p, out);
    if (rc == 0 && (what & ADMIN_PROXY_USERS))
        rc = users(p, out);
    if (rc == 0 && (what & (ADMIN_PROXY_ERRORS | ADMIN_PROXY_ERRORS_RESET)))
        rc = errors(p, what, out);
    if (rc == 0 && (what & ADMIN_PROXY_FREE_CONNS))
        rc = free_conns(p, out);
    if (rc == 0 && (what & ADMIN_PROXY_STMTS))
        rc = stats_stmts_rows(p->stats, &out->stmts, &out->n_stmts) == 0 ? 0 : PROXY_ENOMEM;
    if (rc != 0)
        proxy_admin_stats_free(p, out);
    return rc;
}

void proxy_admin_stats_free(void *proxy, struct admin_proxy_stats *st)
{
    (void)proxy;
    free(st->rules);
    free(st->globals);
    free(st->commands);
    free(st->processes);
    free(st->hosts);
    free(st->users);
    free(st->errors);
    free(st->errors_reset);
    free(st->free_conns);
    free(st->stmts);
    memset(st, 0, sizeof(*st));
}

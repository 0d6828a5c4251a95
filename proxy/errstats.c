/*
 * What feeds stats_mysql_errors (stats/errors.c): an ERR packet that a
 * backend answers to a client's command (response.c calls
 * errstats_backend_err when it relays one), and a backend connect that
 * failed (the pool's connect error hook, errstats_connect_failed). Both
 * run on the worker that owns the session or the connect, and only on an
 * error: a command that succeeds costs nothing here.
 *
 * The server's message is stored as ProxySQL stores it, except that a
 * syntax error quotes the statement ("... near 'IDENTIFIED BY 'pw'' at
 * line 1"): that quoted fragment goes through router_mask_secrets, so a
 * password never reaches the table. Other messages quote data (a duplicate
 * key's value), which the stats tables show as ProxySQL does.
 *
 * It also counts prepared statements for stats_mysql_prepared_statements_info
 * (errstats_stmt_count, from bstmt.c), on a prepare only.
 */
#include "common/common.h"
#include "proxy/proxy_int.h"
#include "router/router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* msg with the statement fragment a syntax error quotes masked, into out. */
static size_t mask_message(const char *msg, char *out, size_t cap)
{
    const char *near = strstr(msg, " near '");
    if (!near) {
        snprintf(out, cap, "%s", msg);
        return strlen(out);
    }
    size_t head = (size_t)(near - msg) + 7;
    if (head >= cap)
        head = cap - 1;
    memcpy(out, msg, head);
    return head + router_mask_secrets(msg + head, strlen(msg + head), out + head, cap - head);
}

static void record(struct stats_worker *ws, struct stats_error *e, const char *msg)
{
    char masked[256];
    e->msg = masked;
    e->msg_len = mask_message(msg, masked, sizeof(masked));
    stats_error_record(ws, e, (int64_t)time(NULL));
}

void errstats_backend_err(struct session *s)
{
    /* The response parser's unit test runs sessions without a worker. */
    if (!s->worker)
        return;
    char host[256] = "";
    int port = 0;
    if (s->conn)
        pool_split_name(pool_conn_server_name(s->conn), host, sizeof(host), &port);
    struct stats_error e = {
        .hostgroup = s->conn ? pool_conn_hostgroup(s->conn) : s->hostgroup,
        .hostname = host,
        .port = port,
        .username = s->username,
        .client_address = s->peer_ip,
        .schemaname = s->schema,
        .err_no = s->resp.errcode,
    };
    record(s->worker->stats, &e, s->resp.errmsg);
}

struct stats_worker *errstats_stmt_count(struct session *s, const struct cstmt *st, bool server)
{
    /* The response parser's unit test runs sessions without a worker. */
    if (!s->worker)
        return NULL;
    uint64_t digest = st->digest;
    if (!digest) /* routing computes it only when a rule needs it */
        router_digest(st->sql, st->sql_len, s->worker->digest_text, sizeof(s->worker->digest_text),
                      (size_t)s->cfg->digest_max_len, &digest);
    struct stats_stmt e = {
        .hash = st->hash,
        .sql = st->sql,
        .sql_len = st->sql_len,
        .digest = digest,
        .hostgroup = s->conn ? pool_conn_hostgroup(s->conn) : st->hostgroup,
        .schemaname = s->schema,
        .username = s->username,
        .nparams = st->nparams,
        .ncols = st->ncols,
    };
    return stats_stmt_ref(s->worker->stats, &e, server) ? s->worker->stats : NULL;
}

void errstats_connect_failed(void *arg, const struct pool_connect_error *pe)
{
    struct proxy *p = arg;
    /* Every request the pool runs a connect for is a session's
     * (backend_begin's pool_acquire); warm-up connects have none. */
    const struct session *s = pe->requester;
    struct stats_error e = {
        .hostgroup = pe->hostgroup,
        .hostname = pe->host,
        .port = pe->port,
        .username = pe->user,
        .client_address = s ? s->peer_ip : "",
        .schemaname = s ? s->schema : "",
        .err_no = (int)pe->err_no,
    };
    record(p->workers[pe->worker].stats, &e, pe->msg);
}

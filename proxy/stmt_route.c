/*
 * Routing of server-side prepared statements by the query rules, as
 * ProxySQL does it: a prepared statement is classified by its text.
 *
 *   COM_STMT_PREPARE: the rules see the statement text. An error_msg rule
 *     answers the PREPARE with its error (1148, as for text) and nothing is
 *     prepared anywhere. Otherwise the decision's hostgroup is kept on the
 *     client statement (struct cstmt) and the PREPARE runs there; OK_msg,
 *     cache_ttl and replace_pattern do not act on a PREPARE (the client
 *     needs the statement's real metadata, and it binds parameters to the
 *     text it prepared, not to a rewrite).
 *   COM_STMT_EXECUTE: the rules run again on the text, with the facts of
 *     that moment (the session's schema, an open transaction, the current
 *     rule snapshot), so an execute goes exactly where the text would go,
 *     also after LOAD MYSQL QUERY RULES TO RUNTIME. error_msg answers the
 *     execute with the error, OK_msg with an OK; timeout, retries (not
 *     used: an execute is never replayed), delay and multiplex=0 act as for
 *     text. Rule hits count at prepare and at each execute, as ProxySQL's
 *     do; the digest statistics count executes (backend.c).
 *   COM_STMT_SEND_LONG_DATA, COM_STMT_RESET, COM_STMT_FETCH: the
 *     hostgroup kept at prepare; long data and a cursor pin the session
 *     until the execute or the last fetch, so those stay on their backend.
 *
 * Whatever the rules say, a session in a transaction or holding pinned
 * state keeps its backend (backend.c's begin_routed()), and a statement
 * that backend has not seen is prepared there first (BS_REPREPARE).
 */
#include "proxy/proxy_int.h"

#include <stdlib.h>
#include <string.h>

/* Runs the rules on a prepared statement's text for s. */
static void classify(struct session *s, const char *sql, size_t len, struct router_decision *d)
{
    struct router_facts facts = {.user = s->username,
                                 .schema = s->schema,
                                 .client_addr = s->peer_ip,
                                 .default_hostgroup = s->user->default_hostgroup,
                                 .in_transaction = s->in_txn,
                                 .digest_max_len = (size_t)s->cfg->digest_max_len};
    uint64_t t0 = clock_now_ns();
    (void)router_classify(s->cfg->rules, s->worker->scratch, &facts, sql, len, d);
    stats_count(&s->worker->counters->query_processor_ns, clock_now_ns() - t0);
}

/* Answers the command with the rule's error, as route_query() does for
 * text. Returns false (the command is done). */
static bool refuse(struct session *s, const char *msg)
{
    session_send_error(s, 1, 1148, "42000", msg);
    session_command_done(s);
    return false;
}

/* The client statement the PREPARE in s->in creates, or NULL on ENOMEM.
 * The client sees its own ids; the text is the key on backends. */
static struct cstmt *cstmt_new(struct session *s)
{
    struct cstmt *st = calloc(1, sizeof(*st));
    size_t n = s->cmd_len - 5;
    if (!st || !(st->sql = malloc(n ? n : 1))) {
        free(st);
        return NULL;
    }
    memcpy(st->sql, s->in.data + 5, n);
    st->sql_len = n;
    st->hash = common_hash(st->sql, n);
    st->id = s->next_stmt_id++;
    codec_buf_init(&st->prep_resp);
    return st;
}

static bool route_prepare(struct session *s)
{
    const char *sql = (const char *)s->in.data + 5;
    size_t len = s->cmd_len - 5;
    struct router_decision d;
    classify(s, sql, len, &d);
    if (d.error_msg)
        return refuse(s, d.error_msg);
    struct cstmt *st = cstmt_new(s);
    if (!st) {
        session_send_error(s, 1, 1105, "HY000", "Out of memory");
        session_command_done(s);
        return false;
    }
    s->cur_stmt = st;
    s->hostgroup = d.hostgroup;
    s->stmt_flags = 0; /* a PREPARE takes no lock and reads no insert id */
    s->digest_hash = d.digest;
    st->digest = d.digest;
    /* The statement's home: where its long data and resets go. */
    backend_route_hints(s, sql, len, false);
    st->hostgroup = s->hostgroup;
    return true;
}

/* An OK_msg rule answers the execute without running it. */
static bool answer_ok(struct session *s, const char *msg)
{
    uint16_t status = SERVER_STATUS_AUTOCOMMIT_F | (s->in_txn ? SERVER_STATUS_IN_TRANS_F : 0);
    if (codec_write_ok_caps(&s->out, 1, s->caps, 0, 0, status, 0, msg) != 0)
        s->close_after_write = true;
    session_command_done(s);
    return false;
}

static bool route_execute(struct session *s)
{
    struct cstmt *st = s->cur_stmt;
    struct router_decision d;
    classify(s, st->sql, st->sql_len, &d);
    if (d.error_msg)
        return refuse(s, d.error_msg);
    if (d.ok_msg)
        return answer_ok(s, d.ok_msg);
    s->hostgroup = d.hostgroup;
    s->stmt_flags = d.stmt_flags;
    s->digest_hash = d.digest;
    if (d.digest && !st->digest)
        st->digest = d.digest;
    s->max_retries = d.retries >= 0 ? d.retries : s->cfg->query_retries_on_failure;
    s->timeout_ms = d.timeout_ms > 0 ? d.timeout_ms : 0;
    s->delay_ms = d.delay_ms > 0 ? d.delay_ms : 0;
    if (d.multiplex == 0)
        s->pin |= PIN_RULE;
    backend_route_hints(s, st->sql, st->sql_len, true);
    return true;
}

bool stmt_route(struct session *s)
{
    if (s->cmd == CODEC_COM_STMT_PREPARE)
        return route_prepare(s);
    if (s->cmd == CODEC_COM_STMT_EXECUTE)
        return route_execute(s);
    s->hostgroup = s->cur_stmt->hostgroup;
    s->stmt_flags = 0;
    return true;
}

/*
 * Why a session keeps its backend connection, and the proxy's side of the
 * pin-reason accounting (stats/pins.c).
 *
 * pinstats_after_command() sets the session's PIN_* bits and in_txn from
 * the response to each command (backend.c's forward_done).
 *
 * pinstats_account() runs when a command ends (session_command_done) and
 * hands the session's reasons to stats_pin_update(), which compares them
 * with what the session last accounted, so the gauges are exact whenever a
 * session waits for its next command, and the digest is the one of the
 * command that just ran. pinstats_forget() removes a closing session.
 */
#include "common/common.h"
#include "proxy/proxy.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <string.h>

static unsigned current_reasons(const struct session *s)
{
    static const struct {
        unsigned pin;
        enum stats_pin_reason reason;
    } map[] = {
        {PIN_NAMED_LOCK, STATS_PIN_NAMED_LOCK},
        {PIN_LOCK_TABLES, STATS_PIN_LOCK_TABLES},
        {PIN_CURSOR, STATS_PIN_CURSOR},
        {PIN_LONG_DATA, STATS_PIN_LONG_DATA},
        {PIN_RULE, STATS_PIN_RULE},
    };
    unsigned r = s->in_txn ? STATS_PIN_BIT(STATS_PIN_TRANSACTION) : 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (s->pin & map[i].pin)
            r |= STATS_PIN_BIT(map[i].reason);
    if (s->pin & PIN_SESSION_STATE)
        r |= s->state_reasons ? s->state_reasons : STATS_PIN_BIT(STATS_PIN_SESSION_STATE);
    return r;
}

/* The text of the command in flight, or NULL when it has none. */
static const char *command_text(const struct session *s, size_t *len)
{
    if (s->cmd == CODEC_COM_QUERY && s->cmd_len > 5) {
        size_t n = codec_u24(s->in.data);
        *len = n ? n - 1 : 0;
        return (const char *)s->in.data + 5;
    }
    if (s->cur_stmt && s->cmd != CODEC_COM_STMT_PREPARE) {
        *len = s->cur_stmt->sql_len;
        return s->cur_stmt->sql;
    }
    return NULL;
}

/* The digest and digest text of the command in flight, or a placeholder
 * naming the command when it has no text. */
static const char *pinning_statement(struct session *s, uint64_t *digest, char *name,
                                     size_t namelen)
{
    struct worker *w = s->worker;
    size_t len = 0;
    const char *q = command_text(s, &len);
    *digest = 0;
    if (!q) {
        snprintf(name, namelen, "(command 0x%02x)", (unsigned)s->cmd);
        return name;
    }
    router_digest(q, len, w->digest_text, sizeof(w->digest_text), (size_t)s->cfg->digest_max_len,
                  digest);
    return w->digest_text;
}

static bool has_user_var(const uint8_t *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (q[i] == '@' && (i + 1 < n && q[i + 1] != '@') && (i == 0 || q[i - 1] != '@'))
            return true;
    return false;
}

/* What a command's response leaves pinned: the transaction, state the
 * server flagged, locks, cursors, long data, warnings to keep. */
void pinstats_after_command(struct session *s)
{
    struct resp *r = &s->resp;
    if (r->error) {
        /* An ERR packet carries no status flags: a failed statement (a
         * duplicate key, say) leaves the transaction open, and releasing
         * the connection would hand it to another session. Stay pinned
         * until a later OK or EOF tells (a deadlock's rollback shows there). */
        s->in_txn = s->in_txn || (r->status & SERVER_STATUS_IN_TRANS_F) != 0;
        return;
    }
    /* A prepare reply carries no status flags (a PREPARE changes no
     * transaction state): reading them would end the session's
     * transaction and hand its backend to the pool. */
    if (s->cmd != CODEC_COM_STMT_PREPARE)
        s->in_txn = (r->status & SERVER_STATUS_IN_TRANS_F) != 0;
    if (r->state_changed) {
        /* User variables, temporary tables and SQL PREPARE cannot be
         * replayed, and the server flags them without naming a variable.
         * A system-variable SET is flagged too but names its variables;
         * when such a statement also assigns a user variable, pin. */
        if (!r->vars_reported || (s->cmd == 0x03 && has_user_var(s->in.data + 5, s->cmd_len - 5))) {
            s->pin |= PIN_SESSION_STATE;
            s->state_reasons |= STATS_PIN_BIT(
                s->cmd == CODEC_COM_QUERY
                    ? stats_pin_state_reason((const char *)s->in.data + 5, s->cmd_len - 5)
                    : STATS_PIN_SESSION_STATE);
        }
    }
    if (s->stmt_flags & ROUTER_STMT_NAMED_LOCK)
        s->pin |= PIN_NAMED_LOCK;
    if (s->stmt_flags & ROUTER_STMT_LOCK_TABLES)
        s->pin |= PIN_LOCK_TABLES;
    if (s->stmt_flags & ROUTER_STMT_UNLOCK_TABLES)
        s->pin &= ~PIN_LOCK_TABLES;
    if (s->cmd == CODEC_COM_STMT_EXECUTE) {
        s->pin &= ~PIN_LONG_DATA;
        if (r->status & SERVER_STATUS_CURSOR_EXISTS_F)
            s->pin |= PIN_CURSOR;
    }
    if (s->cmd == CODEC_COM_STMT_FETCH && (r->status & SERVER_STATUS_LAST_ROW_SENT_F))
        s->pin &= ~PIN_CURSOR;
    if (s->cmd == CODEC_COM_STMT_RESET)
        s->pin &= ~(PIN_CURSOR | PIN_LONG_DATA);
    if (r->warnings && s->keep_next < 1)
        s->keep_next = 1; /* SHOW WARNINGS must see this statement's */
}

void pinstats_account(struct session *s)
{
    if (!(s->pin & PIN_SESSION_STATE))
        s->state_reasons = 0;
    unsigned now = current_reasons(s);
    unsigned had = s->pin_acct.reasons;
    if (s->resp.txn_gap) {
        /* The transaction ended and another began within one command: the
         * new one is young, whatever the session's bits say. */
        s->resp.txn_gap = false;
        had &= ~STATS_PIN_BIT(STATS_PIN_TRANSACTION);
    }
    /* Compared with had for the events, with what the gauges hold for the
     * gauges: after a plain COMMIT (a result outside a transaction, so
     * txn_gap) had lost the transaction bit but the gauge still counts it. */
    if (now != had || now != s->pin_acct.reasons) {
        unsigned up = now & ~had;
        if (up & STATS_PIN_BIT(STATS_PIN_TRANSACTION))
            s->txn_start_ns = s->started_ns;
        uint64_t digest = 0;
        char name[32];
        const char *text = up ? pinning_statement(s, &digest, name, sizeof(name)) : "";
        stats_pin_update(s->worker->stats, &s->pin_acct, now, up, digest, text);
    }
    if (s->user)
        stats_pin_hostgroup(s->worker->stats, &s->pin_acct,
                            s->conn ? pool_conn_hostgroup(s->conn) : s->hostgroup);
}

void pinstats_forget(struct session *s)
{
    stats_pin_update(s->worker->stats, &s->pin_acct, 0, 0, 0, "");
    stats_pin_hostgroup(s->worker->stats, &s->pin_acct, -1);
}

int proxy_session_stats(void *proxy, struct admin_session_stats *out)
{
    struct proxy *p = proxy;
    return stats_session_stats(p->stats, out) == 0 ? 0 : PROXY_ENOMEM;
}

void proxy_session_stats_free(void *proxy, struct admin_session_stats *st)
{
    (void)proxy;
    stats_session_free(st);
}

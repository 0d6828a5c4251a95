/*
 * Rule actions that need more than a hostgroup: the query cache
 * (cache_ttl) and the kill of a statement past its timeout. backend.c
 * calls these hooks; retries, delay and the routing of START TRANSACTION
 * READ ONLY are a few lines there.
 *
 * Query cache, one statement (an entry's data is the row count, for the
 * digest statistics of hits, then the bytes the client was sent):
 *
 *   route_query: rule says cache_ttl > 0 and qc_cacheable()
 *     -> qc_answer(): hit -> the stored bytes go to the client, no backend
 *     -> miss: forward() calls qc_begin(); as the response streams,
 *        qc_take() copies what was appended to `out` since the last copy
 *        (called before every flush, since a flush empties `out`);
 *        past QCACHE_ENTRY_MAX the copy is dropped and the statement just
 *        streams on; forward_done() calls qc_finish(), which stores the
 *        copy when the response was a clean result set or OK.
 *
 * What is stored is exactly what this client received, so the key holds
 * everything that shapes those bytes or the result: the client's framing
 * (CLIENT_DEPRECATE_EOF), user, schema, the character set and the session
 * variables that change what a SELECT returns, then the statement text.
 * A COM_QUERY response always starts at sequence id 1, so the stored ids
 * are the ones the next client expects too.
 */
#include "common/common.h"
#include "proxy/killq.h"
#include "proxy/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QC_BUF_KEEP (64u * 1024u) /* capture buffer kept between statements */

/* Session variables whose value changes the bytes or rows of a read. */
static const char *const key_vars[] = {
    "character_set_results",
    "character_set_client",
    "collation_connection",
    "time_zone",
    "sql_mode",
};

static uint64_t now_ms(void)
{
    return clock_now_ns() / 1000000u;
}

static bool has_user_var(const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (q[i] == '@' && (i + 1 < n && q[i + 1] != '@') && (i == 0 || q[i - 1] != '@'))
            return true;
    return false;
}

/* Follows a reload of mysql-query_cache_size_MB; the bound is split
 * between workers (qcache.h says why). */
static void sync_limit(struct session *s)
{
    struct worker *w = s->worker;
    size_t want = (size_t)s->cfg->query_cache_size_mb * 1024u * 1024u /
                  (size_t)(w->proxy->nworkers > 0 ? w->proxy->nworkers : 1);
    if (qcache_limit(w->qcache) != want)
        qcache_set_limit(w->qcache, want);
}

bool qc_cacheable(struct session *s, const char *q, size_t len)
{
    if (!s->worker->qcache)
        return false;
    sync_limit(s); /* also when it went to 0: that empties the cache */
    if (s->cfg->query_cache_size_mb <= 0 || s->in_txn || s->pin || s->cmd_len != len + 5)
        return false;
    const char *ac = varset_get(&s->vars, "autocommit");
    if (ac && (strcasecmp(ac, "OFF") == 0 || strcmp(ac, "0") == 0))
        return false; /* the read would open a transaction */
    return router_stmt_is_read(q, len) && !has_user_var(q, len);
}

/* Builds the key of (session, q) in the worker's key buffer. */
static int build_key(struct session *s, const char *q, size_t len)
{
    struct codec_buf *k = &s->worker->qc_key;
    codec_buf_reset(k);
    uint8_t head[3] = {(s->caps & CLIENT_DEPRECATE_EOF_F) ? 1 : 0, (uint8_t)(s->charset & 0xff),
                       (uint8_t)(s->charset >> 8)};
    if (codec_buf_append(k, head, 3) != 0 ||
        codec_buf_append(k, s->username, strlen(s->username) + 1) != 0 ||
        codec_buf_append(k, s->schema, strlen(s->schema) + 1) != 0)
        return PROXY_ENOMEM;
    for (size_t i = 0; i < sizeof(key_vars) / sizeof(key_vars[0]); i++) {
        const char *v = varset_get(&s->vars, key_vars[i]);
        if (!v)
            v = "";
        if (codec_buf_append(k, v, strlen(v) + 1) != 0)
            return PROXY_ENOMEM;
    }
    return codec_buf_append(k, q, len) == 0 ? 0 : PROXY_ENOMEM;
}

bool qc_answer(struct session *s, const char *q, size_t len, uint64_t *rows)
{
    const uint8_t *data;
    size_t n;
    if (build_key(s, q, len) != 0 ||
        !qcache_get(s->worker->qcache, s->worker->qc_key.data, s->worker->qc_key.len, now_ms(),
                    &data, &n) ||
        n < sizeof(*rows))
        return false;
    memcpy(rows, data, sizeof(*rows));
    if (codec_buf_append(&s->out, data + sizeof(*rows), n - sizeof(*rows)) != 0)
        s->close_after_write = true;
    return true;
}

void qc_begin(struct session *s)
{
    s->qc_capture = s->cache_ttl > 0;
    s->qc_off = s->out.len;
    codec_buf_reset(&s->qc_buf);
    /* Room for the row count, filled in by qc_finish(). */
    uint64_t rows = 0;
    if (s->qc_capture && codec_buf_append(&s->qc_buf, &rows, sizeof(rows)) != 0)
        s->qc_capture = false;
}

void qc_abandon(struct session *s)
{
    s->qc_capture = false;
    if (s->qc_buf.cap > QC_BUF_KEEP)
        codec_buf_free(&s->qc_buf);
    else
        codec_buf_reset(&s->qc_buf);
}

void qc_take(struct session *s)
{
    if (!s->qc_capture)
        return;
    if (s->out.len < s->qc_off || s->resp.st == RS_INFILE) {
        qc_abandon(s);
        return;
    }
    size_t n = s->out.len - s->qc_off;
    if (s->qc_buf.len + n > QCACHE_ENTRY_MAX ||
        (n && codec_buf_append(&s->qc_buf, s->out.data + s->qc_off, n) != 0)) {
        qc_abandon(s); /* too big to be worth it: it streams on uncached */
        return;
    }
    s->qc_off = s->out.len;
}

void qc_finish(struct session *s)
{
    if (!s->qc_capture)
        return;
    qc_take(s);
    const struct resp *r = &s->resp;
    /* Warnings would be lost to a later SHOW WARNINGS; state changes and
     * transactions are not the cache's to replay. */
    bool clean = s->qc_capture && !r->error && r->warnings == 0 && !r->state_changed &&
                 !r->vars_reported && !(r->status & SERVER_STATUS_IN_TRANS_F) &&
                 !(r->status & SERVER_MORE_RESULTS_EXISTS_F);
    if (clean) {
        memcpy(s->qc_buf.data, &r->rows_sent, sizeof(r->rows_sent));
        size_t len = s->cmd_len - 5;
        if (build_key(s, (const char *)s->in.data + 5, len) != 0 ||
            qcache_put(s->worker->qcache, s->worker->qc_key.data, s->worker->qc_key.len,
                       s->qc_buf.data, s->qc_buf.len, now_ms(), (uint64_t)s->cache_ttl) != 0)
            slog_debug(s, "response of %zu bytes not cached", s->qc_buf.len);
    }
    qc_abandon(s);
}

/* ------------------------------------------------------------- timeout */

void backend_kill_query(struct session *s)
{
    if (!s->conn)
        return;
    int rc =
        proxy_kill_thread(&s->worker->loop, pool_conn_server_name(s->conn), pool_conn_user(s->conn),
                          s->user->password, pool_conn_thread_id(s->conn));
    if (rc != 0)
        slog_warn(s, "cannot start the kill of thread %lu on %s: %s", pool_conn_thread_id(s->conn),
                  pool_conn_server_name(s->conn), proxy_strerror(rc));
}
